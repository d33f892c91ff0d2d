"""The functions as Lambda loads them: each handler module of template.yaml, imported in
a fresh interpreter with the environment the template gives its function.

`python -m infra.runtime --python PATH` imports every handler under the interpreter at
PATH and fails when one does not load, or when a module of functions/ does not compile
or import there. `make runtime-check` runs it under the functions'
runtime, python3.13 with functions/requirements.txt (`.venv-runtime`): the tests run
under the dev interpreter, and a module can load there and not on the runtime (from
3.13 the compiler encodes docstrings as UTF-8, so one holding a lone surrogate stops
its module from loading at all).

The cold-start bench (bench.coldstart) and its contract test take their environments
from here too.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from infra.local.template import ACCOUNT_ID, FUNCTION, Physical, Resolver, Template, load_template

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
REGION = "eu-west-1"

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


def base_env() -> dict[str, str]:
    """A fresh interpreter's environment before a function's own: Lambda's, with
    functions/ on the path as Lambda's task root is."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(Path.home()),
        "PYTHONPATH": str(ROOT / "functions"),
        **LAMBDA_ENV,
    }


def _dummy_ref(logical_id: str, kind: str) -> str:
    """What `!Ref` gives for a resource, with a made-up name."""
    if kind == "AWS::SecretsManager::Secret":
        return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:{logical_id}-AbCdEf"
    if kind == "AWS::Serverless::StateMachine":
        return f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{logical_id}"
    return f"bench-{logical_id}"


def function_envs(template: Template) -> dict[str, tuple[str, dict[str, str]]]:
    """Logical id -> (handler module, the environment the template gives the function),
    read as the local stack reads it: Globals merged, parameters at their defaults,
    resource names made up."""
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


def handler_envs(template: Template) -> dict[str, dict[str, str]]:
    """Handler module -> the whole environment of a fresh interpreter that loads it
    (functions sharing a module share the first one's)."""
    handlers: dict[str, dict[str, str]] = {}
    for module, env in function_envs(template).values():
        handlers.setdefault(module, {**base_env(), **env})
    return handlers


def run_fresh(
    code: str, env: dict[str, str], python: str | None = None, task_root: Path | None = None
) -> str:
    """Run `code` in a fresh interpreter (`python`, else this one), as Lambda would: the
    task root (functions/, unless another is given) as the working directory, `env`
    only. Its standard output."""
    result = subprocess.run(
        [python or sys.executable, "-c", code],
        env=env,
        cwd=task_root or ROOT / "functions",
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"a fresh interpreter failed:\n{result.stderr[-2000:]}")
    return result.stdout


def python_version(python: str) -> str:
    """The version of the interpreter at `python`, as `3.13.0`."""
    return run_fresh("import sys; print(sys.version.split()[0])", base_env(), python).strip()


def unloadable(python: str, handlers: dict[str, dict[str, str]]) -> dict[str, str]:
    """Handler module -> why it does not load under `python` (the last line of its
    error), for every one of `handlers` (module -> environment) that does not."""
    failures: dict[str, str] = {}
    for module, env in handlers.items():
        try:
            run_fresh(f"import {module}", env, python)
        except RuntimeError as error:
            lines = str(error).strip().splitlines()
            failures[module] = lines[-1] if lines else "no output"
    return failures


COMPILE_ALL = """
import json, pathlib
failures = {}
for path in sorted(pathlib.Path(".").rglob("*.py")):
    try:
        compile(path.read_bytes(), str(path), "exec")
    except (SyntaxError, ValueError, UnicodeError) as error:
        failures[str(path)] = f"{type(error).__name__}: {error}"
print(json.dumps(failures))
"""
"""Compile every module of functions/, as the interpreter does when it first loads one:
a route module, loaded at its first request, fails there and not at init."""


def uncompilable(python: str) -> dict[str, str]:
    """Module path (under functions/) -> why `python` cannot compile it."""
    lines = run_fresh(COMPILE_ALL, base_env(), python).strip().splitlines()
    failures: dict[str, str] = json.loads(lines[-1])
    return failures


IMPORT_ALL = """
import importlib, json, pkgutil
failures = {}
def failed(name):
    failures.setdefault(name, "its package does not import")
for module in pkgutil.walk_packages(["."], onerror=failed):
    try:
        importlib.import_module(module.name)
    except (Exception, SystemExit) as error:
        failures[module.name] = f"{type(error).__name__}: {error}"
print(json.dumps(failures))
"""
"""Import every module of functions/ in one interpreter. A handler loads a route module
at the first request for its section (`RoutersOnDemand`) and some libraries at first
use: one that does not load on the runtime (a library missing from the package, an
error at import) passes the handler's import and fails that request on AWS, a 502."""


def every_env() -> dict[str, str]:
    """Every function's environment at once, which every module is imported under. A
    module that reads the environment at import (a handler whose wiring reads the
    settings) finds every function's variables here: one needing a variable its own
    function lacks would pass here, and is left to the handlers' own imports above."""
    merged: dict[str, str] = {}
    for env in handler_envs(load_template(TEMPLATE)).values():
        merged.update(env)
    return merged


def unimportable(python: str, env: dict[str, str], task_root: Path | None = None) -> dict[str, str]:
    """Module -> why `python` cannot import it, for every module under the task root
    (functions/, unless another is given)."""
    output = run_fresh(IMPORT_ALL, env, python, task_root)
    failures: dict[str, str] = json.loads(output.strip().splitlines()[-1])
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Import every handler of the template.")
    parser.add_argument("--python", default=sys.executable, help="the interpreter to load in")
    # Absolute, as the interpreters start in functions/; not resolved, which would
    # leave the venv the path names.
    python = os.path.abspath(parser.parse_args(argv).python)
    broken = uncompilable(python)
    for path, reason in broken.items():
        print(f"{path}: {reason}")
    handlers = handler_envs(load_template(TEMPLATE))
    failures = unloadable(python, handlers)
    for module in handlers:
        print(f"{module}: {failures.get(module, 'loads')}")
    unloaded = unimportable(python, every_env())
    for module, reason in unloaded.items():
        print(f"{module}: {reason}")
    loaded = len(handlers) - len(failures)
    print(f"runtime: python {python_version(python)}, {loaded} of {len(handlers)} handlers load")
    print(f"runtime: modules of functions/ that do not compile: {len(broken)}")
    print(f"runtime: modules of functions/ that do not import: {len(unloaded)}")
    return 1 if failures or broken or unloaded else 0


if __name__ == "__main__":
    sys.exit(main())
