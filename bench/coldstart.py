"""Cold-start import cost of each Lambda handler, next to `import boto3` alone.

For every AWS::Serverless::Function in template.yaml, imports its Handler module in a
fresh interpreter under `-X importtime`, with the environment the template gives that
function (read as the local stack reads it: Globals merged, parameters at their
defaults, resource names made up), and reports the median over --runs.
`import boto3` is measured in the same run as the yardstick, so the ratios compare
across machines. When `sam build` has left .aws-sam/build, each function's artifact
size is printed too.

Prints `name=value` lines:
    import_ms.<module>=...              median import time of the handler module
    import_ms.boto3=...
    ratio.<module>_vs_boto3=...
    max_ratio_vs_boto3=...              the largest of those ratios
    artifact_mb.<LogicalId>=...         size of .aws-sam/build/<LogicalId> (MiB)

The interpreter is this one (the dev venv's), and bytecode is warm: one discarded run
per module writes the .pyc files first.
"""

from __future__ import annotations

import argparse
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


def import_us(module: str, env: dict[str, str]) -> int:
    """Microseconds `import module` takes in a fresh interpreter (interpreter start excluded)."""
    code = f"import sys; print({MARK!r}, file=sys.stderr, flush=True); import {module}"
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        env=env,
        cwd=ROOT / "functions",
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"import {module} failed:\n{result.stderr[-2000:]}")
    _, _, after = result.stderr.partition(MARK)
    total = 0
    for line in after.splitlines():
        # "import time:  self | cumulative | <indent>name"; only top-level lines add up.
        fields = line.split("|")
        top_level = len(fields) == 3 and fields[2][1:2] != " "
        if top_level and line.startswith("import time:") and fields[1].strip().isdigit():
            total += int(fields[1])
    return total


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

    samples: dict[str, list[int]] = {name: [] for name in targets}
    for name, env in targets.items():
        import_us(name, env)  # warm-up: writes bytecode, fills the page cache
    for _ in range(runs):
        # Interleaved, so drift on the machine touches every module alike.
        for name, env in targets.items():
            samples[name].append(import_us(name, env))

    median_ms = {name: statistics.median(values) / 1000 for name, values in samples.items()}
    print(f"runs={runs}")
    print(f"python={sys.version.split()[0]}")
    print(f"import_ms.{BASELINE}={median_ms[BASELINE]:.1f}")
    for name in targets:
        if name != BASELINE:
            print(f"import_ms.{name}={median_ms[name]:.1f}")
    ratios = {name: median_ms[name] / median_ms[BASELINE] for name in targets if name != BASELINE}
    for name, ratio in ratios.items():
        print(f"ratio.{name}_vs_{BASELINE}={ratio:.2f}")
    print(f"max_ratio_vs_{BASELINE}={max(ratios.values()):.2f}")
    if BUILD_DIR.is_dir():
        for logical_id in functions:
            artifact = BUILD_DIR / logical_id
            if artifact.is_dir():
                print(f"artifact_mb.{logical_id}={directory_mib(artifact):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
