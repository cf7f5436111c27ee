"""The report: what a run found, the gate's verdict on it, and its three renderings.

The data model itself (targets, resolution, blocked artifacts, errors, warnings, drift
entries, and the words for a blocked artifact's vendor and state) is ``indexgate.model``,
at the bottom of the layers: the index client and the resolver build it, this package
decides and renders.

- ``outcome.py``: the gate's outcome: ``--fail-on`` rules, each target's status, and the
  record of what was fatal, decided once and read by every output.
- ``json_report.py``: the contract JSON and its atomic, world-readable file write.
- ``render.py``: the terminal text and the GitHub job summary (Markdown), and the summary
  of a run that stopped before a result.
- ``drift.py``: the drift section of both.
- ``tables.py``: the table and escaping helpers the renderers share.
- ``summary.py``: the summary file the CLI and the Action both write, within GitHub's
  1 MiB limit and readable by the runner's other users.

Nothing here touches the network or the settings: the run hands over a finished model.
"""
