"""Talking to the ad server (docs/protocol.md §2-§5): the shared I/O loop, the HTTP
client with its bounds, the transport under it, and the wire types.

``io_loop`` owns the one asyncio thread and the one connection pool of the
process; ``client`` sends a request with retries and reads a bounded answer
(``bounded_body``); ``asyncio_stream`` and ``warm`` are the transport under
httpx (connections opened ahead of need); ``wire`` builds request bodies and
decodes answers into typed values. Nothing here knows about sessions or widgets.
"""
