"""Pytest hooks that hold the AWS calls each function's code makes to its IAM policies
(infra.local.access): moto allows every call.

Recorded in this process and in the local stack's workers (which save to the directory
ACCESS_LOG_DIR names); checked when the run ends, which then fails if a call is not
allowed, and names it in the summary. tests/conftest.py uses these hooks.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from infra.local.access import AccessLog, UnreadablePolicyError, handler_files, saved, ungranted
from infra.local.template import load_template
from infra.local.workers import ACCESS_LOG_DIR

TEMPLATE_PATH = Path(__file__).resolve().parents[1] / "template.yaml"
MISSING = pytest.StashKey[list[str]]()
HELD = pytest.StashKey[dict[str, int]]()


class _Run:
    log: AccessLog | None = None
    directory: Path | None = None


def log() -> AccessLog:
    """This run's log (a test may add to it, to show what the check does)."""
    if _Run.log is None:
        raise RuntimeError("the access check has not started")
    return _Run.log


def pytest_sessionstart(session: pytest.Session) -> None:
    _Run.directory = Path(tempfile.mkdtemp(prefix="access-"))
    os.environ[ACCESS_LOG_DIR] = str(_Run.directory)
    _Run.log = AccessLog(
        handler_files(load_template(TEMPLATE_PATH)), saved_to=_Run.directory / "tests.json"
    )
    _Run.log.install()


def pytest_runtest_teardown(item: pytest.Item) -> None:
    """Save as the run goes, so that a long run's record can be read before it ends."""
    if _Run.log is not None:
        _Run.log.save()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _Run.log is None or _Run.directory is None:
        return
    _Run.log.uninstall()
    recorded = _Run.log.recorded | saved(_Run.directory)
    shutil.rmtree(_Run.directory, ignore_errors=True)
    try:
        missing = ungranted(load_template(TEMPLATE_PATH), recorded)
    except UnreadablePolicyError as error:
        missing = [f"{error} cannot be checked"]
    session.config.stash[MISSING] = missing
    session.config.stash[HELD] = dict(Counter(access.function for access in recorded))
    if missing and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def summary(terminalreporter: Any) -> None:
    """What the run held, per function, and each call no policy allows."""
    stash = terminalreporter.config.stash
    held = stash.get(HELD, {})
    if held:
        terminalreporter.section("calls held to the functions' IAM policies")
        for function, count in sorted(held.items()):
            terminalreporter.write_line(f"iam_held.{function}={count}")
    missing = stash.get(MISSING, [])
    if missing:
        terminalreporter.section("calls the template's IAM policies do not allow", red=True)
        for line in missing:
            terminalreporter.write_line(line)
