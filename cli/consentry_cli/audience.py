"""Generated audiences for the demo (`make run`) and the benchmarks: deterministic rows
with a chosen share of each kind of bad row, and the consent data that makes them bad."""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from pathlib import Path

FIRST = ("emma", "liam", "sanne", "noah", "camille", "lukas", "olivia", "mila", "sem", "lea")
LAST = ("walker", "devries", "martin", "schmidt", "peeters", "brown", "jansen", "dubois")
DOMAINS = ("example.com", "example.org", "example.net", "mail.example", "post.example.de")
CITIES = ("Amsterdam", "Brussels", "Paris", "Berlin", "London", "Utrecht")
COLUMNS = ("profile_id", "address", "first_name", "city")


@dataclass(frozen=True)
class Mix:
    """Shares of the rows (0..1) that are each kind of bad; the rest are plain."""

    opted_out: float = 0.05
    quarantined: float = 0.02
    denylisted: float = 0.01
    duplicates: float = 0.01
    invalid: float = 0.005
    missing: float = 0.005


@dataclass
class Generated:
    """What was written, and the consent data to seed for it to be excluded."""

    path: Path
    rows: int
    opted_out: list[str] = field(default_factory=list)
    """Profile ids (opted out of everything)."""
    quarantined: list[str] = field(default_factory=list)
    denylisted: list[str] = field(default_factory=list)


def generate(path: Path, rows: int, mix: Mix = Mix(), seed: int = 7) -> Generated:
    """Write a CSV audience of `rows` rows (profile_id, address, first_name, city)."""
    rng = random.Random(seed)  # noqa: S311 (test data, not secrets)
    generated = Generated(path=path, rows=rows)
    edges = []
    total = 0.0
    for kind in ("missing", "invalid", "duplicates", "denylisted", "quarantined", "opted_out"):
        total += getattr(mix, kind)
        edges.append((total, kind))
    plain: list[str] = []
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(COLUMNS)
        for number in range(rows):
            profile_id = f"p{number:09d}"
            first, last = rng.choice(FIRST), rng.choice(LAST)
            address = f"{first}.{last}{number}@{rng.choice(DOMAINS)}"
            draw = rng.random()
            kind = next((name for edge, name in edges if draw < edge), "plain")
            if kind == "missing":
                address = ""
            elif kind == "invalid":
                address = f"{first}.{last}{number}.at.example"
            elif kind == "duplicates" and plain:
                address = rng.choice(plain).upper()
            elif kind == "denylisted":
                generated.denylisted.append(address)
            elif kind == "quarantined":
                generated.quarantined.append(address)
            elif kind == "opted_out":
                generated.opted_out.append(profile_id)
            else:
                plain.append(address)
            writer.writerow((profile_id, address, first.title(), rng.choice(CITIES)))
    return generated
