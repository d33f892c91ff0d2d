"""Counts a test run reports at its end (pytest's terminal summary): what the hostile
suites sent and what came back, for the figures a release note quotes."""

from collections import Counter

TALLY: Counter[str] = Counter()
"""`name` -> count; printed as `name=count` lines after the run, when any."""
