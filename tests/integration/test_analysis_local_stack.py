"""`make run`'s demo analysis and `consentry analyze` against the local stack, started
as `make run` starts it (moto's server, the handlers in its process)."""

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from consentry_cli import main as cli
from tests.stack import Stack, running_stack

pytestmark = pytest.mark.stack

READY_TIMEOUT_S = 120


@pytest.fixture
def table_names() -> None:
    """Overrides the package's autouse moto setup: these tests talk to the stack's own moto."""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("analysis-stack")
    with running_stack(tmp) as stack:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while "Ready:" not in stack.stdout.read_text():
            assert stack.process.poll() is None, stack.stderr.read_text()
            assert time.monotonic() < deadline, "the demo analysis did not end"
            time.sleep(0.5)
        yield stack


def test_the_stack_analyzes_a_generated_audience_and_prints_the_report(stack: Stack) -> None:
    output = stack.stdout.read_text()

    assert "Analysis of delivery demo-audience: SUCCEEDED" in output
    assert re.search(r"^  audience +100,000 +100\.00$", output, re.MULTILINE)
    for cause in ("address_missing", "address_invalid", "profile_opted_out", "duplicate"):
        count = re.search(rf"^  {cause} +([\d,]+) ", output, re.MULTILINE)
        assert count, cause
        assert int(count.group(1).replace(",", "")) > 0, cause
    assert output.index("Analysis of delivery") < output.index("Ready:")


def test_the_command_analyzes_a_file_on_the_local_stack(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    audience = tmp_path / "small.csv"
    audience.write_text("profile_id,address\np1,a@example.com\np2,A@example.com\np3,\n")
    state_file = stack.stdout.parent / "state" / "demo.json"

    status = cli.main(
        [
            "analyze",
            str(audience),
            "--channel",
            "email",
            "--delivery",
            "cli-local",
            "--state-file",
            str(state_file),
        ]
    )

    out = capsys.readouterr().out
    assert status == 0
    assert "Analysis of delivery cli-local: SUCCEEDED" in out
    assert re.search(r"^  duplicate +1 +33\.33$", out, re.MULTILINE)
    explain = requests.get(
        f"{stack.api_url}/v1/deliveries/cli-local/analysis/explain",
        params={"address": "a@example.com"},
        timeout=10,
    ).json()
    assert [(r["row"], r["verdict"]) for r in explain["rows"]] == [
        (1, "targeted"),
        (2, "duplicate"),
    ]
