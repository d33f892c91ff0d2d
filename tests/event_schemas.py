"""The JSON schemas of the event bus's detail types, as docs/events.md publishes them."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

DOC = Path(__file__).resolve().parents[1] / "docs" / "events.md"
_SECTION = re.compile(r"^### `(?P<name>[^`]+)`\s*\n+```json\n(?P<schema>.*?)\n```", re.M | re.S)


@cache
def schemas() -> dict[str, dict[str, Any]]:
    """Each detail type's schema, by the heading that names it."""
    found = {
        match["name"]: json.loads(match["schema"]) for match in _SECTION.finditer(DOC.read_text())
    }
    for schema in found.values():
        Draft202012Validator.check_schema(schema)
    return found


def problems(detail_type: str, detail: dict[str, Any]) -> list[str]:
    """What in `detail` its detail type's schema refuses (none: it conforms)."""
    validator = Draft202012Validator(
        schemas()[detail_type], format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    return [f"{list(error.path)}: {error.message}" for error in validator.iter_errors(detail)]
