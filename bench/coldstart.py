"""Cold-start import cost of each Lambda handler, next to `import boto3` alone.

For every AWS::Serverless::Function in template.yaml, imports its Handler module in a
fresh interpreter, timed by that interpreter's clock, with the environment the template
gives that function (infra.runtime), and reports the median over --runs runs at each of
the call depths in DEPTHS (why several depths: see there).
`import boto3` is measured in the same run as the yardstick, so the ratios compare
across machines. When `sam build` has left .aws-sam/build, each function's artifact
size is printed too.

Each handler's import is split into what its libraries cost and what is ours: the
libraries' share is the import, in a fresh interpreter, of every module outside
functions/ that the handler's import loads, in the order it loaded them. That is the
floor no change to our own modules can go below; work done by our modules at import
(building models, compiling patterns) counts as ours, even when library code does it.
A second floor leaves pydantic out of those libraries (PYDANTIC): what the handler's
libraries would cost if no module of ours needed pydantic at init (at most: what only
pydantic loads of the standard library is still imported).

A web function (the operator API, the console, the landing) loads a section's routes,
with their logic and shapes, at the first request for that section
(`consentry.core.routing.RoutersOnDemand`), so its import alone is not all of its cold
start: for each such handler, its import followed by the inclusion of one section's
routes is timed too, for every section, and the heaviest is reported, as a ratio to
`import boto3` timed in the same rounds. That is what the most expensive first request
loads; it leaves out what that request then builds (Powertools' validation of the
route, our models at their first use) and its own work.

Each handler pauses the cyclic garbage collector while it loads
(consentry.core.cold_start), and its libraries-only figure is taken the same way;
`import boto3`, the yardstick, is timed as it is, and once more with the collector
paused, printed for reference only.

The clock, not `-X importtime`: importtime's own printing adds to every module it
reports, and it leaves out much of an import done through `importlib`, which is how
the libraries-only figure is taken.

Prints `name=value` lines:
    python=...                          the interpreter's version
    import_ms.<module>=...              median import time of the handler module
    spread_ms.<module>=...              how far its median at one depth is from another's
    import_ms.boto3=...
    import_ms.boto3_collector_paused=...  the same with the collector paused, for reference
    libraries_ms.<module>=...           median import time of its libraries alone
    libraries_without_pydantic_ms.<module>=...  the same without pydantic's packages
    own_ms.<module>=...                 import_ms less libraries_ms: our modules' share
    ratio.<module>_vs_boto3=...
    libraries_ratio.<module>_vs_boto3=...
    libraries_without_pydantic_ratio.<module>_vs_boto3=...
    max_ratio_vs_boto3=...              the largest handler ratio
    max_libraries_ratio_vs_boto3=...    the largest libraries-only ratio (the floor)
    max_libraries_without_pydantic_ratio_vs_boto3=...  the floor were ours pydantic-free
    import_ms.boto3_with_sections=...   the yardstick, timed in the sections' rounds
    heaviest_section.<module>=...       a web function's section whose first request loads most
    with_section_ms.<module>=...        its import and that section's routes, median
    with_section_ratio.<module>_vs_boto3=...
    max_with_section_ratio_vs_boto3=... the largest of those, for the web functions
    artifact_mb.<LogicalId>=...         size of .aws-sam/build/<LogicalId> (MiB)

The interpreter is this one (the dev venv's) unless --python names another; the
functions' own runtime is `.venv-runtime/bin/python` (`make runtime-check` builds it).
Bytecode is warm: one discarded run per module writes the .pyc files first, as the
package `make build` makes carries them (infra.bytecode); bench.bytecode times the
handlers with and without it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from infra.local.template import load_template
from infra.runtime import (
    ROOT,
    TEMPLATE,
    base_env,
    function_envs,
    handler_envs,
    python_version,
    run_fresh,
)

BUILD_DIR = ROOT / ".aws-sam" / "build"
MARK = "--coldstart-bench-start--"
BASELINE = "boto3"
PAUSED_BASELINE = "import gc\ngc.disable()\nimport boto3\ngc.enable()"
"""The yardstick with the collector paused as our handlers pause it: printed beside it,
not used in the ratios, to show how much of a handler's gain the pause alone is."""


def library_modules(module: str, env: dict[str, str], python: str) -> list[str]:
    """The modules outside functions/ that `import module` loads, in load order: those
    with an origin (a file, built in, frozen), not the stand-ins a library registers
    for modules it has not loaded (six's `moves`), which importing would load."""
    code = (
        "import json, sys\n"
        "before = set(sys.modules)\n"
        f"import {module}\n"
        f"ours = {str(ROOT / 'functions')!r}\n"
        "def origin(loaded):\n"
        "    return getattr(getattr(loaded, '__spec__', None), 'origin', None) or ''\n"
        "print(json.dumps([name for name, loaded in sys.modules.items() if name not in before"
        " and origin(loaded) and not origin(loaded).startswith(ours)]))\n"
    )
    names: list[str] = json.loads(run_fresh(code, env, python).splitlines()[-1])
    return names


def libraries_code(names: list[str]) -> str:
    """Import `names` in order, as a handler loads them: after `consentry.core.cold_start`,
    which pauses the collector and loads two of Powertools' packages without their
    `__init__` (a few hundred microseconds of ours, counted with the libraries). One a
    library loads only as a side effect may not import on its own (a vendored alias),
    and is skipped."""
    return (
        "import importlib\n"
        "from consentry.core import cold_start\n"
        f"for name in {names!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception:\n"
        "        pass\n"
        "cold_start.loaded()\n"
    )


PYDANTIC = ("pydantic", "pydantic_core", "annotated_types", "typing_inspection")
"""pydantic and the packages only it brings. The libraries' figure without them is the
floor a handler would have if no module of ours needed pydantic at init: a library
that needs it (Powertools' request validation) still loads it, and is counted."""


def without_pydantic(names: list[str]) -> list[str]:
    return [name for name in names if name.partition(".")[0] not in PYDANTIC]


FLOORS: dict[str, Callable[[list[str]], list[str]]] = {
    "libraries": list,
    "libraries_without_pydantic": without_pydantic,
}
"""What each floor imports of the libraries a handler's import loads."""


DEPTHS = (0, 5, 10, 15)
"""Call depths each import is timed at, in frames above the interpreter's first. CPython
keeps frames in chunks of the thread's stack and, before 3.13's fix of gh-142183, maps
and unmaps a chunk each time a call crosses into one and returns: a loop that calls
across a chunk's edge (a regular expression's compile, deep in an import) pays it on
every call. Whether an import hits an edge depends only on the depth it starts at, and
Lambda's runtime imports a handler from a depth of its own, not ours. At one depth, a
module's figure moved by up to 25 ms with it; over several, the median is the import's
own cost."""


def import_us(
    module: str,
    env: dict[str, str],
    code: str | None = None,
    *,
    depth: int,
    python: str,
    task_root: Path | None = None,
) -> int:
    """Microseconds `import module` (or `code`) takes in a fresh interpreter (`python`,
    in `task_root`, by default functions/), started `depth` calls deep, by the
    interpreter's own clock around it (its start-up excluded)."""
    body = code if code is not None else f"import {module}"
    timed = (
        "import time\n"
        "def _at(depth):\n"
        "    if depth:\n"
        "        return _at(depth - 1)\n"
        "    _started = time.perf_counter_ns()\n"
        f"{textwrap.indent(body, '    ')}\n"
        "    return (time.perf_counter_ns() - _started) // 1000\n"
        f"print({MARK!r}, _at({depth}))\n"
    )
    _, _, after = run_fresh(timed, env, python, task_root).rpartition(MARK)
    return int(after.split()[0])


def directory_mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / (1024 * 1024)


Samples = dict[str, list[int]]


def measure(
    targets: dict[str, dict[str, str]], runs: int, python: str
) -> tuple[dict[str, dict[int, list[int]]], dict[str, Samples], list[int]]:
    """Microseconds per import: each target's by depth, each handler's floors (FLOORS),
    and the yardstick's with the collector paused."""
    handlers = [name for name in targets if name != BASELINE]
    loaded = {name: library_modules(name, targets[name], python) for name in handlers}
    floor_code = {
        floor: {name: libraries_code(pick(loaded[name])) for name in handlers}
        for floor, pick in FLOORS.items()
    }
    samples: dict[str, dict[int, list[int]]] = {name: {} for name in targets}
    floors: dict[str, Samples] = {floor: {name: [] for name in handlers} for floor in FLOORS}
    paused_baseline: list[int] = []
    for name, env in targets.items():
        # warm-up: writes bytecode, fills the page cache
        import_us(name, env, depth=0, python=python)
    for _ in range(runs):
        # Interleaved, so drift on the machine touches every module alike.
        for depth in DEPTHS:
            for name, env in targets.items():
                timed = import_us(name, env, depth=depth, python=python)
                samples[name].setdefault(depth, []).append(timed)
                for floor, code in floor_code.items():
                    if name in code:
                        floors[floor][name].append(
                            import_us(name, env, code[name], depth=depth, python=python)
                        )
            paused_baseline.append(
                import_us(BASELINE, targets[BASELINE], PAUSED_BASELINE, depth=depth, python=python)
            )
    return samples, floors, paused_baseline


FIND_ROUTERS = (
    "import sys\n"
    "import {module}\n"
    "from consentry.core.routing import RoutersOnDemand\n"
    "_handler = sys.modules[{module!r}]\n"
    "_routers = next((found for found in (getattr(_handler, 'routers', None),"
    " getattr(getattr(_handler, 'app', None), 'routers', None))"
    " if isinstance(found, RoutersOnDemand)), None)\n"
)
"""Imports the handler and finds its `RoutersOnDemand` (a module global, or its
resolver's), None if it has none."""


def section_paths(module: str, env: dict[str, str], python: str) -> dict[str, str]:
    """A path in each section of the handler's routes on demand; none if it has none."""
    code = FIND_ROUTERS.format(module=module) + (
        "import json\nprint(json.dumps(_routers.section_paths() if _routers else {}))\n"
    )
    paths: dict[str, str] = json.loads(run_fresh(code, env, python).splitlines()[-1])
    return paths


def with_section_code(module: str, path: str) -> str:
    """Import the handler, then include the routes of the section `path` is in, as the
    first request for it does."""
    return FIND_ROUTERS.format(module=module) + f"_routers.include_for({path!r})\n"


def measure_sections(
    targets: dict[str, dict[str, str]], runs: int, python: str
) -> tuple[dict[str, dict[str, list[int]]], list[int]]:
    """Microseconds of each web handler's import followed by one section's routes, by
    handler and section, over `runs` runs at each depth; and the yardstick's, timed in
    the same rounds."""
    sections = {
        name: section_paths(name, env, python) for name, env in targets.items() if name != BASELINE
    }
    samples: dict[str, dict[str, list[int]]] = {
        name: {section: [] for section in paths} for name, paths in sections.items() if paths
    }
    for name in samples:
        for path in sections[name].values():  # warm-up: the routes' bytecode
            import_us(name, targets[name], with_section_code(name, path), depth=0, python=python)
    baseline: list[int] = []
    for _ in range(runs):
        for depth in DEPTHS:
            for name, by_section in samples.items():
                for section, path in sections[name].items():
                    code = with_section_code(name, path)
                    by_section[section].append(
                        import_us(name, targets[name], code, depth=depth, python=python)
                    )
            baseline.append(import_us(BASELINE, targets[BASELINE], depth=depth, python=python))
    return samples, baseline


def median_ms(values: list[int]) -> float:
    return statistics.median(values) / 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Cold-start import cost per handler.")
    parser.add_argument("--runs", type=int, default=3, help="fresh interpreters per depth")
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="the interpreter to time in (default: this one; the functions' runtime is"
        " .venv-runtime/bin/python, from `make runtime-check`)",
    )
    args = parser.parse_args(argv)
    runs: int = args.runs
    python = os.path.abspath(args.python)  # the interpreters start in functions/

    template = load_template(TEMPLATE)
    # One entry per module; functions sharing a handler module share its figure.
    targets: dict[str, dict[str, str]] = {BASELINE: base_env(), **handler_envs(template)}
    handlers = [name for name in targets if name != BASELINE]
    samples, floor_samples, paused_baseline = measure(targets, runs, python)
    section_samples, section_baseline = measure_sections(targets, runs, python)

    every = {
        name: [us for at in by_depth.values() for us in at] for name, by_depth in samples.items()
    }
    import_ms = {name: median_ms(values) for name, values in every.items()}
    floors_ms = {
        floor: {name: median_ms(values) for name, values in by_name.items()}
        for floor, by_name in floor_samples.items()
    }
    by_depth_ms = {
        name: [median_ms(at) for at in by_depth.values()] for name, by_depth in samples.items()
    }
    spread_ms = {name: max(medians) - min(medians) for name, medians in by_depth_ms.items()}
    base = import_ms[BASELINE]
    print(f"runs={runs}")
    print(f"depths={','.join(map(str, DEPTHS))}")
    print(f"python={python_version(python)}")
    print(f"import_ms.{BASELINE}={base:.1f}")
    print(f"spread_ms.{BASELINE}={spread_ms[BASELINE]:.1f}")
    print(f"import_ms.{BASELINE}_collector_paused={median_ms(paused_baseline):.1f}")
    for name in handlers:
        print(f"import_ms.{name}={import_ms[name]:.1f}")
        print(f"spread_ms.{name}={spread_ms[name]:.1f}")
        for floor, by_name in floors_ms.items():
            print(f"{floor}_ms.{name}={by_name[name]:.1f}")
        print(f"own_ms.{name}={import_ms[name] - floors_ms['libraries'][name]:.1f}")
    ratios = {name: import_ms[name] / base for name in handlers}
    for name in handlers:
        print(f"ratio.{name}_vs_{BASELINE}={ratios[name]:.2f}")
        for floor, by_name in floors_ms.items():
            print(f"{floor}_ratio.{name}_vs_{BASELINE}={by_name[name] / base:.2f}")
    print(f"max_ratio_vs_{BASELINE}={max(ratios.values()):.2f}")
    for floor, by_name in floors_ms.items():
        print(f"max_{floor}_ratio_vs_{BASELINE}={max(by_name.values()) / base:.2f}")
    with_section: dict[str, float] = {}
    section_base = median_ms(section_baseline) if section_baseline else base
    if section_samples:
        print(f"import_ms.{BASELINE}_with_sections={section_base:.1f}")
    for name, by_section in section_samples.items():
        medians = {section: median_ms(values) for section, values in by_section.items()}
        heaviest = max(medians, key=lambda section: medians[section])
        with_section[name] = medians[heaviest]
        print(f"heaviest_section.{name}={heaviest or '(root)'}")
        print(f"with_section_ms.{name}={medians[heaviest]:.1f}")
        print(f"with_section_ratio.{name}_vs_{BASELINE}={medians[heaviest] / section_base:.2f}")
    if with_section:
        worst = max(with_section.values()) / section_base
        print(f"max_with_section_ratio_vs_{BASELINE}={worst:.2f}")
    if BUILD_DIR.is_dir():
        for logical_id in function_envs(template):
            artifact = BUILD_DIR / logical_id
            if artifact.is_dir():
                print(f"artifact_mb.{logical_id}={directory_mib(artifact):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
