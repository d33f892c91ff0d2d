"""Write (or, with --check, compare) docs/openapi.json from the operator API's routes.

The document is generated from the Powertools resolver of the `consent` function, so
it cannot disagree with the code; CI fails when the committed copy has drifted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "docs" / "openapi.json"


def generate() -> str:
    sys.path.insert(0, str(ROOT / "functions"))
    from consentry.core.settings import required_names  # noqa: PLC0415 (functions/ is on the path only now)

    # The handler reads its settings at import; the values do not reach the document.
    for name in required_names():
        os.environ.setdefault(name.upper(), "openapi")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    from consent.handler import app  # noqa: PLC0415 (needs the settings above)

    schema = json.loads(app.get_openapi_json_schema())
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when docs/openapi.json drifted")
    args = parser.parse_args()
    text = generate()
    if args.check:
        if TARGET.read_text(encoding="utf-8") != text:
            print("docs/openapi.json is out of date: run `make openapi`", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
