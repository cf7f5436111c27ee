"""Time parsing a large project page, JSON and HTML, as the index client parses it.

    python benchmarks/pages.py                  # 10,000 files, best of 5 (CPU time)
    python benchmarks/pages.py --files 50000 --repeat 3
    python benchmarks/pages.py --page numpy.json --page grpcio.html   # saved real pages

Pages come from ``tests/support/pagegen.py``: shaped like a real project with native
wheels (an sdist and 25 wheels per version), with absolute URLs in per-file hash folders
(as the big public index writes them) or short relative ones (as mirrors do). Each page
is parsed twice: keeping every file (``all``, what drift reads) and keeping what CPython
3.12 on linux_x86_64 can use (``target``, what check reads). Times are CPU time of this
process (best of the repeats), so other load on the machine changes them less; the
``json.loads`` of the same JSON page is printed beside them, and a fixed Python loop at the
end, as yardsticks of the machine's speed.
Goal (issue 11): a 10,000-file page parses in under 100 ms for check (``target``).

``--page FILE`` times saved pages instead (a real project page, saved by hand at run time:
never commit one), each parsed as check parses it, its kind told by its first byte
(``{``: JSON), cold: the filename memo emptied before each run (a run parses each
page once); ``--profile`` prints where the time of one cold parse of them all goes.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.pagegen import generate, html_page, json_page

from indexgate.dists import models
from indexgate.index.client import TargetFilter
from indexgate.index.simple import parse_project_page
from indexgate.targets import make_target

BASE = "https://idx.example.test/simple/bigpkg/"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"


def best_ms(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.process_time()
        run()
        times.append(time.process_time() - start)
    return min(times) * 1000


def yardstick_ms() -> float:
    """A fixed pure-Python loop: how fast this machine runs Python right now (about
    350-450 ms on a current desktop CPU with CPython 3.11)."""

    def loop() -> int:
        total = 0
        for i in range(10_000_000):
            total += i
        return total

    return best_ms(loop, 3)


def saved_pages(paths: list[Path], repeat: int, profile: bool, quiet: bool) -> None:
    """Parse saved pages cold, as check does (target 3.12 on linux_x86_64)."""
    keep = TargetFilter([make_target("3.12", "linux_x86_64")])
    pages = []
    for path in paths:
        body = path.read_bytes()
        content_type = JSON_TYPE if body.lstrip()[:1] == b"{" else "text/html"
        project = path.name.split(".")[0]
        pages.append((path.name, body, content_type, project))

    def parse(body: bytes, content_type: str, project: str) -> list:
        for memo in (models.parse_filename, models._version, models.requires_python_text):
            memo.cache_clear()
        return parse_project_page(body, content_type, BASE, project=project, keep=keep)

    print(f"CPU ms, best of {repeat}, cold (the filename memo emptied before each parse)")
    print(f"{'page':24} {'MB':>6} {'kept':>6} {'target':>8}")
    total_mb, total_kept, total_ms = 0.0, 0, 0.0
    for name, body, content_type, project in pages:
        kept = len(parse(body, content_type, project))
        ms = best_ms(lambda b=body, c=content_type, p=project: parse(b, c, p), repeat)
        total_mb, total_kept, total_ms = (
            total_mb + len(body) / 1e6,
            total_kept + kept,
            total_ms + ms,
        )
        if not quiet:
            print(f"{name:24} {len(body) / 1e6:6.1f} {kept:6} {ms:8.1f}")
    print(f"{f'total ({len(pages)} pages)':24} {total_mb:6.1f} {total_kept:6} {total_ms:8.1f}")
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _, body, content_type, project in pages:
            parse(body, content_type, project)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=10_000, help="files on the page")
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement")
    parser.add_argument(
        "--page", type=Path, action="append", default=[], help="a saved page (repeatable)"
    )
    parser.add_argument("--profile", action="store_true", help="with --page: cProfile")
    parser.add_argument("--quiet", action="store_true", help="with --page: the total only")
    args = parser.parse_args(argv)
    if args.page:
        saved_pages(args.page, args.repeat, args.profile, args.quiet)
        return 0
    keep = TargetFilter([make_target("3.12", "linux_x86_64")])
    print(f"{args.files} files per page; CPU ms, best of {args.repeat}")
    print(f"{'urls':9} {'format':6} {'MB':>6} {'all':>8} {'target':>8} {'kept':>6} {'loads':>8}")
    worst = {"all": 0.0, "target": 0.0}
    for absolute in (True, False):
        files = generate("bigpkg", args.files, absolute=absolute)
        pages = {
            "json": (json_page("bigpkg", files), JSON_TYPE),
            "html": (html_page("bigpkg", files), "text/html"),
        }
        json_body = pages["json"][0]
        loads = best_ms(lambda body=json_body: json.loads(body), args.repeat)
        for kind, (body, content_type) in pages.items():
            times = {}
            kept = 0
            for label, filt in (("all", None), ("target", keep)):

                def parse(body: bytes = body, ct: str = content_type, f=filt) -> list:
                    return parse_project_page(body, ct, BASE, project="bigpkg", keep=f)

                kept = len(parse())  # the first parse fills the filename memo, as a run does
                times[label] = best_ms(parse, args.repeat)
            for label in worst:
                worst[label] = max(worst[label], times[label])
            print(
                f"{'absolute' if absolute else 'relative':9} {kind:6} {len(body) / 1e6:6.1f} "
                f"{times['all']:8.1f} {times['target']:8.1f} {kept:6} "
                f"{loads if kind == 'json' else float('nan'):8.1f}"
            )
    slowest = worst["target"]
    verdict = "under" if slowest < 100 else "OVER"
    print(f"check's parse (target), slowest: {slowest:.1f} ms ({verdict} 100 ms)")
    print(f"whole-page parse (all: drift), slowest: {worst['all']:.1f} ms")
    print(f"yardstick (a 10^7-step Python loop, CPU): {yardstick_ms():.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
