"""Time ``indexgate check`` against ``uv pip compile`` on a generated index behind latency.

    pip install -e '.[bench]'
    python benchmarks/run.py                     # 30 ms, both variants, 3 repeats
    python benchmarks/run.py --latency-ms 80 --variant range --repeat 1
    python benchmarks/run.py --real web-django fastapi-sentry   # the real public index

Builds the index once (``genindex.py``, about 500 MB, reused), serves it with a static
server behind a proxy that adds ``--latency-ms`` to every request and every new connection
(``netsim.py``), then runs each tool cold (empty cache dir) and warm (the same cache dir
again), as separate processes. It prints wall time (median of the repeats), requests and
bytes that crossed the proxy, CPU and peak RSS of each tool, the ratios, and both
physical limits: cold (graph depth x 2 round trips x latency) and warm (one round trip per
level, and one round trip in all when every revalidation starts at once). Both tools must
produce the same ``name==version`` set on every run; if they do not, it says which packages
differ and exits 1. Both tools get the same environment: nothing of the caller's
``PIP_``/``UV_``/``INDEXGATE_`` variables or CA bundle variables.

``--real [SET ...]``: the real public index instead (derived at run time from pip, or
``--index-url``), with the requirement sets of ``benchmarks/corpus/`` (``realworld.py``,
whose runners this reuses): each set cold and warm with each tool, ``--repeat`` times,
printing wall, CPU, peak RSS and the ratios (requests are not known: no proxy sees them).
Opt-in: it needs the network and is not part of CI.

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
from realworld import CERT_VARS, uv_binary

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
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("INDEXGATE_", "UV_", "PIP_")) and k not in cert_variables()
    }
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


def cert_variables() -> tuple[str, ...]:
    """Variables that hand a tool a CA bundle (``realworld.CERT_VARS``): uv runs without
    them, so indexgate does too (loading and checking a bundle it would not use for an
    http:// index costs it ~20 ms that uv never pays)."""

    return CERT_VARS


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
    p.add_argument(
        "--real",
        nargs="*",
        metavar="SET",
        help="the real public index with the corpus sets named (none: every set)",
    )
    p.add_argument("--index-url", help="--real: the index (default: pip's own default index)")
    args = p.parse_args(argv)
    if args.real is not None:
        return real_index(args.real, args.index_url, args.repeat, args.json)
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
        print(f"file system, before: {fs_probe(Path(tmp))}")
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
        print(f"file system, after: {fs_probe(Path(tmp))}")
        shutil.rmtree(tmp, ignore_errors=True)
    assert reference is not None
    print(f"\nsame resolution on every run: {len(reference)} packages")
    report(measures, tools, variants, args.latency_ms, int(summary["depth"]), args.indexgate_arg)
    if args.json:
        rows = [{k: v for k, v in asdict(m).items() if k != "resolution"} for m in measures]
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


def fs_probe(folder: Path, files: int = 450, size: int = 10_000) -> str:
    """What a new file costs where the runs keep their caches: a cold run writes one per
    page and one per metadata file (~450 here), each created, written and renamed into
    place as both tools do. On the development VM a new file cost from 17 us to 0.9 ms
    (mostly system time, on the same disk, minutes apart): enough to move a cold run by
    0.3 s, so the figure is printed with the runs it explains."""
    probe = folder / "fs-probe"
    shutil.rmtree(probe, ignore_errors=True)
    for fan in range(16):
        (probe / f"{fan:x}").mkdir(parents=True)
    body = b"x" * size
    costs: list[float] = []
    start = time.perf_counter()
    for i in range(files):
        path = probe / f"{i % 16:x}" / f"{i:064x}"
        began = time.perf_counter()
        fd = os.open(f"{path}.tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        costs.append(time.perf_counter() - began)
        os.write(fd, body)
        os.close(fd)
        os.replace(f"{path}.tmp", path)
    total = time.perf_counter() - start
    shutil.rmtree(probe, ignore_errors=True)
    return (
        f"{files} new {size // 1000} KB files in {total * 1000:.0f} ms (creating one: "
        f"median {statistics.median(costs) * 1e6:.0f} us)"
    )


def physical_limits(depth: int, latency_ms: float) -> dict[str, float]:
    """Seconds no client can beat on this index: cold, each level's page and then its
    metadata (2 round trips a level); warm, each level's revalidation (1 a level), and one
    round trip for everything when every revalidation starts at once (plus one for the
    connections, which the proxy also delays)."""
    rtt = latency_ms / 1000
    return {"cold": depth * 2 * rtt, "warm": depth * rtt, "warm at once": 2 * rtt}


def report(
    measures: list[Measure],
    tools: list[str],
    variants: list[str],
    latency: float,
    depth: int,
    indexgate_args: list[str] | None = None,
) -> None:
    limits = physical_limits(depth, latency)
    print(
        f"physical limits: cold {limits['cold']:.2f} s ({depth} levels x 2 round trips x "
        f"{latency:g} ms); warm {limits['warm']:.2f} s level by level ({depth} x 1 round "
        f"trip), {limits['warm at once']:.2f} s with every revalidation at once (connect + 1)"
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
        print(
            f"  {'limit':12}{limits['cold']:9.2f}{'':18}{limits['warm']:9.2f}"
            f"   (warm, every revalidation at once: {limits['warm at once']:.2f})"
        )
        if "uv" in rows and "indexgate" in rows:
            ratio = [
                x / y if y else float("nan")
                for x, y in zip(rows["indexgate"], rows["uv"], strict=True)
            ]
            print(f"  {'ratio ig/uv':12}" + "".join(f"{x:9.2f}" for x in ratio))
            ig, uv = rows["indexgate"], rows["uv"]
            checks = [
                ("warm wall <= 0.7x uv", ig[3] <= 0.7 * uv[3]),
                ("cold wall <= 1.0x uv", ig[0] <= uv[0]),
                ("cold within 2x of the limit", ig[0] <= 2 * limits["cold"]),
                ("peak memory < 200 MB", ig[8] < 200),
            ]
            print(
                "  targets: " + ", ".join(f"{name}: {'yes' if ok else 'NO'}" for name, ok in checks)
            )
    if indexgate_args:
        print(f"\nindexgate ran with: {' '.join(indexgate_args)}")


def real_index(names: list[str], index_url: str | None, repeat: int, out: Path | None) -> int:
    """Cold and warm runs of both tools against the real public index, with the corpus of
    ``realworld.py`` (its sets, environment and runners, so both modes time the same
    thing); exit 1 when a run failed or the tools' pins differ."""
    import realworld

    url = index_url or realworld.public_index_url()
    uv = uv_binary()
    trust = realworld.uv_trust_option(uv)
    target = realworld.parse_target(realworld.DEFAULT_TARGET)
    version = subprocess.run([uv, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"real index; {version}; Python {sys.version.split()[0]}; target {target.label}")
    print(f"machine: {os.cpu_count()} cores; median of {repeat} runs per cell")
    rows: list[dict[str, object]] = []
    ok = True
    for path in realworld.corpus(names):
        runs: dict[tuple[str, str], list[realworld.Run]] = {}
        for _ in range(repeat):
            with tempfile.TemporaryDirectory(prefix=f"bench-real-{path.stem}-") as tmp:
                for tool in ("uv", "indexgate"):
                    work = Path(tmp) / tool
                    work.mkdir()
                    for phase in ("cold", "warm"):  # the same workdir: warm has the cache
                        if tool == "uv":
                            run = realworld.run_uv(uv, trust, url, path, target, work, 600)
                        else:
                            run = realworld.run_indexgate(url, path, target, work, 600)
                        runs.setdefault((tool, phase), []).append(run)
        reference = runs[("uv", "cold")][0].pins
        same = all(r.code == 0 and r.pins == reference for rs in runs.values() for r in rs)
        ok &= same
        row: dict[str, object] = {"set": path.stem, "pins": len(runs[("uv", "cold")][0].pins)}
        for (tool, phase), rs in runs.items():
            row[f"{tool} {phase}"] = {
                "wall": statistics.median(r.wall for r in rs),
                "cpu": statistics.median(r.cpu for r in rs),
                "rss": max(r.rss_mb for r in rs),
                "errors": [r.error.strip()[-300:] for r in rs if r.error],
            }
        row["same"] = same
        rows.append(row)
        print_real_row(row)
    if out:
        out.write_text(json.dumps(rows, indent=1))
    return 0 if ok else 1


def print_real_row(row: dict) -> None:
    """One set: wall / CPU / peak RSS per tool and phase, and indexgate's ratios to uv."""
    state = "same pins" if row["same"] else "FAILED or DIFFERENT"
    print(f"\n{row['set']}: {row['pins']} pins, {state} (requests: not known, no proxy)")
    for phase in ("cold", "warm"):
        u, i = row[f"uv {phase}"], row[f"indexgate {phase}"]
        print(
            f"  {phase}: uv {u['wall']:.2f} s, CPU {u['cpu']:.2f} s, {u['rss']:.0f} MB | "
            f"indexgate {i['wall']:.2f} s, CPU {i['cpu']:.2f} s, {i['rss']:.0f} MB | "
            f"ratio wall {i['wall'] / u['wall']:.2f}, CPU {i['cpu'] / max(u['cpu'], 1e-9):.2f}"
        )
        for error in [*u["errors"], *i["errors"]]:
            print(f"    error: {error}")


if __name__ == "__main__":
    sys.exit(main())
