"""What a run found, as data and as text: the report every front door shows.

This package owns the report model (``model.py``), the JSON report file
(``json_report.py``), the text and Markdown renderings (``render.py``), and the writer of
the Markdown summary file that the CLI and the Action share (``summary.py``).
"""
