"""The result of an analysis does not depend on how the audience is sharded, and its
counts always add up to the audience: the pipeline's data flow (chunks, shards by
address, classification per shard in audience order, the target merged back by
position), with the production classifier and shard function."""

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.analysis.classifier import (
    TARGETED,
    VERDICTS,
    Rules,
    ShardClassifier,
    Suppression,
    shard_of,
)
from consentry.core.types import Channel, MessageClass

Row = tuple[str, str]
"""A row of the audience: its profile id and its address."""

ADDRESSES = [
    "a@example.com",
    "A@example.com",
    "b@example.org",
    " b@example.org",
    "c@example.net",
    "d@example.com",
    "",
    "bad",
    "q@example.com",
    "x@example.com",
]
PROFILES = [f"p{n}" for n in range(8)]
SUPPRESSION = Suppression.of(
    opted_out={"p1", "p2"}, denylisted={"x@example.com"}, quarantined={"q@example.com"}
)


def analyze(rows: list[Row], rules: Rules, shards: int, chunks: int) -> tuple[list[Row], list[int]]:
    """Target rows (in audience order) and counts, as Partition, Classify and Assemble
    compute them for `shards` shards over `chunks` chunks."""
    normalize = rules.normalizer()
    size = max(1, -(-len(rows) // chunks))
    spans = [rows[start : start + size] for start in range(0, len(rows), size)] or [[]]
    # Partition: each chunk's rows to the shard of their address, with their index.
    shard_inputs: list[list[list[tuple[int, Row]]]] = [[[] for _ in spans] for _ in range(shards)]
    for chunk, span in enumerate(spans):
        for index, row in enumerate(span):
            shard_inputs[shard_of(row[1], shards, normalize)][chunk].append((index, row))
    # Classify: each shard reads its rows chunk by chunk, in order.
    verdict_of: dict[tuple[int, int], int] = {}
    counts: Counter[int] = Counter()
    for shard in range(shards):
        verdict = ShardClassifier(SUPPRESSION, rules)
        for chunk, chunk_rows in enumerate(shard_inputs[shard]):
            for index, (profile_id, address) in chunk_rows:
                code = verdict(profile_id, address)
                verdict_of[chunk, index] = code
                counts[code] += 1
    # Assemble: each chunk's rows in order, the targeted ones only.
    target = [
        row
        for chunk, span in enumerate(spans)
        for index, row in enumerate(span)
        if verdict_of[chunk, index] == TARGETED
    ]
    return target, [counts[code] for code in range(VERDICTS)]


rules_strategy = st.builds(
    Rules,
    channel=st.just(Channel.EMAIL),
    message_class=st.sampled_from(list(MessageClass)),
    default_region=st.just("US"),
    control_percent=st.sampled_from([None, 30.0]),
    control_seed=st.sampled_from(["s1", "s2"]),
)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.tuples(st.sampled_from(PROFILES), st.sampled_from(ADDRESSES)), max_size=60),
    rules=rules_strategy,
    shards=st.integers(2, 7),
    chunks=st.integers(1, 5),
)
def test_target_rows_in_order_and_counts_do_not_depend_on_sharding(
    rows: list[Row], rules: Rules, shards: int, chunks: int
) -> None:
    assert analyze(rows, rules, shards, chunks) == analyze(rows, rules, 1, 1)


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(st.tuples(st.sampled_from(PROFILES), st.sampled_from(ADDRESSES)), max_size=60),
    rules=rules_strategy,
    shards=st.integers(1, 7),
)
def test_the_counts_add_up_to_the_audience(rows: list[Row], rules: Rules, shards: int) -> None:
    target, counts = analyze(rows, rules, shards, 3)

    assert sum(counts) == len(rows)
    assert counts[TARGETED] == len(target)
