"""Render a :class:`Report` as terminal text and the GitHub job summary (Markdown).

Owns the layout of both: the status line, "Failed by fail-on" (read from the record
report/outcome.py wrote), errors, blocked artifacts, warnings, the resolution, and the
summary's 1 MiB budget. The drift section is :mod:`indexgate.report.drift`'s, the JSON is
:mod:`indexgate.report.json_report`'s (so a run that only writes JSON does not import these
renderers). Every renderer reads the same model, so the outputs can never disagree. Text
that comes from outside (firewall reasons, error messages, file names) goes through the
escaping helpers of :mod:`indexgate.report.tables`, because a hostile or merely odd index
must not be able to break a table, inject HTML into the job summary or send escape
sequences to a terminal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from indexgate.model import (
    Blocked,
    Problem,
    Report,
    Resolved,
    TargetReport,
    state_advice,
    vendor_label,
)
from indexgate.policy import FAIL_ON
from indexgate.report.drift import checked_pins, drift_markdown, drift_text
from indexgate.report.tables import flat, md, md_link, md_row, plural, text_table

if TYPE_CHECKING:  # a check has no drift entry: the class loads with drift only
    from indexgate.drift_model import DriftEntry

__all__ = ["dependency_path", "fail_on_reasons", "render_markdown", "render_text"]

_T = TypeVar("_T")

_EMOJI = {"pass": "✅", "fail": "❌", "error": "⚠️"}
# A resolution's ``requested_by`` entry: a parent package ("acme-web 2.0.0") or a place.
_PARENT = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])? (?P<version>\S+)$")
_PLACE = re.compile(r"^(?P<file>.+?)(?::(?P<line>\d+))?$")


# --- shared helpers ---------------------------------------------------------------------


def _label(t: TargetReport) -> str:
    return f"Python {t.python} on {t.platform}"


def _counts(report: Report) -> str:
    packages = {r.name for t in report.targets for r in t.resolution}
    errors = sum(len(t.errors) for t in report.targets)
    checked = checked_pins(report)
    parts = [
        plural(len(report.targets), "target"),
        f"{checked} checked" if checked is not None else plural(len(packages), "package"),
        f"{report.blocked_count} blocked",
    ]
    if errors:
        parts.append(plural(errors, "error"))
    return ", ".join(parts)


def _where(p: Problem) -> str:
    if p.file is None:
        return ""
    return p.file if p.line is None else f"{p.file}:{p.line}"


def _policies(b: Blocked) -> list[str]:
    """One line per violated policy (JFrog Curation), e.g. ``policy X: condition; fix``.

    Curation's reason usually names the policy already ("... policy block-new-releases");
    then the line gives only what the policy says, so the name is not read twice.
    """
    lines = []
    for p in b.policies:
        head = p.get("policy") or "policy"
        rest = [p[k] for k in ("condition", "explanation", "remediation") if p.get(k)]
        named = p.get("policy") and p["policy"] in (b.reason or "")
        if named and rest:
            lines.append("; ".join(rest))
        elif not named:
            lines.append(f"policy {head}: {'; '.join(rest)}" if rest else f"policy {head}")
    return lines


def dependency_path(t: TargetReport, name: str) -> tuple[list[str], str | None, int | None]:
    """How the resolution came to ``name``: the packages above it, top first, and the place
    (file, line) that asked for the top one. ``([], file, line)`` for a direct requirement.

    Read from the resolution's ``requested_by``; the first parent is followed, so the path
    is one way the package was pulled in (the one a reader can check in the lock or tree).
    """
    by_name = {r.name: r for r in t.resolution}
    path: list[str] = []
    current = name
    while (r := by_name.get(current)) is not None:
        parents = [m["name"] for m in map(_PARENT.match, r.requested_by) if m]
        places = [p for p in r.requested_by if not _PARENT.match(p)]
        if places or not parents or parents[0] in path or parents[0] == name:
            place = _PLACE.match(places[0]) if places else None
            if place is None:
                return path, None, None
            line = place["line"]
            return path, place["file"], int(line) if line else None
        current = parents[0]
        path.insert(0, current)
    return path, None, None


def _blocked_target(report: Report, b: Blocked) -> TargetReport | None:
    return next((t for t in report.targets if b in t.blocked), None)


def _package_label(report: Report, b: Blocked) -> str:
    """``urllib3`` for a direct requirement, ``urllib3 via acme-web`` for a transitive one."""
    t = _blocked_target(report, b)
    path = dependency_path(t, b.name)[0] if t is not None else []
    return f"{b.name} via {' → '.join(path)}" if path else b.name


def fail_on_reasons(report: Report) -> list[tuple[str, list[str]]]:
    """The ``fail-on`` rules that failed the gate, each with what tripped it.

    Read from the record report/outcome.py wrote when it decided each target's status
    (``fail_on`` on warnings, blocked artifacts and drift entries), so this says what
    actually failed the gate. Empty unless the gate failed: a gate that fails on a rule
    must say which one, or "chose 2.0.0 instead" reads like a success.
    """
    if report.status != "fail":
        return []
    blocked = [b for t in report.targets for b in t.blocked if b.fatal]
    warnings = [w for t in report.targets for w in t.warnings if w.fatal]
    entries = [e for t in report.targets for e in t.drift or [] if e.fatal]
    out: list[tuple[str, list[str]]] = []
    for rule in FAIL_ON:
        hits = [
            f"{_package_label(report, b)} {b.version} ({b.file})"
            for b in blocked
            if rule in (b.fail_on or ())
        ]
        hits += [_entry_hit(e, rule) for e in entries if rule in (e.fail_on or ())]
        hits += [
            f"{w.package or w.index or ''} ({w.kind})".strip()
            for w in warnings
            if rule in (w.fail_on or ())
        ]
        if unique := list(dict.fromkeys(hits)):
            out.append((rule, unique))
    return out


def _entry_hit(entry: DriftEntry, rule: str) -> str:
    """A drift entry that failed the gate under ``rule``, e.g. ``acme 1.0 (stuck ...)``."""
    if rule == "shadowed":
        return f"{entry.name} (shadowed name)"
    what = "stuck in quarantine" if entry.stuck else "hidden by the index's page"
    return f"{entry.name} {entry.pinned or ''}".strip() + f" ({what})"


def _grouped(report: Report, items: Callable[[TargetReport], Sequence[_T]]) -> list[tuple[_T, str]]:
    """Merge identical items across targets, each with the targets it occurs in.

    The same blocked wheel or auth failure usually shows up for every target; listing it
    once with "all" keeps the tables short.
    """
    seen: dict[str, tuple[_T, list[str]]] = {}
    for t in report.targets:
        for item in items(t):
            seen.setdefault(repr(item), (item, []))[1].append(f"{t.python} {t.platform}")
    n = len(report.targets)
    return [(item, "all" if len(ts) == n else ", ".join(ts)) for item, ts in seen.values()]


# --- text -------------------------------------------------------------------------------


def _problems_text(problems: Sequence[Problem], indent: str) -> str:
    rows = [(p.kind, p.package, p.index, _where(p), p.message) for p in problems]
    return text_table(("KIND", "PACKAGE", "INDEX", "WHERE", "MESSAGE"), rows, indent)


def _reason_text(b: Blocked) -> str:
    parts = [state_advice(b.state), flat(b.reason)]
    parts += [flat(p) for p in _policies(b)]
    if b.details_url:
        parts.append(f"details: {flat(b.details_url)}")
    return " | ".join(p for p in parts if p)


def _blocked_text(
    blocked: Sequence[Blocked], indent: str, label: Callable[[Blocked], str] = lambda b: b.name
) -> str:
    # The reason goes last: it is the long, free-text column.
    header = ("PACKAGE", "BLOCKED", "FILE", "FIREWALL", "CHOSEN INSTEAD", "REASON")
    rows = [
        (label(b), b.version, b.file, vendor_label(b.vendor), b.fallback or "none", _reason_text(b))
        for b in blocked
    ]
    return text_table(header, rows, indent)


def _resolution_text(resolution: Sequence[Resolved], indent: str) -> str:
    rows = [(f"{r.name}=={r.version}", r.index, r.file) for r in resolution]
    return text_table(("PACKAGE", "INDEX", "FILE"), rows, indent)


def render_text(report: Report) -> str:
    """Terminal output: per target, what is wrong first, then what was blocked, then the result.

    A failure that ``fail-on`` caused says so (from the report's record of what was fatal).
    """
    out = [f"indexgate {report.command}: {report.status.upper()} ({_counts(report)})"]
    for rule, hits in fail_on_reasons(report):
        out.append(f"Failed by fail-on: {rule}: {'; '.join(flat(h) for h in hits)}")
    if report.warnings:
        out += ["", "Warnings (all targets):", _problems_text(report.warnings, "  ")]
    seen_blocked: dict[str, str] = {}
    seen_resolution: dict[str, str] = {}
    for t in report.targets:
        label = _label(t)
        out += ["", f"{label}: {t.status.upper()}"]
        if t.errors:
            out += ["  Errors:", _problems_text(t.errors, "    ")]
        if t.warnings:
            out += ["  Warnings:", _problems_text(t.warnings, "    ")]
        if t.blocked:
            first = seen_blocked.setdefault(repr(t.blocked), label)
            if first != label:
                out.append(f"  Blocked artifacts: same as {first}")
            else:
                name_of = lambda b: _package_label(report, b)  # noqa: E731
                out += ["  Blocked artifacts:", _blocked_text(t.blocked, "    ", name_of)]
        if t.resolution:
            first = seen_resolution.setdefault(repr(t.resolution), label)
            if first != label:
                out.append(f"  Resolution: same resolution as {first}")
            else:
                out += ["  Resolution:", _resolution_text(t.resolution, "    ")]
        elif not t.errors:
            out.append("  Resolution: nothing to install")
    drift = drift_text(report)
    if drift:
        out += ["", drift.rstrip("\n")]
    return "\n".join(out) + "\n"


# --- Markdown ---------------------------------------------------------------------------


def _code(text: str) -> str:
    """An inline code span that survives backticks in ``text``."""
    runs = [len(r) for r in re.findall(r"`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    return f"{fence} {text} {fence}" if runs else f"`{text}`"


@dataclass
class _MdTable:
    """A titled table whose rows can be capped when the summary must shrink."""

    title: str
    header: Sequence[str]
    rows: list[str]

    def render(self, cap: int | None = None) -> str:
        shown = self.rows if cap is None else self.rows[:cap]
        out = [f"### {self.title}", ""]
        if shown:
            out += ["| " + " | ".join(self.header) + " |", "|" + "---|" * len(self.header)]
            out += shown
        hidden = len(self.rows) - len(shown)
        if hidden:
            more = " more" if shown else ""
            out += [""] * bool(shown) + [
                f"_{hidden}{more} {'row' if hidden == 1 else 'rows'} not shown._"
            ]
        return "\n".join(out) + "\n"


def _problems_md(title: str, items: list[tuple[Problem, str]], multi: bool) -> _MdTable | None:
    if not items:
        return None
    header = ["Kind", "Package", "Index", "Status", "Where", "Message"]
    rows = []
    for p, targets in items:
        cells = [md(p.kind), md(p.package), md(p.index), md(p.status_code), md(_where(p))]
        cells.append(md(p.message))
        rows.append(md_row([*cells, md(targets)] if multi else cells))
    return _MdTable(title, [*header, "Targets"] if multi else header, rows)


def _reason_md(b: Blocked) -> str:
    parts = [f"**{md(state_advice(b.state))}**", md(b.reason)]
    parts += [md(p) for p in _policies(b)]
    cell = "<br>".join(p for p in parts if p)
    link = md_link("details", b.details_url)
    return f"{cell} ({link})" if cell and link else cell or link


def _blocked_md(report: Report, multi: bool, *, pending: bool = False) -> _MdTable | None:
    """Blocked (and waivable) artifacts; with ``pending``, those whose scan is not done."""
    items = [
        i for i in _grouped(report, lambda t: t.blocked) if (i[0].state == "pending") == pending
    ]
    if not items:
        return None
    header = ["Package", "Version", "File", "Index", "Firewall", "Reason", "Chosen instead"]
    rows = []
    for b, targets in items:
        cells = [md(_package_label(report, b)), md(b.version), md(b.file), md(b.index)]
        cells += [md(vendor_label(b.vendor)), _reason_md(b), md(b.fallback or "none")]
        rows.append(md_row([*cells, md(targets)] if multi else cells))
    title = "Scans in progress: try again later" if pending else "Blocked artifacts"
    return _MdTable(title, [*header, "Targets"] if multi else header, rows)


def _fail_on_md(report: Report) -> str:
    """Which ``fail-on`` rule failed the gate, and on what; "" when none did."""
    reasons = fail_on_reasons(report)
    if not reasons:
        return ""
    out = ["### Failed by `fail-on`", ""]
    for rule, hits in reasons:
        shown = ", ".join(md(h) for h in hits[:20])
        more = f" and {len(hits) - 20} more" if len(hits) > 20 else ""
        out.append(f"- `fail-on: {rule}` ({plural(len(hits), 'finding')}): {shown}{more}")
    return "\n".join(out) + "\n"


def _details_md(t: TargetReport) -> str:
    summary = f"{md(_label(t))}: {t.status.upper()} ({plural(len(t.resolution), 'package')})"
    out = ["<details>", f"<summary>{summary}</summary>", ""]
    if t.resolution:
        out += ["| Package | Version | Index | File | Requested by |", "|---|---|---|---|---|"]
        for r in t.resolution:
            cells = [md(r.name), md(r.version), md(r.index), md(r.file)]
            out.append(md_row([*cells, md(", ".join(r.requested_by))]))
    else:
        out.append("No resolution.")
    out += ["", "</details>"]
    return "\n".join(out) + "\n"


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def render_markdown(
    report: Report,
    *,
    max_bytes: int = 1_000_000,
    report_path: str | None = None,
    notes: Sequence[str] = (),
) -> str:
    """The GitHub job summary, kept under ``max_bytes`` (the runner rejects more than 1 MiB).

    Order is fixed: status and counts, ``notes`` (Markdown from the caller, e.g. "no
    previous report"), which ``fail-on`` rule failed the gate, errors, blocked artifacts,
    warnings, drift, then the per-target resolution folded in ``<details>``. When too large,
    resolution details go first (last target first), then table rows beyond a common cap,
    and a note says so.
    """
    multi = len(report.targets) > 1
    head = (
        f"## {_EMOJI[report.status]} indexgate {report.command}: {report.status.upper()}"
        f" ({_counts(report)})\n"
    )
    head += "".join(f"\n{note.rstrip()}\n" for note in notes)
    if failed_by := _fail_on_md(report):
        head += "\n" + failed_by
    warnings = [(w, "all") for w in report.warnings] + _grouped(report, lambda t: t.warnings)
    tables = [
        table
        for table in (
            _problems_md("Errors", _grouped(report, lambda t: t.errors), multi),
            _blocked_md(report, multi),
            _blocked_md(report, multi, pending=True),
            _problems_md("Warnings", warnings, multi),
        )
        if table is not None
    ]
    drift = drift_markdown(report)
    details = [_details_md(t) for t in report.targets]

    def assemble(kept: int, cap: int | None) -> str:
        parts = [head, *(table.render(cap) for table in tables)]
        if drift:
            parts.append(drift)
        if details:
            parts.append("### Resolution\n")
            parts += details[:kept]
            if kept < len(details):
                parts.append(
                    f"_Resolution of {plural(len(details) - kept, 'target')} not shown._\n"
                )
        return "\n".join(parts)

    full = assemble(len(details), None)
    if _size(full) <= max_bytes:
        return full

    where = _code(report_path) if report_path else "the JSON report (`--report-json`)"
    note = (
        "\n---\n\n_Summary truncated to fit GitHub's 1 MiB limit;"
        f" the full report is in {where}._\n"
    )
    budget = max_bytes - _size(note)

    for kept in range(len(details) - 1, -1, -1):
        text = assemble(kept, None)
        if _size(text) <= budget:
            return text + note

    # Largest row cap that fits: a common cap shortens the longest tables first.
    lo, hi = -1, max((len(t.rows) for t in tables), default=0)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _size(assemble(0, mid)) <= budget:
            lo = mid
        else:
            hi = mid - 1
    if lo >= 0:
        return assemble(0, lo) + note

    # Last resort (huge single cells or drift): cut at a line boundary; the head stays first.
    cut = assemble(0, 0).encode("utf-8")[: max(budget, 0)].decode("utf-8", errors="ignore")
    cut = cut[: cut.rfind("\n") + 1] if "\n" in cut else cut
    return (cut + note).encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")


def render_stopped(report: Report, problem: Problem, report_path: str) -> str:
    """The job summary of a run that stopped before a result (bad input, an unreachable
    index, a bug): what stopped it and where, and where the JSON report is."""
    where = f" (`{problem.file}:{problem.line}`)" if problem.file and problem.line else ""
    where = where or (f" (`{problem.file}`)" if problem.file else "")
    text = problem.message.replace("\n", " ").replace("|", "\\|").replace("<", "&lt;")
    return (
        f"## {'❌' if report.status == 'fail' else '⚠️'} indexgate {report.command}: "
        f"{report.status.upper()}\n\n"
        f"**{problem.kind}**{where}: {text}\n\n"
        f"The gate could not run. Details: `{report_path}`.\n"
    )
