"""Write or check functions/requirements.txt, the Lambda package's dependency list.

pyproject.toml's [project].dependencies is the single source; `sam build` reads the
generated file from the functions' CodeUri.

    python scripts/requirements.py           write the file
    python scripts/requirements.py --check   exit 1 when the committed file differs
"""

from __future__ import annotations

import argparse
import difflib
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
REQUIREMENTS = ROOT / "functions" / "requirements.txt"
HEADER = "# generated from pyproject.toml by `make requirements`; do not edit\n"


def render(pyproject: Path = PYPROJECT) -> str:
    """The requirements file's text for the runtime dependencies in `pyproject`."""
    with pyproject.open("rb") as file:
        dependencies: list[str] = tomllib.load(file)["project"]["dependencies"]
    return HEADER + "".join(f"{dependency}\n" for dependency in dependencies)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write or check functions/requirements.txt.")
    parser.add_argument("--check", action="store_true", help="fail when the file is stale")
    check = parser.parse_args(argv).check

    wanted = render()
    relative = REQUIREMENTS.relative_to(ROOT)
    if not check:
        REQUIREMENTS.write_text(wanted, encoding="utf-8")
        print(f"wrote {relative}")
        return 0

    current = REQUIREMENTS.read_text(encoding="utf-8") if REQUIREMENTS.exists() else ""
    if current == wanted:
        print(f"{relative} matches pyproject.toml")
        return 0
    diff = difflib.unified_diff(
        current.splitlines(keepends=True),
        wanted.splitlines(keepends=True),
        fromfile=f"{relative} (committed)",
        tofile=f"{relative} (from pyproject.toml)",
    )
    sys.stderr.writelines(diff)
    print(
        f"{relative} is out of date with pyproject.toml [project].dependencies: "
        "run `make requirements` and commit the result.",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
