"""The analysis record (the state machine's output) as a table for a terminal."""

from __future__ import annotations

from typing import Any


def table(record: dict[str, Any]) -> str:
    """Rows per cause, in the exclusion order the record lists them, and the totals."""
    audience = int(record.get("audienceSize") or 0)
    excluded = record.get("excluded") or {}

    def line(label: str, count: int) -> str:
        share = 100 * count / audience if audience else 0.0
        return f"  {label:<22}{count:>12,}{share:>9.2f}"

    rule = "  " + "-" * 43
    lines = [
        f"Analysis of delivery {record['deliveryId']}: {record['status']}"
        + ("  (dry run)" if record.get("dryRun") else ""),
        f"consent as of {record.get('consentAsOf') or '-'}",
        "",
        f"  {'cause':<22}{'rows':>12}{'%':>9}",
        rule,
        *(line(cause, int(count)) for cause, count in excluded.items()),
        rule,
        line("excluded", sum(int(count) for count in excluded.values())),
        line("target", int(record.get("targetSize") or 0)),
        line("audience", audience),
        "",
    ]
    target = record.get("target")
    if target:
        parts = target["parts"]
        lines.append(f"target         {target['uri']}  ({parts} part{'s' if parts != 1 else ''})")
    else:
        lines.append("target         none (dry run)")
    log = record.get("exclusionLog")
    if log:
        lines.append(f"exclusion log  {log['uri']}")
    return "\n".join(lines)
