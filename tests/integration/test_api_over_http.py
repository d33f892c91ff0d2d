"""The operator API over real HTTP on the local stack: a fuzz run of its OpenAPI document.

Concurrent writers over HTTP are tests/security/test_races.py's."""

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import ROOT
from tests.stack import Stack, running_stack
from tests.tally import TALLY

pytestmark = pytest.mark.stack


@pytest.fixture
def table_names() -> None:
    """Overrides the package's autouse moto setup: these tests talk to the stack's own moto."""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("api-stack")) as started:
        yield started


def test_a_fuzz_run_of_the_openapi_document_finds_the_api_as_documented(stack: Stack) -> None:
    """Every check of schemathesis (server errors, status codes, content types, response
    schemas, refusal of invalid data, acceptance of valid data, undeclared methods):
    tests/schemathesis.toml says which answers valid data may get."""
    result = subprocess.run(
        [
            str(__import__("pathlib").Path(sys.executable).with_name("st")),
            "--config-file",
            str(ROOT / "tests" / "schemathesis.toml"),
            "run",
            str(ROOT / "docs" / "openapi.json"),
            "--url",
            stack.api_url,
            "--checks",
            "all",
            "--max-examples",
            "15",
            "--seed",
            "20261129",
            "--request-timeout",
            "30",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=ROOT,
    )

    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    generated = re.search(r"Test cases:\s*\n\s*(\d+) generated", result.stdout)
    TALLY["schemathesis_cases"] += int(generated.group(1)) if generated else 0
