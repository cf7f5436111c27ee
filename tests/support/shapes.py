"""Package sets shaped like real resolution problems, for regression tests and repros.

``fastapi_sentry_shape`` mirrors issue 11's runaway: ``fastapi[standard]>=0.114.2`` with
``sentry-sdk[fastapi]<2``. Every recent ``web[standard]`` needs ``cli[standard]`` at a
recent version; every such ``cli[standard]`` needs ``cloud``; every ``cloud`` needs
``tracker>=2``; the user asks for ``tracker[web]<2``. Only the oldest ``web`` takes a
``cli`` from before ``cloud`` existed. Between those, ``web`` and ``cli`` pull in a crowd
of ordinary dependencies, so a resolver that re-pins the crowd after each rejected version
does the work of (web versions) x (cli versions) x (cloud versions) x (crowd size).
"""

from __future__ import annotations

from support.packages import Dist, wheel


def fastapi_sentry_shape(
    web_versions: int = 30,
    cli_versions: int = 20,
    cloud_versions: int = 25,
    crowd: int = 15,
    *,
    solvable: bool = True,
) -> tuple[list[Dist], str]:
    """The packages and the requirements text that reproduce the backtracking shape.

    The answer is ``web 1.0`` (the only ``web`` whose ``cli[standard]`` range reaches a
    ``cli`` without ``cloud``), ``cli 0.1`` and the newest ``tracker`` below 2. With
    ``solvable=False`` that ``web 1.0`` needs a recent ``cli`` too: there is no answer.
    """
    dists: list[Dist] = []
    crowd_names = [f"crowd{i:02d}" for i in range(crowd)]
    for i, name in enumerate(crowd_names):
        # a little chain inside the crowd, so each re-pin costs a few rounds
        deps = [f"{crowd_names[i + 1]}>=1"] if i + 1 < crowd and i % 3 == 0 else []
        dists += [wheel(name, "1.0", *deps), wheel(name, "1.1", *deps)]
    for c in range(1, cloud_versions + 1):
        dists.append(wheel("cloud", f"0.{c}", "tracker>=2.1", "crowd00>=1"))
    for c in range(1, cli_versions + 1):
        extra = ['cloud>=0.1; extra == "standard"'] if c > 1 else []
        dists.append(
            wheel(
                "cli",
                f"0.{c}",
                "crowd01>=1",
                *extra,
                'crowd02>=1; extra == "standard"',
                provides_extra=["standard"],
            )
        )
    for w in range(web_versions):
        floor = 1 if w == 0 and solvable else min(2 + w, cli_versions)  # web 1.0: any cli
        crowd_deps = [f'{n}>=1; extra == "standard"' for n in crowd_names[3:]]
        dists.append(
            wheel(
                "web",
                f"1.{w}",
                "crowd00>=1",
                f'cli[standard]>=0.{floor}; extra == "standard"',
                *crowd_deps,
                provides_extra=["standard"],
            )
        )
    for t in range(1, 16):
        dists.append(wheel("tracker", f"1.{t}", 'web>=1.0; extra == "web"', provides_extra=["web"]))
    for t in range(0, 6):
        dists.append(wheel("tracker", f"2.{t}", 'web>=1.0; extra == "web"', provides_extra=["web"]))
    return dists, "web[standard]>=1.0\ntracker[web]<2\n"
