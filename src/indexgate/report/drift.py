"""The drift section of the text output and of the job summary (``indexgate drift``).

Owns the rendering of drift only: the counts line, what a drift run checked
(``checked_pins``), and the sections (blocked or missing, yanked, stuck, hidden, upgrades,
shadowed, changes since the last run). The drift run itself is :mod:`indexgate.drift`.
This module imports the report model, the shared helpers of :mod:`indexgate.report.tables`
and the firewalls' vendor labels, never render.py (render.py calls into it).

Rows are read from the per-package ``DriftEntry`` of each target (its typed facts, which
are the JSON's), so the three outputs say the same thing. Identical rows of several
targets become one row.
The Markdown keeps itself small: counts first, the first rows of each table open, the
rest folded in ``<details>``, and beyond a byte budget rows are cut with a pointer to the
JSON report, so a summary for thousands of packages stays under GitHub's 1 MiB.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from indexgate.model import Report, vendor_label
from indexgate.report.tables import md, md_link, md_row, plural, text_table

if TYPE_CHECKING:
    from indexgate.drift_model import DriftEntry, ProbedFile

OPEN_ROWS = 20  # rows shown before the rest is folded
TEXT_ROWS = 200  # rows per section in the terminal
MD_BUDGET = 400_000  # bytes for the whole drift section of the summary


@dataclass
class Section:
    title: str
    header: Sequence[str]
    rows: list[tuple[str, ...]] = field(default_factory=list)  # plain text cells
    links: list[str | None] = field(default_factory=list)  # a details URL per row


def sections(report: Report) -> list[Section]:
    """Blocked or missing, yanked, stuck, hidden, upgrades, shadowed, changes: in that order."""
    multi = len(report.targets) > 1
    blocked = Section(
        "Blocked or missing pins", ["Package", "Pinned", "File", "Index", "Problem", "Source"]
    )
    yanked = Section("Yanked pins", ["Package", "Pinned", "File", "Index", "Reason", "Source"])
    stuck = Section(
        "Stuck in quarantine",
        ["Package", "Pinned", "Blocked versions", "Waiting since", "Newest allowed", "Firewall"],
    )
    hidden = Section(
        "Hidden by the index's page",
        ["Package", "Pinned", "Hidden versions", "Waiting since", "Index", "Upstream"],
    )
    upgrades = Section(
        "Upgrades available", ["Package", "Pinned", "Newest allowed", "Newest listed", "Source"]
    )
    shadowed = Section(
        "Shadowed names", ["Package", "Comes from", "Also on (highest first)", "Risk", "Source"]
    )
    grouped: dict[tuple[str, tuple[str, ...]], tuple[Section, str | None, list[str]]] = {}

    def add(section: Section, link: str | None, label: str, *cells: object) -> None:
        key = (section.title, tuple("" if c is None else str(c) for c in cells))
        grouped.setdefault(key, (section, link, []))[2].append(label)

    for t in report.targets:
        label = f"{t.python} {t.platform}"
        for e in t.drift or []:
            name, source, index = e.name, e.source, e.index
            pin = e.pin
            problem, link = _pin_problem(e)
            if problem:
                pinned, file = e.pinned, pin.file if pin else None
                add(blocked, link, label, name, pinned, file, index, problem, source)
            if pin and pin.yanked:
                add(
                    yanked,
                    None,
                    label,
                    name,
                    pin.version,
                    pin.file,
                    index,
                    pin.yanked_reason,
                    source,
                )
            if e.stuck:
                st = e.stuck
                since = _since(st.since, st.age_days)
                firewall = _firewall(_probe(e, st.versions[0]) if st.versions else None)
                allowed = e.newest_allowed or "none"
                versions = _few(st.versions)
                add(
                    stuck,
                    None,
                    label,
                    name,
                    e.pinned or "-",
                    versions,
                    since,
                    allowed,
                    firewall,
                )
            if e.hidden:
                hd = e.hidden
                versions = _few([v.version for v in hd.versions])
                since = _since(hd.since, hd.age_days)
                pinned = e.pinned or "-"
                add(hidden, None, label, name, pinned, versions, since, hd.index, hd.upstream)
            if e.upgrade:
                latest = e.latest
                newest = latest.version if latest else ""
                if newest and latest and latest.status not in ("allowed", "unprobed"):
                    newest += f" ({latest.status})"
                add(upgrades, None, label, name, e.pinned, e.upgrade, newest, source)
            if e.shadowed:
                sh = e.shadowed
                on = "; ".join(f"{o.index}: {_few(o.versions, 10)}" for o in sh.on)
                add(shadowed, None, label, name, sh.index, on, sh.severity, source)
    n = len(report.targets)
    for (_, cells), (section, link, labels) in grouped.items():
        targets = "all" if len(labels) == n else ", ".join(labels)
        section.rows.append((*cells, targets) if multi else cells)
        section.links.append(link)
    ordered = [blocked, yanked, stuck, hidden, upgrades, shadowed]
    for section in ordered if multi else ():
        section.header = [*section.header, "Targets"]
    return [*ordered, _changes(report)]


def _changes(report: Report) -> Section:
    section = Section("Changes since last run", ["Change", "Package", "Version", "File", "Index"])
    changes = report.changes or {}
    for key, label in (
        ("newly_blocked", "newly blocked"),
        ("released", "released from quarantine"),
        ("newly_published", "newly published"),
    ):
        for item in changes.get(key) or []:
            cells = (label, item.get("name"), item.get("version"), item.get("file"))
            section.rows.append(tuple(str(c or "") for c in (*cells, item.get("index"))))
            section.links.append(None)
    return section


def checked_pins(report: Report) -> str | None:
    """What a drift run checked: ``4 pins``, ``3 pins and 1 requirement``; None if no drift.

    A drift run counts what it was given to check, not what resolved: with a refused
    password nothing resolves, and "0 packages" would hide that every pin was looked at.
    """
    entries = [e for t in report.targets for e in t.drift or []]
    if not any(t.drift is not None for t in report.targets):
        return None
    pins = {(e.name, e.pinned) for e in entries if e.pinned}
    loose = {(e.name, e.requirement) for e in entries if not e.pinned}
    text = plural(len(pins), "pin")
    return f"{text} and {plural(len(loose), 'requirement')}" if loose else text


def counts(report: Report) -> str:
    """One line: how many pins, and how many in each section (and each kind of change).

    Without a previous report there is no "since last run" part: the Action's summary
    says so in a note of its own (a first run), rather than showing zero changes.
    """
    parts = [f"{checked_pins(report)} checked"]
    blocked, yanked, stuck, hidden, upgrades, shadowed, _ = sections(report)
    parts += [
        plural(len(blocked.rows), "blocked or missing pin"),
        plural(len(yanked.rows), "yanked pin"),
        f"{len(stuck.rows)} stuck in quarantine",
        f"{plural(len(upgrades.rows), 'upgrade')} available",
        plural(len(shadowed.rows), "shadowed name"),
    ]
    if hidden.rows:  # only where an index names its `upstream:`
        parts.insert(4, f"{len(hidden.rows)} hidden by the index's page")
    line = ", ".join(parts)
    if report.changes is not None:
        c = report.changes
        line += (
            f"; since last run: {len(c.get('newly_blocked') or [])} newly blocked, "
            f"{len(c.get('released') or [])} released from quarantine, "
            f"{len(c.get('newly_published') or [])} newly published"
        )
    return line


def drift_text(report: Report) -> str:
    if not any(t.drift is not None for t in report.targets):
        return ""
    out = [f"Drift: {counts(report)}"]
    for section in sections(report):
        if not section.rows:
            continue
        rows = section.rows[:TEXT_ROWS]
        out += [f"  {section.title}:", text_table(section.header, rows, "    ")]
        if len(section.rows) > len(rows):
            out.append(f"    … {len(section.rows) - len(rows)} more (see the JSON report)")
    return "\n".join(out) + "\n"


def drift_markdown(report: Report, budget: int = MD_BUDGET) -> str:
    if not any(t.drift is not None for t in report.targets):
        return ""
    secs = sections(report)
    head = f"### Quarantine drift\n\n**{md(counts(report))}**\n"
    longest = max((len(s.rows) for s in secs), default=0)
    cap = longest
    while True:
        text = "\n".join([head, *(_section_md(s, cap) for s in secs if s.rows)])
        if len(text.encode("utf-8")) <= budget or cap == 0:
            return text
        cap //= 2


def _section_md(section: Section, cap: int) -> str:
    rows = [_row_md(section, i) for i in range(min(len(section.rows), cap))]
    out = [f"#### {section.title} ({len(section.rows)})", ""]
    table = ["| " + " | ".join(section.header) + " |", "|" + "---|" * len(section.header)]
    if rows:
        out += table + rows[:OPEN_ROWS]
    folded = rows[OPEN_ROWS:]
    if folded:
        out += ["", "<details>", f"<summary>{len(folded)} more</summary>", ""]
        out += table + folded + ["", "</details>"]
    hidden = len(section.rows) - len(rows)
    if hidden:
        out += ["", f"_{hidden} more not shown: see the JSON report._"]
    return "\n".join(out) + "\n"


def _row_md(section: Section, i: int) -> str:
    cells = [md(c) for c in section.rows[i]]
    link = section.links[i]
    if link:
        problem = section.header.index("Problem")
        cells[problem] += f" ({md_link('details', link)})"
    return md_row(cells)


# --- cells --------------------------------------------------------------------------


def _probe(entry: DriftEntry, version: str) -> ProbedFile | None:
    return next((p for p in entry.probed if p.version == version), None)


def _firewall(probe: ProbedFile | None) -> str:
    if probe is None or not probe.vendor:
        return ""
    return f"{vendor_label(probe.vendor)}: {probe.reason or ''}".rstrip(": ")


def _pin_problem(entry: DriftEntry) -> tuple[str, str | None]:
    """What is wrong with the pinned file ("" when nothing), and a details URL."""
    pin = entry.pin
    if pin is None:
        return "", None
    problems, link = [], None
    if pin.status == "blocked":
        hit = _probe(entry, pin.version)
        problems.append(f"blocked by {_firewall(hit) or 'the index'}")
        link = hit.details_url if hit else None
    elif pin.status == "missing":
        problems.append("missing from the index" if pin.file else "version not listed")
    elif pin.status == "error":
        problems.append("could not be checked")
    if pin.hash == "mismatch":
        problems.append("hash mismatch")
    return "; ".join(problems), link


def _since(stamp: str | None, days: int | None) -> str:
    if not stamp:
        return "unknown (no upload-time)"
    return f"{stamp[:10]} ({plural(days or 0, 'day')})"


def _few(items: Iterable[str], n: int = 3) -> str:
    items = list(items)
    return ", ".join(items[:n]) + (f" (+{len(items) - n})" if len(items) > n else "")
