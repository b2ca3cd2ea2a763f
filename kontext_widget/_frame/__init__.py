"""The ad iframe (docs/protocol.md §6): where it is loaded from (``urls``) and what
its messages mean in Python (``inbound``, frame -> host, checked against the
vocabulary the TypeScript host shares, ``vocabulary.json``). The host -> frame
direction is spoken by the browser (``js/protocol.ts``); ``context`` is the
conversation it hands the creative in ``update-iframe``.
"""
