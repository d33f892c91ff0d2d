"""docs/openapi.json is what the operator API's routes generate."""

import json
from pathlib import Path

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
