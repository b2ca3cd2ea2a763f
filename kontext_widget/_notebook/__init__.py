"""The notebook kit around the SDK: chat turns that render a reply with its ad
(``chat``, ``chat_async``), the live event log widget (``event_log``), the
placement playground (``playground``) and the ``kontext-widget demo`` command
(``demo``). The core (session, ad, network) never imports from here.
"""
