"""Time ``indexgate check`` against ``uv pip compile`` on a generated index behind latency.

    pip install -e '.[bench]'
    python benchmarks/run.py                     # 30 ms, both variants, 3 repeats
    python benchmarks/run.py --latency-ms 80 --variant range --repeat 1

Builds the index once (``genindex.py``, about 500 MB, reused), serves it with a static
server behind a proxy that adds ``--latency-ms`` to every request and every new connection
(``netsim.py``), then runs each tool cold (empty cache dir) and warm (the same cache dir
again), as separate processes. It prints wall time (median of the repeats), requests and
bytes that crossed the proxy, indexgate's peak RSS, the ratios, and the physical limit
(graph depth x 2 round trips x latency). Both tools must produce the same ``name==version``
set on every run; if they do not, it says which packages differ and exits 1.

Variants: ``range`` serves pages without PEP 658, so metadata comes from range reads of
the wheels (as from nginx or most Artifactory/Nexus setups); ``pep658`` offers
``.metadata`` files.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

sys.path.insert(0, str(Path(__file__).parent))
from genindex import GENERATOR_VERSION, generate
from netsim import Network

VARIANTS = {"range": "simple/", "pep658": "simple658/"}
LAST_CPU = [0.0]


@dataclass
class Measure:
    tool: str
    variant: str
    phase: str  # cold | warm
    wall: float
    requests: int
    bytes: int
    kinds: dict[str, int]
    maxrss_mb: float
    cpu: float  # user + system seconds of the tool's process
    resolution: dict[str, str] = field(repr=False)


def uv_binary() -> str:
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found is None:
            sys.exit("uv is not installed: pip install -e '.[bench]'")
        return found


def timed(cmd: list[str], workdir: Path, env: dict[str, str]) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MB and exit code of one child process (CPU seconds in
    ``LAST_CPU``)."""
    with open(workdir / "stdout", "wb") as out, open(workdir / "stderr", "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=workdir)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    LAST_CPU[0] = usage.ru_utime + usage.ru_stime
    return wall, usage.ru_maxrss / 1024, proc.returncode


def run_uv(uv: str, url: str, reqs: Path, cache: Path, workdir: Path) -> tuple[float, float, dict]:
    out = workdir / "uv.txt"
    cmd = [
        uv, "pip", "compile", str(reqs), "--index-url", url, "--cache-dir", str(cache),
        "--python-version", "3.11", "--python-platform", "x86_64-unknown-linux-gnu",
        "--no-config", "--no-header", "--no-annotate", "--quiet", "-o", str(out),
    ]  # fmt: skip
    env = {"PATH": os.environ["PATH"], "HOME": str(workdir), "UV_NO_PROGRESS": "1"}
    wall, rss, code = timed(cmd, workdir, env)
    if code != 0:
        fail(f"uv failed ({code}):\n{(workdir / 'stderr').read_text()[-3000:]}")
    pins = {}
    for line in out.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonicalize_name(name.split("[", 1)[0])] = version.strip()
    return wall, rss, pins


def run_indexgate(
    url: str, reqs: Path, cache: Path, workdir: Path, extra: list[str]
) -> tuple[float, float, dict]:
    report = workdir / "report.json"
    cmd = [
        sys.executable, "-m", "indexgate", "check", "-r", str(reqs), "--index-url", url,
        "--python-version", "3.11", "--platform", "linux_x86_64", "--cache-dir", str(cache),
        "--report-json", str(report), "--format", "json", "-q", *extra,
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INDEXGATE_", "UV_", "PIP_"))}
    env["HOME"] = str(workdir)
    # An installed indexgate has its bytecode compiled (pip does it at install time); with
    # PYTHONDONTWRITEBYTECODE inherited, every run would recompile what changed since.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    wall, rss, code = timed(cmd, workdir, env)
    if code != 0 or not report.is_file():
        fail(f"indexgate failed ({code}):\n{(workdir / 'stderr').read_text()[-3000:]}")
    data = json.loads(report.read_text())
    target = data["targets"][0]
    return wall, rss, {canonicalize_name(r["name"]): r["version"] for r in target["resolution"]}


def fail(message: str) -> None:
    print(f"\nBENCHMARK FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def compare(reference: dict[str, str], other: dict[str, str], what: str) -> None:
    if reference == other:
        return
    lines = []
    for name in sorted(set(reference) | set(other)):
        a, b = reference.get(name), other.get(name)
        if a != b:
            lines.append(f"  {name}: uv {a or '-'}  {what.split()[0]} {b or '-'}")
    fail(f"{what} differs from uv's resolution:\n" + "\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--latency-ms", type=float, default=30.0)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--variant", choices=[*VARIANTS, "both"], default="both")
    p.add_argument("--tools", default="uv,indexgate", help="comma-separated: uv,indexgate")
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    p.add_argument(
        "--index-dir", type=Path, default=cache_home / f"indexgate-bench/index-v{GENERATOR_VERSION}"
    )
    p.add_argument("--indexgate-arg", action="append", default=[], help="extra argument")
    p.add_argument("--json", type=Path, help="write every measurement here")
    args = p.parse_args(argv)
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    variants = list(VARIANTS) if args.variant == "both" else [args.variant]

    t0 = time.perf_counter()
    summary = generate(args.index_dir)
    print(
        f"index: {args.index_dir} ({summary['projects']} projects, {summary['top_level']} "
        f"top-level requirements, depth {summary['depth']}, generated/checked in "
        f"{time.perf_counter() - t0:.1f} s)"
    )
    uv = uv_binary() if "uv" in tools else ""
    if uv:
        version = subprocess.run([uv, "--version"], capture_output=True, text=True).stdout
        print(f"uv: {version.strip()}")
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    reqs = args.index_dir / "requirements.in"
    measures: list[Measure] = []
    reference: dict[str, str] | None = None
    with Network(args.index_dir, args.latency_ms) as net, tempfile.TemporaryDirectory() as tmp:
        for variant in variants:
            url = net.url(VARIANTS[variant])
            for rep in range(args.repeat):
                for tool in tools:
                    cache = Path(tmp) / f"{tool}-{variant}-{rep}"
                    for phase in ("cold", "warm"):
                        workdir = Path(tmp) / f"run-{tool}-{variant}-{rep}-{phase}"
                        workdir.mkdir()
                        net.reset()
                        if tool == "uv":
                            wall, rss, pins = run_uv(uv, url, reqs, cache, workdir)
                        else:
                            wall, rss, pins = run_indexgate(
                                url, reqs, cache, workdir, args.indexgate_arg
                            )
                        traffic = net.reset()
                        m = Measure(
                            tool, variant, phase, wall, traffic.requests, traffic.bytes,
                            dict(traffic.by_kind), rss, LAST_CPU[0], pins,
                        )  # fmt: skip
                        measures.append(m)
                        print(
                            f"  {variant:6} {tool:9} {phase} #{rep + 1}: {wall:6.2f} s "
                            f"(cpu {LAST_CPU[0]:5.2f} s) {traffic.requests:5} req "
                            f"{traffic.bytes / 1e6:7.2f} MB rss {rss:4.0f} MB  "
                            f"({traffic.summary()})",
                            flush=True,
                        )
                        if reference is None:
                            reference = pins
                        else:
                            compare(reference, pins, f"{tool} {variant} {phase} run {rep + 1}")
        shutil.rmtree(tmp, ignore_errors=True)
    assert reference is not None
    print(f"\nsame resolution on every run: {len(reference)} packages")
    report(measures, tools, variants, args.latency_ms, int(summary["depth"]))
    if args.json:
        rows = [{k: v for k, v in asdict(m).items() if k != "resolution"} for m in measures]
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


def report(
    measures: list[Measure], tools: list[str], variants: list[str], latency: float, depth: int
) -> None:
    limit = depth * 2 * latency / 1000
    print(
        f"physical limit: {depth} levels x 2 round trips x {latency:g} ms = {limit:.2f} s cold "
        f"({depth * latency / 1000:.2f} s warm: one round trip per level)"
    )
    header = ["cold s", "req", "MB", "warm s", "req", "MB", "cpu cold", "cpu warm", "peak MB"]
    for variant in variants:
        runs = len(
            [m for m in measures if (m.tool, m.variant, m.phase) == (tools[0], variant, "cold")]
        )
        print(f"\n{variant}: median of {runs} runs")
        print("  " + " " * 12 + "".join(f"{h:>9}" for h in header))
        rows: dict[str, list[float]] = {}
        for tool in tools:
            row: list[float] = []
            cpu: list[float] = []
            for phase in ("cold", "warm"):
                ms = [m for m in measures if (m.tool, m.variant, m.phase) == (tool, variant, phase)]
                row += [
                    statistics.median(m.wall for m in ms),
                    statistics.median(m.requests for m in ms),
                    statistics.median(m.bytes for m in ms) / 1e6,
                ]
                cpu.append(statistics.median(m.cpu for m in ms))
            rss = max(m.maxrss_mb for m in measures if (m.tool, m.variant) == (tool, variant))
            rows[tool] = row + cpu + [rss]
            print(f"  {tool:12}" + "".join(f"{x:9.2f}" for x in rows[tool]))
        if "uv" in rows and "indexgate" in rows:
            ratio = [
                x / y if y else float("nan")
                for x, y in zip(rows["indexgate"], rows["uv"], strict=True)
            ]
            print(f"  {'ratio ig/uv':12}" + "".join(f"{x:9.2f}" for x in ratio))
            ig, uv = rows["indexgate"], rows["uv"]
            checks = [
                ("cold wall <= 1.5x uv", ig[0] <= 1.5 * uv[0]),
                ("cold requests <= uv", ig[1] <= uv[1]),
                ("cold bytes <= 2x uv", ig[2] <= 2 * uv[2]),
                ("warm wall <= 2x uv", ig[3] <= 2 * uv[3]),
                ("peak memory < 200 MB", ig[8] < 200),
            ]
            print(
                "  targets: " + ", ".join(f"{name}: {'yes' if ok else 'NO'}" for name, ok in checks)
            )


if __name__ == "__main__":
    sys.exit(main())
