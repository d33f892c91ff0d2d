"""The package's bytecode (infra.bytecode): compiled at build time, it is what the
interpreter runs in Lambda, where every file is dated 1980-01-01 and /var/task is
read-only."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from infra.bytecode import compile_tree, main, problems

ZIP_EPOCH = datetime(1980, 1, 1, tzinfo=UTC).timestamp()
"""The date of every file SAM zips: its zip entries carry none."""


def package(root: Path) -> Path:
    """A function's package: one module in a package, as `sam build` lays it out."""
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "mod.py").write_text("BUILT = 'at build time'\n")
    return root


def as_lambda_unpacks_it(root: Path) -> None:
    """Date every file as the zip does; what is compiled in /var/task stays there."""
    for path in root.rglob("*"):
        os.utime(path, (ZIP_EPOCH, ZIP_EPOCH))


def imported_value(root: Path) -> str:
    """`pkg.mod.BUILT` as a fresh interpreter that may not write bytecode sees it."""
    done = subprocess.run(
        [sys.executable, "-B", "-c", "import pkg.mod; print(pkg.mod.BUILT)"],
        env={"PYTHONPATH": str(root), "PATH": os.environ.get("PATH", "")},
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def edit_source(root: Path) -> None:
    """Change the source after the build: only a fresh compile can see the edit."""
    (root / "pkg" / "mod.py").write_text("BUILT = 'compiled at import'\n")
    as_lambda_unpacks_it(root)


def test_the_built_bytecode_is_what_runs_when_every_file_is_dated_1980(tmp_path: Path) -> None:
    root = package(tmp_path)
    compile_tree(root, sys.executable)
    edit_source(root)

    assert imported_value(root) == "at build time"


def test_timestamp_checked_bytecode_is_compiled_again_as_lambda_unpacks_it(tmp_path: Path) -> None:
    """Why the build takes hash-based .pyc files: the default records the source's mtime,
    which the zip's dates never match, though the source is the same."""
    root = package(tmp_path)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(root)], check=True)
    as_lambda_unpacks_it(root)

    verbose = subprocess.run(
        [sys.executable, "-B", "-v", "-c", "import pkg.mod"],
        env={"PYTHONPATH": str(root), "PATH": os.environ.get("PATH", "")},
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )

    assert "bytecode is stale for 'pkg.mod'" in verbose.stderr


def test_the_build_ignores_a_cache_prefix_or_optimization_in_its_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Either would put the .pyc files where Lambda's interpreter does not look, and the
    check, run the same way, would look there too."""
    root = package(tmp_path / "package")
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("PYTHONOPTIMIZE", "1")

    assert main(["compile", str(root), "--python", sys.executable]) == 0
    edit_source(root)

    assert not (tmp_path / "elsewhere").exists()
    assert imported_value(root) == "at build time"


def test_a_built_package_has_no_problems(tmp_path: Path) -> None:
    root = package(tmp_path)
    compile_tree(root, sys.executable)
    as_lambda_unpacks_it(root)

    assert problems(root, sys.executable) == {}
    assert main(["check", str(root), "--python", sys.executable]) == 0


@pytest.mark.parametrize(
    ("compile_args", "why"),
    [
        ([], "bytecode checked against the source's timestamp or hash"),
        (
            ["--invalidation-mode", "checked-hash"],
            "bytecode checked against the source's timestamp or hash",
        ),
        (None, "no bytecode"),
    ],
)
def test_the_check_names_each_module_that_would_be_compiled_at_import(
    tmp_path: Path, compile_args: list[str] | None, why: str
) -> None:
    root = package(tmp_path)
    if compile_args is not None:
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", *compile_args, str(root)], check=True
        )

    found = problems(root, sys.executable)

    assert found == {str(root / "pkg" / "__init__.py"): why, str(root / "pkg" / "mod.py"): why}
    assert main(["check", str(root), "--python", sys.executable]) == 1


def test_the_check_refuses_bytecode_of_another_interpreter(tmp_path: Path) -> None:
    root = package(tmp_path)
    compile_tree(root, sys.executable)
    for cached in root.rglob("*.pyc"):
        cached.write_bytes(b"\x00\x00\r\n" + cached.read_bytes()[4:])

    assert set(problems(root, sys.executable).values()) == {"bytecode of another interpreter"}


def test_the_check_refuses_bytecode_of_other_source(tmp_path: Path) -> None:
    root = package(tmp_path)
    compile_tree(root, sys.executable)
    edit_source(root)

    assert problems(root, sys.executable) == {
        str(root / "pkg" / "mod.py"): "bytecode of other source"
    }


def test_an_empty_or_missing_directory_fails_the_check(tmp_path: Path) -> None:
    assert main(["check", str(tmp_path), "--python", sys.executable]) == 1
    assert main(["check", str(tmp_path / "absent"), "--python", sys.executable]) == 2
