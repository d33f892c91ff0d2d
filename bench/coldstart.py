"""Cold-start import cost of each Lambda handler, next to `import boto3` alone.

For every AWS::Serverless::Function in template.yaml, imports its Handler module in a
fresh interpreter, timed by that interpreter's clock, with the environment the template gives that
function (read as the local stack reads it: Globals merged, parameters at their
defaults, resource names made up), and reports the median over --runs.
`import boto3` is measured in the same run as the yardstick, so the ratios compare
across machines. When `sam build` has left .aws-sam/build, each function's artifact
size is printed too.

Each handler's import is split into what its libraries cost and what is ours: the
libraries' share is the import, in a fresh interpreter, of every module outside
functions/ that the handler's import loads, in the order it loaded them. That is the
floor no change to our own modules can go below; work done by our modules at import
(building models, compiling patterns) counts as ours, even when library code does it.

Each handler pauses the cyclic garbage collector while it loads
(consentry.core.cold_start), and its libraries-only figure is taken the same way;
`import boto3`, the yardstick, is timed as it is, and once more with the collector
paused, printed for reference only.

The clock, not `-X importtime`: importtime's own printing adds to every module it
reports, and it leaves out much of an import done through `importlib`, which is how
the libraries-only figure is taken.

Prints `name=value` lines:
    import_ms.<module>=...              median import time of the handler module
    import_ms.boto3=...
    import_ms.boto3_collector_paused=...  the same with the collector paused, for reference
    libraries_ms.<module>=...           median import time of its libraries alone
    own_ms.<module>=...                 the difference: our modules' share
    ratio.<module>_vs_boto3=...
    libraries_ratio.<module>_vs_boto3=...
    max_ratio_vs_boto3=...              the largest handler ratio
    max_libraries_ratio_vs_boto3=...    the largest libraries-only ratio (the floor)
    artifact_mb.<LogicalId>=...         size of .aws-sam/build/<LogicalId> (MiB)

The interpreter is this one (the dev venv's), and bytecode is warm: one discarded run
per module writes the .pyc files first.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from infra.local.template import ACCOUNT_ID, FUNCTION, Physical, Resolver, Template, load_template

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
BUILD_DIR = ROOT / ".aws-sam" / "build"
REGION = "eu-west-1"
MARK = "--coldstart-bench-start--"
BASELINE = "boto3"
PAUSED_BASELINE = "import gc\ngc.disable()\nimport boto3\ngc.enable()"
"""The yardstick with the collector paused as our handlers pause it: printed beside it,
not used in the ratios, to show how much of a handler's gain the pause alone is."""

# What Lambda itself puts in every function's environment, less what only a real
# sandbox has. Dummy credentials keep botocore from probing for real ones.
# LAMBDA_TASK_ROOT is where Lambda unpacks the code: with it, the X-Ray SDK takes its
# Lambda path (a local sampler) instead of building a sampling client at import.
LAMBDA_ENV = {
    "LAMBDA_TASK_ROOT": str(ROOT / "functions"),
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
    "AWS_EC2_METADATA_DISABLED": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


def _dummy_ref(logical_id: str, kind: str) -> str:
    """What `!Ref` gives for a resource, with a made-up name."""
    if kind == "AWS::SecretsManager::Secret":
        return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:{logical_id}-AbCdEf"
    if kind == "AWS::Serverless::StateMachine":
        return f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{logical_id}"
    return f"bench-{logical_id}"


def function_envs(template: Template) -> dict[str, tuple[str, dict[str, str]]]:
    """Logical id -> (handler module, the environment the template gives the function)."""
    physical = {
        logical_id: Physical(ref=_dummy_ref(logical_id, resource["Type"]))
        for logical_id, resource in template.resources.items()
    }
    resolver = Resolver(template, region=REGION, physical=physical)
    functions: dict[str, tuple[str, dict[str, str]]] = {}
    for logical_id in template.resources_of(FUNCTION):
        properties = template.properties(logical_id)  # Globals.Function merged in
        variables = properties.get("Environment", {}).get("Variables", {})
        env = {name: resolver.resolve_str(value) for name, value in variables.items()}
        env["AWS_LAMBDA_FUNCTION_NAME"] = logical_id
        module = properties["Handler"].rsplit(".", 1)[0]
        functions[logical_id] = (module, env)
    return functions


def run_fresh(code: str, env: dict[str, str]) -> str:
    """Run `code` in a fresh interpreter, as Lambda would (functions/ as the working
    directory, `env` only); its standard output."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=ROOT / "functions",
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"a fresh interpreter failed:\n{result.stderr[-2000:]}")
    return result.stdout


def library_modules(module: str, env: dict[str, str]) -> list[str]:
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
    names: list[str] = json.loads(run_fresh(code, env).splitlines()[-1])
    return names


def libraries_code(names: list[str]) -> str:
    """Import `names` in order, the collector paused as a handler pauses it; one a library
    loads only as a side effect may not import on its own (a vendored alias), and is
    skipped."""
    return (
        "import gc, importlib\n"
        "gc.disable()  # as a handler loads (consentry.core.cold_start)\n"
        f"for name in {names!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception:\n"
        "        pass\n"
        "gc.enable()\n"
    )


def import_us(module: str, env: dict[str, str], code: str | None = None) -> int:
    """Microseconds `import module` (or `code`) takes in a fresh interpreter, by the
    interpreter's own clock around it (its start-up excluded)."""
    body = code if code is not None else f"import {module}"
    timed = (
        "import time\n"
        "_started = time.perf_counter_ns()\n"
        f"{body}\n"
        f"print({MARK!r}, (time.perf_counter_ns() - _started) // 1000)\n"
    )
    _, _, after = run_fresh(timed, env).rpartition(MARK)
    return int(after.split()[0])


def directory_mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / (1024 * 1024)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Cold-start import cost per handler.")
    parser.add_argument("--runs", type=int, default=5, help="fresh interpreters per module")
    runs: int = parser.parse_args(argv).runs

    template = load_template(TEMPLATE)
    functions = function_envs(template)
    base_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(Path.home()),
        "PYTHONPATH": str(ROOT / "functions"),
        **LAMBDA_ENV,
    }
    # One entry per module; functions sharing a handler module share its figure.
    targets: dict[str, dict[str, str]] = {BASELINE: base_env}
    for module, env in functions.values():
        targets.setdefault(module, {**base_env, **env})

    handlers = [name for name in targets if name != BASELINE]
    libraries = {name: libraries_code(library_modules(name, targets[name])) for name in handlers}
    samples: dict[str, list[int]] = {name: [] for name in targets}
    library_samples: dict[str, list[int]] = {name: [] for name in handlers}
    paused_baseline: list[int] = []
    for name, env in targets.items():
        import_us(name, env)  # warm-up: writes bytecode, fills the page cache
    for _ in range(runs):
        # Interleaved, so drift on the machine touches every module alike.
        for name, env in targets.items():
            samples[name].append(import_us(name, env))
            if name in libraries:
                library_samples[name].append(import_us(name, env, libraries[name]))
        paused_baseline.append(import_us(BASELINE, base_env, PAUSED_BASELINE))

    median_ms = {name: statistics.median(values) / 1000 for name, values in samples.items()}
    libraries_ms = {
        name: statistics.median(values) / 1000 for name, values in library_samples.items()
    }
    base = median_ms[BASELINE]
    print(f"runs={runs}")
    print(f"python={sys.version.split()[0]}")
    print(f"import_ms.{BASELINE}={base:.1f}")
    paused = statistics.median(paused_baseline) / 1000
    print(f"import_ms.{BASELINE}_collector_paused={paused:.1f}")
    for name in handlers:
        print(f"import_ms.{name}={median_ms[name]:.1f}")
        print(f"libraries_ms.{name}={libraries_ms[name]:.1f}")
        print(f"own_ms.{name}={median_ms[name] - libraries_ms[name]:.1f}")
    ratios = {name: median_ms[name] / base for name in handlers}
    library_ratios = {name: libraries_ms[name] / base for name in handlers}
    for name in handlers:
        print(f"ratio.{name}_vs_{BASELINE}={ratios[name]:.2f}")
        print(f"libraries_ratio.{name}_vs_{BASELINE}={library_ratios[name]:.2f}")
    print(f"max_ratio_vs_{BASELINE}={max(ratios.values()):.2f}")
    print(f"max_libraries_ratio_vs_{BASELINE}={max(library_ratios.values()):.2f}")
    if BUILD_DIR.is_dir():
        for logical_id in functions:
            artifact = BUILD_DIR / logical_id
            if artifact.is_dir():
                print(f"artifact_mb.{logical_id}={directory_mib(artifact):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
