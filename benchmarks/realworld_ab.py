"""Before/after on the real-world corpus: uv, indexgate from another source tree, and this
indexgate, each set interleaved in the same run (see ``realworld.py``: opt-in, network).

    git archive <commit> src | tar -x -C /tmp/before
    python benchmarks/realworld_ab.py --before /tmp/before/src --repeat 2 [SET ...]

Each round runs the three cold (a fresh cache each), the order reversed every other round
so that neither indexgate always follows uv; each cell is the median of the rounds. Prints
a Markdown table (wall / CPU per tool, the ratios to uv and after / before) and the
geometric means; exit 1 when the three did not give the same pins on every run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import realworld as rw


def _run(tool: str, before: str, url: str, uv: str, trust: str, path: Path) -> rw.Run:
    target = rw.parse_target(rw.DEFAULT_TARGET)
    with tempfile.TemporaryDirectory(prefix="realworld-ab-") as tmp:
        work = Path(tmp)
        if tool == "uv":
            return rw.run_uv(uv, trust, url, path, target, work, 300)
        saved = os.environ.get("PYTHONPATH")
        if tool == "before":
            os.environ["PYTHONPATH"] = before
        try:
            return rw.run_indexgate(url, path, target, work, 300)
        finally:
            if saved is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = saved


def _gm(values: list[float]) -> float:
    return math.exp(sum(map(math.log, values)) / len(values))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sets", nargs="*", help="set names (default: every set)")
    parser.add_argument("--before", required=True, help="the src folder of the code before")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json", type=Path, help="write the medians here")
    args = parser.parse_args()
    url, uv = rw.public_index_url(), rw.uv_binary()
    trust = rw.uv_trust_option(uv)
    tools = ("uv", "before", "after")
    medians: dict[str, dict[str, tuple[float, float, float]]] = {}
    same = True
    for path in rw.corpus(args.sets):
        runs: dict[str, list[rw.Run]] = {t: [] for t in tools}
        for round_ in range(args.repeat):
            for tool in tools if round_ % 2 == 0 else tools[::-1]:
                run = _run(tool, args.before, url, uv, trust, path)
                if run.error:
                    print(f"  {path.stem} {tool}: {run.error[:300]}", file=sys.stderr)
                runs[tool].append(run)
        pins = {tuple(sorted(r.pins.items())) for rs in runs.values() for r in rs}
        same &= len(pins) == 1 and all(r.code == 0 for rs in runs.values() for r in rs)
        medians[path.stem] = {
            t: (
                statistics.median(r.wall for r in rs),
                statistics.median(r.cpu for r in rs),
                max(r.rss_mb for r in rs),
            )
            for t, rs in runs.items()
        }
        print(f"{path.stem}: same pins {len(pins) == 1}", file=sys.stderr, flush=True)
    print("| set | uv wall / CPU | before | after | before x uv | after x uv | after / before |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, m in medians.items():
        (uw, uc, _), (bw, bc, _), (aw, ac, _) = m["uv"], m["before"], m["after"]
        print(
            f"| {name} | {uw:.2f} / {uc:.2f} s | {bw:.2f} / {bc:.2f} s | {aw:.2f} / {ac:.2f} s "
            f"| {bw / uw:.2f} | **{aw / uw:.2f}** | {aw / bw:.2f} |"
        )
    ms = medians.values()
    print(
        f"\ngeometric means: wall before/uv {_gm([m['before'][0] / m['uv'][0] for m in ms]):.2f}, "
        f"after/uv {_gm([m['after'][0] / m['uv'][0] for m in ms]):.2f}, "
        f"after/before {_gm([m['after'][0] / m['before'][0] for m in ms]):.2f}; "
        f"CPU before/uv {_gm([m['before'][1] / m['uv'][1] for m in ms]):.2f}, "
        f"after/uv {_gm([m['after'][1] / m['uv'][1] for m in ms]):.2f}; "
        f"identical pins everywhere: {same}"
    )
    if args.json:
        args.json.write_text(json.dumps(medians, indent=2))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
