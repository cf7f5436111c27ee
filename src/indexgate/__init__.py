"""indexgate: a CI resolution gate for private Python package indexes.

The layers, bottom up, in the pipeline's order (each imports only those below it): the
plain rules and data (``errors.py``, ``redact.py``, ``policy.py``, ``targets.py``,
``model.py``: what a run produces, with ``drift_model.py``: a drift entry and its facts,
``settings.py``, ``credentials.py``) and the distribution formats (``dists/``); the
inputs (``sources/``, ``config/``); the index client (``index/``); the resolver
(``resolver/``) and the drift run (``drift/``); the report: the decision and its
renderings (``report/``); then ``gate.py``, the one run every front door shares, with
``internal.py`` and ``workflow.py``; and the front doors: ``demo/``, ``cli.py`` and
``action.py``. The README's Layout section lists every module.
"""

__version__ = "0.1.0"
