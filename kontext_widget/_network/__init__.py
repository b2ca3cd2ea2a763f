"""Talking to the ad server (docs/protocol.md §2-§5): the shared I/O loop, the HTTP
client with its bounds, the transport under it, and one module per endpoint.

``io_loop`` owns the one asyncio thread (on ``selector``, whose timers are not
rounded to milliseconds) and the one connection pool of the process; ``client``
sends a request with retries and reads a bounded answer (``bounded_body``);
``asyncio_stream`` and ``warm`` are the transport under httpx (connections
opened ahead of need). ``init``, ``preload`` and
``reports`` (``/error``, ``/debug``) each build their endpoint's body, send it
and turn the answer into a typed outcome; ``wire`` holds the types and the
tolerant decoding they share. Nothing here knows about sessions or widgets.
"""
