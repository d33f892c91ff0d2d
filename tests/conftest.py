"""Test environment: the settings the template gives every function, resolved for moto.

moto is imported before anything creates a boto3 client, and the environment is set
before any handler module reads its settings.
"""

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Final

import moto  # noqa: F401  (first: clients created before moto are not mocked)
import pytest

from infra.local.resources import physical_name
from infra.local.template import load_template

ROOT = Path(__file__).resolve().parents[1]
ACCESS_MISSING = pytest.StashKey[list[str]]()
TEMPLATE = load_template(ROOT / "template.yaml").body
REGION: Final = "eu-west-1"


def _resolve(value: Any) -> str:
    """A parameter's default, or the name the local stack gives a resource."""
    if isinstance(value, dict) and "Ref" in value:
        name = value["Ref"]
        parameter = TEMPLATE["Parameters"].get(name)
        if parameter:
            return str(parameter["Default"])
        return physical_name(name, TEMPLATE["Resources"][name]["Type"])
    return str(value)


os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "tests",
        "POWERTOOLS_METRICS_NAMESPACE": "Consentry",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.update(
    {
        name: _resolve(value)
        for name, value in TEMPLATE["Globals"]["Function"]["Environment"]["Variables"].items()
    }
)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The run's tallies (tests.tally), one `name=count` line each."""
    from tests.tally import TALLY

    missing = terminalreporter.config.stash.get(ACCESS_MISSING, [])
    if missing:
        terminalreporter.section("calls the template's IAM policies do not allow", red=True)
        for line in missing:
            terminalreporter.write_line(line)
    if TALLY:
        terminalreporter.section("tallies")
        for name, count in sorted(TALLY.items()):
            terminalreporter.write_line(f"{name}={count}")


# ---------------------------------------------------------------- IAM: what the functions reach


class _Access:
    """What each function's code does to the template's tables, bucket and secrets in
    this run, in this process and in the local stack's workers (infra.local.access),
    held to its IAM policies when the run ends: moto allows every call."""

    log: Any = None
    directory: Path | None = None


def pytest_sessionstart(session: Any) -> None:
    from infra.local.access import AccessLog, handler_files
    from infra.local.workers import ACCESS_LOG_DIR

    _Access.directory = Path(tempfile.mkdtemp(prefix="access-"))
    os.environ[ACCESS_LOG_DIR] = str(_Access.directory)
    _Access.log = AccessLog(
        handler_files(load_template(ROOT / "template.yaml")),
        saved_to=_Access.directory / "tests.json",
    )
    _Access.log.install()


def pytest_runtest_teardown(item: Any) -> None:
    """Save as the run goes, so that a long run's record can be read before it ends."""
    if _Access.log is not None:
        _Access.log.save()


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    if _Access.log is None or _Access.directory is None:
        return
    from infra.local.access import saved, ungranted

    _Access.log.uninstall()
    recorded = _Access.log.recorded | saved(_Access.directory)
    shutil.rmtree(_Access.directory, ignore_errors=True)
    missing = ungranted(load_template(ROOT / "template.yaml"), recorded)
    session.config.stash[ACCESS_MISSING] = missing
    if missing and session.exitstatus == 0:
        session.exitstatus = 1
