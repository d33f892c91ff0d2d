"""Bytecode for the Lambda package, compiled at build time so that cold starts use it.

`sam build` ships source only: no function directory under .aws-sam/build holds a
single .pyc. Lambda unpacks the package into /var/task, which is read-only, so the
interpreter compiled every module a handler imports, ours and every library's, boto3
included, at every cold start, and could keep none of it. Compiling at build time with
the default (timestamp) check would not help either: SAM's zips carry no timestamps, so
every file arrives dated 1980-01-01, and a .pyc that records its source's mtime never
matches it.

So the build compiles every module with the runtime's interpreter into hash-based,
unchecked .pyc files (PEP 552): the interpreter takes them as they are, whatever the
files' dates, without reading the source. The package is immutable once deployed, so
there is no newer source for a check to find.

`python -m infra.bytecode compile DIR --python PY` compiles every module under DIR;
`python -m infra.bytecode check DIR --python PY` fails when a module has no such .pyc
for PY, or one that was compiled from other source. `make build` runs both after
`sam build`; bench/bytecode.py measures what it saves. Standard library only: it runs
under the runtime's interpreter, without the dev venv.

The check walks the tree as compileall does; neither follows a symlinked directory,
which SAM's zip would (there are none in a build today).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

COMPILE = (
    "-m",
    "compileall",
    "-q",
    "-f",
    "-j",
    "0",
    "-o",
    "0",
    "--invalidation-mode",
    "unchecked-hash",
)
"""Every module, again (-f), on every core (-j 0), for Lambda's optimization level (none),
hash-based and never checked."""

DISTRACTING = ("PYTHONPYCACHEPREFIX", "PYTHONOPTIMIZE")
"""What would send the .pyc files elsewhere or name them for another level, in the
compile and in the check alike: both run without it."""

CHECK = """
import importlib.util, json, pathlib, sys
UNCHECKED_HASH = 0b01  # PEP 552 flags: hash-based, source not checked
problems = {}
for source in sorted(pathlib.Path(sys.argv[1]).rglob("*.py")):
    # Where Lambda's interpreter looks: beside the source, at optimization level 0.
    cached = pathlib.Path(importlib.util.cache_from_source(str(source), optimization=""))
    try:
        header = cached.read_bytes()[:16]
    except FileNotFoundError:
        problems[str(source)] = "no bytecode"
        continue
    if header[:4] != importlib.util.MAGIC_NUMBER:
        problems[str(source)] = "bytecode of another interpreter"
    elif int.from_bytes(header[4:8], "little") != UNCHECKED_HASH:
        problems[str(source)] = "bytecode checked against the source's timestamp or hash"
    elif header[8:16] != importlib.util.source_hash(source.read_bytes()):
        problems[str(source)] = "bytecode of other source"
print(json.dumps(problems))
"""
"""Run by the target interpreter: its magic number and cache tag are the ones that count."""


def clean_env() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name not in DISTRACTING}


def compile_tree(directory: Path, python: str) -> None:
    """Compile every module under `directory` with `python`, into unchecked-hash .pyc
    files beside the sources (`__pycache__/<name>.<tag>.pyc`). A module that does not
    compile fails the build."""
    subprocess.run(
        [python, *COMPILE, str(directory)],
        check=True,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
    )


def problems(directory: Path, python: str) -> dict[str, str]:
    """Module path -> why `python` would compile it again at import instead of taking
    its .pyc, for every module under `directory` that it would."""
    done = subprocess.run(
        [python, "-c", CHECK, str(directory)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
    )
    found: dict[str, str] = json.loads(done.stdout)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Bytecode for the Lambda package.")
    parser.add_argument("action", choices=("compile", "check"))
    parser.add_argument("directory", type=Path, help="a build directory, e.g. .aws-sam/build")
    parser.add_argument("--python", required=True, help="the functions' runtime interpreter")
    args = parser.parse_args(argv)
    if not args.directory.is_dir():
        print(f"bytecode: {args.directory} is not a directory", file=sys.stderr)
        return 2
    if args.action == "compile":
        compile_tree(args.directory, args.python)
        return 0
    found = problems(args.directory, args.python)
    for path, why in sorted(found.items())[:20]:
        print(f"{path}: {why}")
    modules = sum(1 for _ in args.directory.rglob("*.py"))
    print(f"bytecode: {modules - len(found)} of {modules} modules carry an unchecked .pyc for it")
    return 1 if found or not modules else 0


if __name__ == "__main__":
    sys.exit(main())
