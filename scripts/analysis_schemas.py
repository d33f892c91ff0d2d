"""Write (or, with --check, compare) docs/schemas/analysis-*.json, the JSON schemas of the
analysis state machine's input and output, from the models in consentry.analysis.contract."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {
    "analysis-input.json": ("AnalysisRequest", "validation"),
    "analysis-output.json": ("AnalysisRecord", "serialization"),
}


def generate() -> dict[str, str]:
    sys.path.insert(0, str(ROOT / "functions"))
    from consentry.analysis import contract as analysis  # noqa: PLC0415 (functions/ is on the path only now)

    documents = {}
    for name, (model_name, mode) in TARGETS.items():
        model = getattr(analysis, model_name)
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://consentry.example/schemas/{name}",
            **model.model_json_schema(by_alias=True, mode=mode),
        }
        documents[name] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return documents


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when a schema drifted")
    args = parser.parse_args()
    stale = []
    for name, text in generate().items():
        target = ROOT / "docs" / "schemas" / name
        if args.check:
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                stale.append(name)
            continue
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target.relative_to(ROOT)}")
    if stale:
        print(f"out of date: {', '.join(stale)}: run scripts/analysis_schemas.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
