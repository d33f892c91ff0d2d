"""docs/openapi.json is what the operator API's routes generate."""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_openapi_document_matches_the_routes() -> None:
    from consent.handler import app

    generated = json.loads(app.get_openapi_json_schema())
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())

    assert generated == committed, "docs/openapi.json drifted: run `make openapi`"


def test_every_operation_documents_its_validation_error() -> None:
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())

    for path, operations in committed["paths"].items():
        for method, operation in operations.items():
            if operation.get("parameters") or operation.get("requestBody"):
                assert "422" in operation["responses"], f"{method.upper()} {path}"


@pytest.mark.parametrize(
    ("status", "message", "field"),
    [
        (422, "must be at least 1", "limit"),
        (404, "no such resource", None),
        (422, 'a "quoted" \\ message…', "entries.0.addrèss"),
        (415, "the body is not JSON", "body"),
    ],
)
def test_error_bodies_are_written_as_the_document_says(
    status: int, message: str, field: str | None
) -> None:
    """The handler writes error bodies without building ErrorOut; the document's
    ErrorOut is what they are, to the byte."""
    from consent.api import error_body
    from consent.schemas.errors import ErrorOut

    written = error_body(status, message, field)
    modelled = ErrorOut(status_code=status, message=message, field=field)

    assert ErrorOut.model_validate_json(written) == modelled
    assert written == modelled.model_dump_json(by_alias=True, exclude_none=True)


def test_a_path_takes_the_methods_the_document_gives_it() -> None:
    """What a 405's Allow header says (read from the resolver's routes) is what the
    document says the path takes."""
    import re

    from consent.handler import app, methods_of

    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    methods = {"get", "put", "post", "delete", "patch"}

    for path, operations in committed["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "x-1", path)
        app.routers.include_for(concrete)  # as a request for the path does first

        expected = tuple(sorted(method.upper() for method in operations if method in methods))
        assert methods_of(concrete) == expected, path
    assert methods_of("/v1/no-such-section") == ()
