"""Everything indexgate asks of a package index, and nothing about what the answers mean
for the gate.

This package owns the network side: what an HTTP exchange means (``http.py``: retries,
redirects; ``origin_auth.py``: credentials per origin; ``limits.py``: deadlines and
throttling; ``cache.py``; ``responses.py``: its answers), company networks
(``network.py``) and carrying the bytes (``transport/``); reading project pages
(``simple.py``, with the page model in ``page.py`` and the readers in ``simple_json.py``,
``simple_html.py``), fetching core metadata (the formats themselves are
``indexgate.dists``), what a repository firewall says when it refuses a file
(``firewall.py``), proving credentials (``authcheck.py``), and the client the resolver and
drift call (``client.py``; its pages in ``client_pages.py``, metadata and probes in
``client_files.py``, shared result types in ``client_types.py``). The plain data it hands
back is ``indexgate.dists.models`` and ``indexgate.model``.
"""
