"""Everything indexgate asks of a package index, and nothing about what the answers mean
for the gate.

This package owns the network side: HTTP with credentials, retries, deadlines and a
persistent cache (``http.py``, ``wire.py``, ``cache.py``, ``network.py``, ``credentials.py``),
reading project pages (``simple.py``), core metadata (``metadata.py``, ``wheelzip.py``,
``build.py``), what a repository firewall says when it refuses a file (``firewall.py``),
proving credentials (``authcheck.py``), and the client the resolver and drift call
(``client.py``) with the plain data it hands back (``models.py``).
"""
