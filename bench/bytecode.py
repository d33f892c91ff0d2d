"""What the package's bytecode (infra.bytecode) saves at each handler's cold start.

Lays out, in a temporary directory, a function package as Lambda unpacks it: the
libraries of functions/requirements.txt (from the runtime venv, `.venv-runtime`) and
functions/, with no .pyc, every file dated 1980-01-01. Then times, in fresh runtime
interpreters started in that directory and not allowed to write bytecode (/var/task is
read-only), `import boto3` and every handler module of the template:
- from source, as the package `sam build` makes runs;
- after `infra.bytecode.compile_tree`, as the package `make build` makes runs.

The interpreter is the runtime venv's base interpreter, whose own site-packages hold
none of the libraries: the bench stops if a library or one of our modules would load
from anywhere but the package. The libraries are the runtime venv's wheels for this
machine; the package's are for arm64, with the same Python modules.

Prints `name=value` lines:
    python=...                        the interpreter's version
    source_ms.<module>=...            median import time from source
    bytecode_ms.<module>=...          median import time from the package's .pyc
    speedup.<module>=...              the two's ratio
    min_speedup=...                   the smallest handler speedup
    package_mb_source=...             the package's size without bytecode (MiB)
    package_mb_bytecode=...           and with it
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench.coldstart import DEPTHS, directory_mib, import_us
from infra.bytecode import compile_tree, problems
from infra.local.template import load_template
from infra.runtime import ROOT, TEMPLATE, base_env, handler_envs, python_version, run_fresh

RUNTIME_VENV = ROOT / ".venv-runtime"
BASELINE = "boto3"
ZIP_EPOCH = datetime(1980, 1, 1, tzinfo=UTC).timestamp()
"""The date of every file in a package SAM zipped: its zip entries carry none."""
NOT_PACKAGED = ("pip", "pip-*", "_distutils_hack", "distutils-precedence.pth", "__pycache__")


def site_packages(python: str) -> Path:
    """The runtime venv's site-packages: where functions/requirements.txt is installed."""
    code = "import sysconfig; print(sysconfig.get_path('purelib'))"
    return Path(run_fresh(code, base_env(), python).strip())


def base_interpreter(python: str) -> str:
    """The interpreter the venv at `python` was made from: it sees none of the venv's
    libraries."""
    return run_fresh("import sys; print(sys._base_executable)", base_env(), python).strip()


def lay_out(package: Path, libraries: Path) -> None:
    """A function's package as Lambda unpacks it: libraries and functions/ side by side,
    without bytecode, every file dated as SAM's zip dates it."""
    ignore = shutil.ignore_patterns(*NOT_PACKAGED)
    shutil.copytree(libraries, package, ignore=ignore)
    shutil.copytree(ROOT / "functions", package, ignore=ignore, dirs_exist_ok=True)
    for path in package.rglob("*"):
        os.utime(path, (ZIP_EPOCH, ZIP_EPOCH), follow_symlinks=False)


def packaged_env(env: dict[str, str], package: Path) -> dict[str, str]:
    """A function's environment with the package as its task root, bytecode not written."""
    return {
        **env,
        "PYTHONPATH": str(package),
        "LAMBDA_TASK_ROOT": str(package),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def check_origins(targets: dict[str, dict[str, str]], package: Path, python: str) -> None:
    """Stop unless every module a target loads from a file outside the interpreter's own
    library comes from the package."""
    code = (
        "import sys, sysconfig\n"
        "stdlib = sysconfig.get_path('stdlib')\n"
        "site = (sysconfig.get_path('purelib'), sysconfig.get_path('platlib'))\n"
        "import {module}\n"
        "for name, loaded in list(sys.modules.items()):\n"
        "    origin = getattr(getattr(loaded, '__spec__', None), 'origin', None) or ''\n"
        "    if not origin.startswith('/') or origin.startswith({root!r}):\n"
        "        continue\n"
        "    if origin.startswith(site) or not origin.startswith(stdlib):\n"
        "        print(name, origin)\n"
    )
    for module, env in targets.items():
        strays = run_fresh(code.format(module=module, root=str(package)), env, python, package)
        if strays.strip():
            raise SystemExit(f"{module} loads modules from outside the package:\n{strays}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Cold starts with and without bytecode.")
    parser.add_argument("--runs", type=int, default=1, help="fresh interpreters per depth")
    parser.add_argument(
        "--python",
        default=str(RUNTIME_VENV / "bin" / "python"),
        help="the runtime venv's interpreter (default: .venv-runtime, `make runtime-check`)",
    )
    args = parser.parse_args(argv)
    runs: int = args.runs
    venv_python = os.path.abspath(args.python)
    python = base_interpreter(venv_python)

    with tempfile.TemporaryDirectory() as scratch:
        package = Path(scratch) / "task"
        lay_out(package, site_packages(venv_python))
        targets = {
            name: packaged_env(env, package)
            for name, env in {BASELINE: base_env(), **handler_envs(load_template(TEMPLATE))}.items()
        }
        check_origins(targets, package, python)
        size_source = directory_mib(package)

        def timed() -> dict[str, float]:
            samples: dict[str, list[int]] = {name: [] for name in targets}
            for _ in range(runs):
                for depth in DEPTHS:
                    for name, env in targets.items():
                        samples[name].append(
                            import_us(name, env, depth=depth, python=python, task_root=package)
                        )
            return {name: statistics.median(values) / 1000 for name, values in samples.items()}

        source_ms = timed()
        compile_tree(package, python)
        if problems(package, python):
            raise SystemExit("the package's bytecode is not what the interpreter would take")
        for path in package.rglob("*"):  # the .pyc files too, as the zip dates them
            os.utime(path, (ZIP_EPOCH, ZIP_EPOCH), follow_symlinks=False)
        bytecode_ms = timed()
        size_bytecode = directory_mib(package)

    print(f"runs={runs}")
    print(f"depths={','.join(map(str, DEPTHS))}")
    print(f"python={python_version(python)}")
    speedups = {name: source_ms[name] / bytecode_ms[name] for name in targets}
    for name in targets:
        print(f"source_ms.{name}={source_ms[name]:.1f}")
        print(f"bytecode_ms.{name}={bytecode_ms[name]:.1f}")
        print(f"speedup.{name}={speedups[name]:.2f}")
    print(f"min_speedup={min(v for name, v in speedups.items() if name != BASELINE):.2f}")
    print(f"package_mb_source={size_source:.1f}")
    print(f"package_mb_bytecode={size_bytecode:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
