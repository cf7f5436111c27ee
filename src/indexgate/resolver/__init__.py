"""The resolution: which version of each requirement, from which index, for each target.

This package owns the index strategies (``finder.py``), resolvelib's requirements and
candidates (``candidates.py``) and provider (``provider.py``, with its file selection in
``files.py``, found candidates in ``found.py``, prefetch in ``prefetch.py``, dead
versions in ``dead.py`` and what a target saw besides its answer in ``findings.py``),
the event loop that lets the synchronous resolver wait on async fetches
(``fetch_loop.py``), ``check``, which resolves every target and hands the findings over
as a report, decided later by ``report.outcome`` (``resolve.py``, with the resolver's
reporter of conflicts in ``conflicts.py``, imported only when a target is resolved, and
resolvelib's resolver with each pin's check remembered in ``pins.py``), and the reuse of
the previous outcome when nothing it depended on changed (``reuse.py``).
"""
