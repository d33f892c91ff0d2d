"""Test environment: the settings the template gives every function, resolved for moto.

moto is imported before anything creates a boto3 client, and the environment is set
before any handler module reads its settings.
"""

import os
from pathlib import Path
from typing import Any, Final

import moto  # noqa: F401  (first: clients created before moto are not mocked)

from infra.local.access import resource_ids
from infra.local.resources import physical_name
from infra.local.template import load_template
from tests import access_check
from tests.access_check import (  # noqa: F401 (the run's hooks: IAM policies hold its calls)
    pytest_runtest_teardown,
    pytest_sessionfinish,
    pytest_sessionstart,
)

ROOT = Path(__file__).resolve().parents[1]
_TEMPLATE = load_template(ROOT / "template.yaml")
TEMPLATE = _TEMPLATE.body
REGION: Final = "eu-west-1"
_NAMES = {lid: name for name, lid in resource_ids(_TEMPLATE).items()}


def stack_name(logical_id: str) -> str:
    """The name the local stack gives a resource of the template, which a test that
    makes the resource itself gives it too: the run's IAM check knows a call's
    resource by it."""
    return _NAMES[logical_id]


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
    """What the run held to the IAM policies, and its tallies (tests.tally), one
    `name=count` line each."""
    from tests.tally import TALLY

    access_check.summary(terminalreporter)
    if TALLY:
        terminalreporter.section("tallies")
        for name, count in sorted(TALLY.items()):
            terminalreporter.write_line(f"{name}={count}")
