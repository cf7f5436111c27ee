"""``indexgate demo``: the whole gate against two local indexes, with no network and no setup.

It shows the two things indexgate exists for. With the right credentials the gate passes,
names every artifact the private index's firewall quarantined (in the Nexus Firewall, JFrog
Curation and JFrog Xray formats) and says which version it chose instead. With a wrong
password it fails with an auth failure on the private index instead of falling through to the
public one, which holds a same-named "malicious" ``acme-core 99.0.0`` (dependency confusion).
Everything lives in a temporary folder and on 127.0.0.1, and is gone when it returns.
"""

from __future__ import annotations

import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from indexgate.demo.firewall_responses import FirewallRule
from indexgate.demo.server import IndexServer, ServerConfig
from indexgate.demo.wheels import build_wheel
from indexgate.gate import GateResult, run
from indexgate.model import Report
from indexgate.report.render import render_markdown, render_text

USER = "ci-bot"
TOKEN_VAR = "ACME_INDEX_TOKEN"

# name, version, Requires-Dist
PRIVATE: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("acme-core", "1.0.0", ()),
    ("acme-core", "1.1.0", ()),
    ("acme-core", "1.2.0", ()),
    ("acme-web", "2.0.0", ("acme-core>=1.0", "urllib3>=2")),
    ("acme-web", "2.1.0", ("acme-core>=1.1", "urllib3>=2")),
    ("urllib3", "2.5.0", ()),
    ("urllib3", "2.6.0", ()),
)
PUBLIC: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("acme-core", "99.0.0", ()),  # the look-alike an attacker published on the public index
    ("six", "1.16.0", ()),
    ("six", "1.17.0", ()),
)
CURATION_POLICY = {
    "policy": "block-new-releases",
    "condition": "Package version is younger than 14 days",
    "explanation": "New releases wait for a security review",
    "remediation": "Use an older version or ask the security team for an exception",
}
FIREWALL: dict[str, FirewallRule | str] = {
    # Nexus Firewall refuses the metadata and the wheel, with its reason phrase.
    "acme_core-1.2.0-py3-none-any.whl": FirewallRule(
        "nexus",
        details_url="https://iq.example.com/ui/links/repositories/quarantinedComponent/7f3a9c",
    ),
    # JFrog Curation serves the .metadata file but blocks the wheel itself.
    "acme_web-2.1.0-py3-none-any.whl": FirewallRule(
        "curation", block="file", policies=(CURATION_POLICY,)
    ),
    # JFrog Xray blocks a proxied public package.
    "urllib3-2.6.0-py3-none-any.whl": FirewallRule("xray", repo="pypi-remote"),
}
REQUIREMENTS = """\
# Internal packages, served by the private index only.
acme-web>=2.0
acme-core>=1.0
# A public package: the private index answers 404 for it, so the public index is asked.
six>=1.16
"""
CONFIG = """\
# indexgate's config: the private index first; the public one is the default (last).
index-strategy: first-index
indexes:
  - name: private
    url: {private}
    username: {user}
    password: ${{{token_var}}}   # read from the environment; unset is an error (exit 2)
    quarantine-codes: [403]
  - name: public
    url: {public}
    default: true
"""


@dataclass
class DemoIndexes:
    private: IndexServer
    public: IndexServer
    token: str


@contextmanager
def demo_indexes(root: Path) -> Iterator[DemoIndexes]:
    """Build the wheels under ``root`` and serve them; stopped again on exit."""
    for folder, packages in (("private", PRIVATE), ("public", PUBLIC)):
        for name, version, requires in packages:
            build_wheel(root / folder, name, version, requires_dist=requires)
    token = secrets.token_urlsafe(16)
    private = IndexServer(
        root / "private", ServerConfig(basic_auth=(USER, token), firewall=dict(FIREWALL))
    )
    public = IndexServer(root / "public")
    with private, public:
        yield DemoIndexes(private, public, token)


def write_project(root: Path, indexes: DemoIndexes) -> Path:
    """The example repository: a requirements.txt and .github/indexgate.yml."""
    project = root / "project"
    (project / ".github").mkdir(parents=True)
    (project / "requirements.txt").write_text(REQUIREMENTS)
    config = CONFIG.format(
        private=indexes.private.url, public=indexes.public.url, user=USER, token_var=TOKEN_VAR
    )
    (project / ".github" / "indexgate.yml").write_text(config)
    return project


def run_gate(project: Path, token: str, root: Path) -> GateResult:
    """``indexgate check`` in the project, with only the token in its environment."""
    env = {TOKEN_VAR: token, "NETRC": str(root / "no-netrc")}
    return run(["check"], cwd=project, env=env)


def check_pass(outcome: GateResult) -> list[str]:
    """What is wrong with run 1 (right credentials); empty when it is as expected."""
    report = outcome.report
    if outcome.exit_code != 0:
        return [f"run 1 exited {outcome.exit_code}, expected 0 (pass)"]
    problems = []
    vendors = {b.vendor for t in report.targets for b in t.blocked}
    for vendor in ("nexus-firewall", "jfrog-curation", "jfrog-xray"):
        if vendor not in vendors:
            problems.append(f"run 1 names no artifact blocked by {vendor}")
    if any(b.fallback is None for t in report.targets for b in t.blocked):
        problems.append("run 1 did not backtrack past every blocked artifact")
    core = {
        (r.version, r.index) for t in report.targets for r in t.resolution if r.name == "acme-core"
    }
    if core != {("1.1.0", "private")}:
        problems.append(f"run 1 chose acme-core {core}, expected 1.1.0 from the private index")
    return problems


def check_fail(outcome: GateResult, public: IndexServer) -> list[str]:
    """What is wrong with run 2 (wrong password); empty when it is as expected."""
    report = outcome.report
    if outcome.exit_code != 1:
        return [f"run 2 exited {outcome.exit_code}, expected 1 (fail)"]
    problems = []
    errors = [e for t in report.targets for e in t.errors]
    if not any(e.kind == "auth-failure" and e.index == "private" for e in errors):
        problems.append("run 2 reported no auth failure on the private index")
    asked = [e.path for e in public.access_log.entries() if "/acme-" in e.path]
    if asked:
        problems.append(f"run 2 fell through to the public index: {', '.join(asked)}")
    return problems


def _heading(title: str) -> str:
    return f"\n{'=' * 78}\n{title}\n{'=' * 78}\n"


def _show(title: str, report: Report) -> str:
    return (
        _heading(f"{title}: text report")
        + render_text(report)
        + _heading(f"{title}: Markdown job summary")
        + render_markdown(report)
    )


def main() -> int:
    """Run the demo; 0 when both runs came out as they should, else 1."""
    started = time.monotonic()
    out = sys.stdout
    with tempfile.TemporaryDirectory(prefix="indexgate-demo-") as tmp:
        root = Path(tmp)
        with demo_indexes(root) as indexes:
            project = write_project(root, indexes)
            out.write(
                _heading("indexgate demo: two local indexes on 127.0.0.1, no network")
                + f"private index {indexes.private.url}  (basic auth; a repository firewall "
                "quarantines acme-core 1.2.0 [Nexus Firewall], acme-web 2.1.0 [JFrog Curation], "
                "urllib3 2.6.0 [JFrog Xray])\n"
                f"public index  {indexes.public.url}  (six, and a look-alike acme-core 99.0.0)\n"
                f"\nrequirements.txt:\n{REQUIREMENTS}\n.github/indexgate.yml:\n"
                + (project / ".github" / "indexgate.yml").read_text()
            )

            first = run_gate(project, indexes.token, root)
            out.write(
                _show("Run 1: right credentials (expected: PASS, blocked named)", first.report)
            )
            indexes.public.access_log.clear()  # what run 2 asks the public index, alone
            wrong = run_gate(project, "wrong-" + indexes.token, root)
            out.write(_show("Run 2: wrong password (expected: FAIL, auth failure)", wrong.report))

            problems = check_pass(first) + check_fail(wrong, indexes.public)
            shown = render_text(first.report) + render_text(wrong.report)
            shown += render_markdown(first.report) + render_markdown(wrong.report)
            if indexes.token in shown:
                problems.append("a credential appeared in a report")
    seconds = time.monotonic() - started
    out.write(_heading("Result"))
    if problems:
        out.write("".join(f"UNEXPECTED: {p}\n" for p in problems))
        return 1
    out.write(
        "As expected: run 1 PASSED with every blocked artifact named and the resolution "
        "backtracked;\nrun 2 FAILED with an auth failure on the private index and never asked "
        f"the public index for acme-*.\n(done in {seconds:.1f} s; temporary files removed, "
        "servers stopped)\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
