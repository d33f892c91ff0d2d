"""The Classify step's job written for DuckDB and for polars: the anchor of the
classify rate (dev-only engines, never in the Lambda package).

The job is the benchmark's: an email marketing delivery without a service or a control
group, over a generated CSV audience and a suppression snapshot. Each engine reads the
audience, applies the exclusion order (missing, invalid, denylisted, quarantined, opted
out, duplicate), and writes the target (every column, audience order, with the header)
and the exclusion log (`row,profile_id,address,cause`) as CSV files, as the Classify
step does. The address rules are the normalizer's fast path (trimmed, lower-cased, a
dot-atom local part of at most 64 characters, LDH domain labels under an alphabetic,
not special-use top-level domain): on the generated audiences every address takes that
path, and `classify_result` checks that the engines agree with the Classify step row
for row.

Both engines run on one thread, so that their rate is CPU seconds of one core, like the
Classify step's.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

CAUSES = (
    "address_missing",
    "address_invalid",
    "address_denylisted",
    "address_quarantined",
    "profile_opted_out",
    "not_subscribed",
    "duplicate",
    "control_group",
)
ATEXT = "a-z0-9!#$%&'*+/=?^_`{|}~-"
LOCAL_PART = f"[{ATEXT}]+(\\.[{ATEXT}]+)*"
DOMAIN = r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
SPECIAL_USE = ("arpa", "invalid", "local", "localhost", "onion", "test")
MAX_LOCAL_PART = 64
MAX_DOMAIN = 254 - MAX_LOCAL_PART - 1


def result_of(log: Path) -> dict[str, Any]:
    """What must agree between engines: the counts per cause, and a digest of the
    excluded rows with their causes (the target is every other row)."""
    counts = dict.fromkeys(CAUSES, 0)
    digest = hashlib.sha256()
    with log.open(newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        for row, _profile, _address, cause in _data(reader):
            counts[cause] += 1
            digest.update(f"{row},{cause}\n".encode())
    return {"excluded": counts, "log_digest": digest.hexdigest()}


def _data(reader: Iterable[list[str]]) -> Iterable[list[str]]:
    rows = iter(reader)
    first = next(rows, None)
    if first is not None and first[0] != "row":
        yield first
    yield from rows


def snapshot_sets(snapshot: Path) -> dict[str, list[str]]:
    """The snapshot's lists, read before the clock starts (as the Classify step's are)."""
    data = json.loads(snapshot.read_text())
    return {
        "opted_out": data["optedOut"],
        "denylisted": data["denylisted"],
        "quarantined": data["quarantined"],
    }


def duckdb_job(audience: Path, sets: dict[str, list[str]], out: Path) -> int:
    """The job in DuckDB; the audience's row count."""
    import duckdb

    db = duckdb.connect()
    db.execute("SET threads = 1")
    db.execute("SET preserve_insertion_order = true")
    for name, values in sets.items():
        db.execute(f"CREATE TABLE {name} AS SELECT unnest(?::VARCHAR[]) AS value", [values])
    special = ", ".join(f"'{tld}'" for tld in SPECIAL_USE)
    db.execute(
        'CREATE TABLE audience AS SELECT row_number() OVER () AS "row", * '
        "FROM read_csv(?, header = true, all_varchar = true, quote = '\"', escape = '\"')",
        [str(audience)],
    )
    db.execute(
        f"""
        CREATE TABLE verdicts AS
        WITH normal AS (
            SELECT "row", trim(profile_id) AS profile, coalesce(trim(address), '') AS trimmed,
                   lower(coalesce(trim(address), '')) AS norm
            FROM audience
        ), parts AS (
            SELECT *, strpos(norm, '@') AS at_sign,
                   split_part(norm, '@', 1) AS local_part,
                   substr(norm, strpos(norm, '@') + 1) AS domain_part
            FROM normal
        ), ruled AS (
            SELECT "row", profile, trimmed, norm, CASE
                WHEN trimmed = '' THEN 1
                WHEN NOT (at_sign > 0 AND length(local_part) <= {MAX_LOCAL_PART}
                          AND length(domain_part) <= {MAX_DOMAIN}
                          AND regexp_full_match(local_part, '{LOCAL_PART.replace("'", "''")}')
                          AND regexp_full_match(domain_part, '{DOMAIN}')
                          AND split_part(domain_part, '.', -1) NOT IN ({special})) THEN 2
                WHEN norm IN (SELECT value FROM denylisted) THEN 3
                WHEN norm IN (SELECT value FROM quarantined) THEN 4
                WHEN profile IN (SELECT value FROM opted_out) THEN 5
            END AS code
            FROM parts
        )
        SELECT "row", profile, trimmed, CASE
            WHEN code IS NOT NULL THEN code
            WHEN row_number() OVER (PARTITION BY code IS NULL, norm ORDER BY "row") > 1 THEN 7
        END AS code
        FROM ruled
        """  # noqa: S608 (constants of this module)
    )
    causes = ", ".join(f"'{cause}'" for cause in CAUSES)
    db.execute(
        f"""COPY (SELECT a.* EXCLUDE ("row") FROM audience a JOIN verdicts v USING ("row")
            WHERE v.code IS NULL ORDER BY "row") TO '{out / "target.csv"}' (HEADER)"""  # noqa: S608
    )
    db.execute(
        f"""COPY (SELECT "row", profile AS profile_id, trimmed AS address,
            list_extract([{causes}], code) AS cause FROM verdicts
            WHERE code IS NOT NULL ORDER BY "row") TO '{out / "log.csv"}' (HEADER)"""  # noqa: S608
    )
    (rows,) = db.execute("SELECT count(*) FROM audience").fetchone() or (0,)
    db.close()
    return int(rows)


def polars_job(audience: Path, sets: dict[str, list[str]], out: Path) -> int:
    """The job in polars; the audience's row count."""
    os.environ["POLARS_MAX_THREADS"] = "1"
    import polars as pl

    frame = pl.read_csv(audience, infer_schema=False).with_row_index("row", offset=1)
    trimmed = pl.col("address").fill_null("").str.strip_chars()
    norm = trimmed.str.to_lowercase()
    local = norm.str.extract(r"^([^@]*)@", 1)
    domain = norm.str.extract(r"^[^@]*@(.*)$", 1)
    valid = (
        norm.str.contains("@", literal=True)
        & (local.str.len_chars() <= MAX_LOCAL_PART)
        & (domain.str.len_chars() <= MAX_DOMAIN)
        & local.str.contains(f"^{LOCAL_PART}$")
        & domain.str.contains(f"^{DOMAIN}$")
        & ~domain.str.extract(r"\.([^.]*)$", 1).is_in(SPECIAL_USE)
    )
    ruled = frame.with_columns(
        trimmed.alias("_trimmed"),
        norm.alias("_norm"),
        pl.when(trimmed == "")
        .then(1)
        .when(~valid.fill_null(False))
        .then(2)
        .when(norm.is_in(sets["denylisted"]))
        .then(3)
        .when(norm.is_in(sets["quarantined"]))
        .then(4)
        .when(pl.col("profile_id").str.strip_chars().is_in(sets["opted_out"]))
        .then(5)
        .otherwise(None)
        .alias("_code"),
    )
    first = pl.int_range(pl.len()).over(pl.col("_code").is_null(), "_norm") == 0
    ruled = ruled.with_columns(
        pl.when(pl.col("_code").is_null() & ~first)
        .then(7)
        .otherwise(pl.col("_code"))
        .alias("_code")
    )
    columns = [c for c in frame.columns if c != "row"]
    ruled.filter(pl.col("_code").is_null()).select(columns).write_csv(out / "target.csv")
    ruled.filter(pl.col("_code").is_not_null()).select(
        pl.col("row"),
        pl.col("profile_id").str.strip_chars(),
        pl.col("_trimmed").alias("address"),
        pl.col("_code")
        .replace_strict(list(range(1, len(CAUSES) + 1)), list(CAUSES), return_dtype=pl.String)
        .alias("cause"),
    ).write_csv(out / "log.csv")
    return ruled.height
