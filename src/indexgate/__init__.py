"""indexgate: a CI resolution gate for private Python package indexes.

The layers, bottom up (each imports only those below it): the plain rules (``errors.py``,
``redact.py``, ``policy.py``, ``targets.py``); the report model and its renderings
(``report/``); the run's data (``settings.py``, ``credentials.py``); the index client
(``index/``); the inputs (``sources/``, ``config/``); the resolver (``resolver/``); the
drift run (``drift/``); then ``gate.py``, the one run every front door shares, with
``internal.py`` and ``workflow.py``; and the front doors: ``demo/``, ``cli.py`` and
``action.py``. The README's Layout section lists every module.
"""

__version__ = "0.1.0"
