"""Everything indexgate asks of a package index, and nothing about what the answers mean
for the gate.

This package owns the network side: what an HTTP exchange means (``http.py``: retries,
redirects; ``origin_auth.py``: credentials per origin; ``limits.py``: deadlines and
throttling; ``cache.py``), company networks (``network.py``), token providers
(``credentials.py``) and carrying the bytes (``transport/``); reading project pages
(``simple.py``, with the page model in ``page.py`` and the readers in ``simple_json.py``,
``simple_html.py``), core metadata (``metadata.py``, ``wheelzip.py``, ``build.py``), what a
repository firewall says when it refuses a file (``firewall.py``), proving credentials
(``authcheck.py``), and the client the resolver and drift call (``client.py``) with the
plain data it hands back (``models.py``).
"""
