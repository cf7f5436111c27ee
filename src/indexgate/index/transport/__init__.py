"""How indexgate's HTTP requests reach the wire: one ``Transport`` protocol, chosen per origin.

This package owns carrying an exchange: connections, TLS, proxies, HTTP/1.1 framing,
HTTP/2 on the h2 state machine, ``file://``. ``indexgate.index.http.HttpClient`` owns what an
exchange means (retries, deadlines, throttling, redirects, credentials, the cache) and
talks to this package only through ``Transport.exchange``.

- ``base``: the ``Transport`` protocol, ``Request``, ``RawResponse``, the errors;
- ``headers``: ``Headers``;
- ``router``: ``Router``, the run's transport: per origin, the one below, with the
  origin's TLS context and proxy (``indexgate.index.network``);
- ``http11`` (``Pool``), ``http11_parser``, ``tunnel``: the lean HTTP/1.1 client, its
  message parser, and CONNECT tunnels through proxies;
- ``http2``, ``http2_connection``: the lean HTTP/2 client (h2 on an asyncio protocol), for
  origins whose TLS server picks HTTP/2 by ALPN (the tests' httpx mock sits at the same seam);
- ``files``: ``file://``, read from disk.

Tests put their own transport at the same seam (``tests/support/mock_transport.py``).
"""
