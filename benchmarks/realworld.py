"""Resolve real requirement sets against the real public index with indexgate and uv.

    pip install -e '.[bench]'
    python benchmarks/realworld.py                      # every set in benchmarks/corpus/
    python benchmarks/realworld.py web-django fastapi-sentry --markdown

Opt-in, needs the network: not part of CI. The index is the public one pip uses by
default, derived at run time from pip itself (or ``--index-url``).

For each set (``benchmarks/corpus/<name>.txt``, a plain requirements file), in the same
run: ``uv pip compile`` and ``indexgate check``, each cold (a fresh, empty cache
directory), as child processes, after one untimed run of both (``--no-prime`` skips it:
a proxy or CDN between this machine and the index would otherwise make the first tool of
each set pay for both tools' first fetches), the median of ``--repeat`` runs. It prints
wall time, CPU time (user + system) and peak RSS of each, their ratios, whether the
``name==version`` pins are identical, and the geometric mean of the cold wall ratios.
Exit 1 when any set crashed, failed, differed from uv or exceeded 300 MB.

Trust: indexgate runs without any certificate variable (``SSL_CERT_FILE``,
``REQUESTS_CA_BUNDLE``, ...), so the run proves it trusts the operating system's store by
itself; uv gets the same environment and its system-certificates option.

A set may carry options for one tool in comment lines that pip and uv ignore:
``#: indexgate: --allow-build`` or ``#: uv: --no-build``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from packaging.utils import canonicalize_name

sys.path.insert(0, str(Path(__file__).parent))

CORPUS = Path(__file__).parent / "corpus"
RSS_LIMIT_MB = 300
# Variables that would hand either tool a CA bundle: the run must work without them.
CERT_VARS = (
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "PIP_CERT",
    "NIX_SSL_CERT_FILE",
    "HTTPLIB2_CA_CERTS",
    "AWS_CA_BUNDLE",
    "INDEXGATE_CERT",
    "UV_NATIVE_TLS",
    "UV_SYSTEM_CERTS",
)
# Targets both tools name the same way: indexgate's --platform -> uv's --python-platform.
UV_PLATFORMS = {
    "linux_x86_64": "x86_64-manylinux_2_39",  # GitHub's ubuntu-latest runner
    "linux_aarch64": "aarch64-manylinux_2_39",
    "win_amd64": "x86_64-pc-windows-msvc",
}
DEFAULT_TARGET = "3.12:linux_x86_64"


@dataclass(frozen=True)
class Target:
    python: str
    platform: str

    @property
    def label(self) -> str:
        return f"{self.python}/{self.platform}"


def parse_target(text: str) -> Target:
    python, _, platform = text.partition(":")
    if platform not in UV_PLATFORMS:
        raise argparse.ArgumentTypeError(f"platform must be one of {', '.join(UV_PLATFORMS)}")
    return Target(python, platform)


@dataclass
class Run:
    tool: str
    wall: float
    cpu: float
    rss_mb: float
    code: int
    pins: dict[str, str] = field(default_factory=dict)
    error: str = ""


@dataclass
class Outcome:
    name: str
    uv: Run
    indexgate: Run

    @property
    def same(self) -> bool:
        both_ran = self.uv.code == 0 and self.indexgate.code == 0
        return both_ran and self.uv.pins == self.indexgate.pins

    @property
    def ok(self) -> bool:
        return self.same and self.indexgate.rss_mb < RSS_LIMIT_MB

    def differences(self) -> list[str]:
        a, b = self.uv.pins, self.indexgate.pins
        return [
            f"{n}: uv {a.get(n, '-')} / indexgate {b.get(n, '-')}"
            for n in sorted(set(a) | set(b))
            if a.get(n) != b.get(n)
        ]


def public_index_url() -> str:
    """pip's own default index (never written into the repository)."""
    try:
        from pip._internal.models.index import PyPI
    except ImportError:
        sys.exit("pip is not importable here: pass --index-url")
    return str(PyPI.simple_url)


def uv_trust_option(uv: str) -> str:
    """uv's flag for the system store: ``--system-certs`` in new releases, else the older
    ``--native-tls``."""
    text = subprocess.run([uv, "pip", "compile", "--help"], capture_output=True, text=True).stdout
    return "--system-certs" if "--system-certs" in text else "--native-tls"


def uv_binary() -> str:
    """uv from the bench extra (its wheel), else from the PATH; the benchmark finds it
    the same way (run.py imports this)."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found is None:
            sys.exit("uv is not installed: pip install -e '.[bench]'")
        return found


def clean_env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in CERT_VARS and not k.startswith(("PIP_", "UV_", "INDEXGATE_"))
    }
    env["HOME"] = str(home)
    env["XDG_CACHE_HOME"] = str(home / "xdg-cache")
    env["UV_NO_PROGRESS"] = "1"
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: bytecode compiled once
    return env


def options(path: Path, tool: str) -> list[str]:
    """``#: <tool>: ARGS`` lines of a set."""
    args: list[str] = []
    for line in path.read_text().splitlines():
        if line.startswith("#:"):
            who, _, rest = line[2:].partition(":")
            if who.strip() == tool:
                args += shlex.split(rest)
    return args


def timed(cmd: list[str], workdir: Path, env: dict[str, str], timeout: float) -> Run:
    """Wall, CPU and peak RSS of one child process (its own, from wait4)."""
    with open(workdir / "stdout", "wb") as out, open(workdir / "stderr", "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=workdir)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    return Run(cmd[0], wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, code)


def run_uv(
    uv: str, trust: str, url: str, reqs: Path, target: Target, workdir: Path, timeout: float
) -> Run:
    out = workdir / "uv.txt"
    cmd = [
        uv, "pip", "compile", str(reqs), "--index-url", url,
        "--cache-dir", str(workdir / "uv-cache"),
        "--python-version", target.python, "--python-platform", UV_PLATFORMS[target.platform],
        trust,
        # the interpreter for builds, given: uv would otherwise probe the PATH (pyenv shims
        # cost seconds) and try to download a managed 3.12, and time that too
        "--python", sys.executable, "--no-python-downloads",
        "--no-config", "--no-header", "--no-annotate", "--quiet", "-o", str(out),
        *options(reqs, "uv"),
    ]  # fmt: skip
    run = timed(cmd, workdir, clean_env(workdir), timeout)
    run.tool = "uv"
    if run.code != 0 or not out.is_file():
        run.error = (workdir / "stderr").read_text(errors="replace")[-1500:]
        return run
    for line in out.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and "==" in line:
            name, _, version = line.partition("==")
            run.pins[canonicalize_name(name.split("[", 1)[0])] = version.split(";")[0].strip()
    return run


def run_indexgate(url: str, reqs: Path, target: Target, workdir: Path, timeout: float) -> Run:
    report = workdir / "report.json"
    cmd = [
        sys.executable, "-m", "indexgate", "check", "-r", str(reqs), "--index-url", url,
        "--python-version", target.python, "--platform", target.platform,
        "--cache-dir", str(workdir / "indexgate-cache"),
        "--report-json", str(report), "--format", "json", "-q", *options(reqs, "indexgate"),
    ]  # fmt: skip
    run = timed(cmd, workdir, clean_env(workdir), timeout)
    run.tool = "indexgate"
    if not report.is_file():
        run.error = (workdir / "stderr").read_text(errors="replace")[-1500:] or "no report"
        return run
    data = json.loads(report.read_text())
    (target,) = data["targets"]
    run.pins = {canonicalize_name(r["name"]): r["version"] for r in target["resolution"]}
    if run.code != 0:
        problems = [f"{e['kind']}: {e['message']}" for e in target["errors"]]
        run.error = "\n".join(problems)[-1500:] or f"exit {run.code}"
    return run


def corpus(names: list[str]) -> list[Path]:
    sets = sorted(CORPUS.glob("*.txt"))
    if names:
        by_name = {p.stem: p for p in sets}
        missing = [n for n in names if n not in by_name]
        if missing:
            sys.exit(f"no such set: {', '.join(missing)} (have: {', '.join(by_name)})")
        sets = [by_name[n] for n in names]
    return sets


def median_run(runs: list[Run]) -> Run:
    """The run of median wall time (each a fresh, empty cache)."""
    return sorted(runs, key=lambda r: r.wall)[len(runs) // 2]


def ratio(a: float, b: float) -> float:
    return a / b if b else math.inf


def geometric_mean(values: list[float]) -> float:
    values = [v for v in values if v > 0 and math.isfinite(v)]
    return math.exp(sum(map(math.log, values)) / len(values)) if values else math.nan


def table(outcomes: list[Outcome], markdown: bool) -> str:
    head = [
        "set", "pins", "same", "uv wall", "ig wall", "wall x", "uv CPU", "ig CPU", "CPU x",
        "uv RSS", "ig RSS",
    ]  # fmt: skip
    rows = []
    for o in outcomes:
        u, i = o.uv, o.indexgate
        same = "yes" if o.same else ("FAIL" if i.code != 0 or u.code != 0 else "no")
        rows.append(
            [
                o.name,
                str(len(i.pins) or len(u.pins)),
                same,
                f"{u.wall:.2f} s",
                f"{i.wall:.2f} s",
                f"{ratio(i.wall, u.wall):.2f}",
                f"{u.cpu:.2f} s",
                f"{i.cpu:.2f} s",
                f"{ratio(i.cpu, u.cpu):.2f}",
                f"{u.rss_mb:.0f} MB",
                f"{i.rss_mb:.0f} MB",
            ]
        )
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(r[c]) for r in [head, *rows]) for c in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [head, *rows]]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sets", nargs="*", help="set names (default: every set)")
    parser.add_argument("--index-url", help="default: pip's own default index")
    parser.add_argument("--timeout", type=float, default=300, help="per tool and set, seconds")
    parser.add_argument(
        "--target",
        action="append",
        type=parse_target,
        help=f"PYTHON:PLATFORM, repeatable (default {DEFAULT_TARGET}; platforms: "
        f"{', '.join(UV_PLATFORMS)})",
    )
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument(
        "--no-prime",
        dest="prime",
        action="store_false",
        help="skip the untimed run of both tools before each set's timed runs",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="timed runs per tool and set (median wall)"
    )
    parser.add_argument("--json", type=Path, help="write every measure here")
    args = parser.parse_args()
    url = args.index_url or public_index_url()
    uv = uv_binary()
    trust = uv_trust_option(uv)
    version = subprocess.run([uv, "--version"], capture_output=True, text=True).stdout.strip()
    targets = args.target or [parse_target(DEFAULT_TARGET)]
    labels = ", ".join(t.label for t in targets)
    print(f"{version}; indexgate on CPython {sys.version.split()[0]}; targets {labels}")
    outcomes: list[Outcome] = []
    for path, target in [(p, t) for p in corpus(args.sets) for t in targets]:
        if args.prime:
            # Untimed: whatever stands between this machine and the index (a TLS-inspecting
            # or caching proxy, a CDN edge) has then seen every request both tools make, so
            # neither timed run pays for the other's first fetch. (Each timed run writes a
            # new output file: uv pip compile takes an existing -o file's pins as
            # preferences, which would spare it the backtracking a cold run does.)
            with tempfile.TemporaryDirectory(prefix=f"realworld-prime-{path.stem}-") as tmp:
                work = Path(tmp)
                (work / "uv").mkdir()
                (work / "ig").mkdir()
                run_uv(uv, trust, url, path, target, work / "uv", args.timeout)
                run_indexgate(url, path, target, work / "ig", args.timeout)
        uvs: list[Run] = []
        igs: list[Run] = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory(prefix=f"realworld-{path.stem}-") as tmp:
                work = Path(tmp)
                (work / "uv").mkdir()
                (work / "ig").mkdir()
                uvs.append(run_uv(uv, trust, url, path, target, work / "uv", args.timeout))
                igs.append(run_indexgate(url, path, target, work / "ig", args.timeout))
        u, i = median_run(uvs), median_run(igs)
        name = path.stem if len(targets) == 1 else f"{path.stem} {target.label}"
        outcome = Outcome(name, u, i)
        outcomes.append(outcome)
        state = "same pins" if outcome.same else "DIFFERENT"
        print(
            f"{name}: {state}; wall uv {u.wall:.2f} s / indexgate {i.wall:.2f} s; "
            f"CPU {u.cpu:.2f} / {i.cpu:.2f} s; RSS {u.rss_mb:.0f} / {i.rss_mb:.0f} MB",
            flush=True,
        )
        for run in (u, i):
            if run.error:
                print(f"  {run.tool} (exit {run.code}): {run.error.strip()}")
        if u.code == 0 and i.code == 0:
            for line in outcome.differences():
                print(f"  {line}")
    print()
    print(table(outcomes, args.markdown))
    walls = [ratio(o.indexgate.wall, o.uv.wall) for o in outcomes if o.same]
    cpus = [ratio(o.indexgate.cpu, o.uv.cpu) for o in outcomes if o.same]
    print(
        f"\n{sum(o.same for o in outcomes)}/{len(outcomes)} sets with identical pins; "
        f"geometric mean of the cold wall ratio (indexgate/uv, identical sets): "
        f"{geometric_mean(walls):.2f}; of the CPU ratio: {geometric_mean(cpus):.2f}; "
        f"peak RSS max {max((o.indexgate.rss_mb for o in outcomes), default=0):.0f} MB; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    if args.json:
        measures = [
            {"set": o.name, "uv": vars(o.uv), "indexgate": vars(o.indexgate)} for o in outcomes
        ]
        args.json.write_text(json.dumps(measures, indent=2))
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
