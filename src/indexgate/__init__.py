"""indexgate: a CI resolution gate for private Python package indexes.

The layers, bottom up: requirement sources (``sources/``) and settings (``config.py``,
``policy.py``, ``targets.py``); the index client (``index/``); the resolver (``resolver/``)
and the drift report; the report (``report/``); then ``gate.py``, the one run every front
door shares, and the front doors: ``cli.py``, ``action.py`` and ``demo/``.
"""

__version__ = "0.1.0"
