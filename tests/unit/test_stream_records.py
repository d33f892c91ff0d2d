"""Stream records read into plain values: as boto3's deserializer reads every valid
item, and refused, not guessed at, when a value is not DynamoDB's typed JSON."""

from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer
from hypothesis import given
from hypothesis import strategies as st

from consentry.events.records import UnreadableStreamRecordError, read_record

NAMES = st.text(min_size=1, max_size=12)
NUMBERS = st.one_of(
    st.integers(min_value=-(10**38) + 1, max_value=10**38 - 1),
    st.decimals(
        allow_nan=False, allow_infinity=False, places=6, min_value=-(10**20), max_value=10**20
    ),
).map(str)
SCALARS = st.one_of(
    st.text(max_size=20).map(lambda text: {"S": text}),
    NUMBERS.map(lambda number: {"N": number}),
    st.booleans().map(lambda flag: {"BOOL": flag}),
    st.just({"NULL": True}),
    st.lists(st.text(max_size=8), min_size=1, max_size=4, unique=True).map(lambda ss: {"SS": ss}),
    st.lists(st.integers(-1000, 1000), min_size=1, max_size=4, unique=True).map(
        lambda ns: {"NS": [str(n) for n in ns]}
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda items: {"L": items}),
        st.dictionaries(NAMES, inner, max_size=3).map(lambda fields: {"M": fields}),
    ),
    max_leaves=12,
)
IMAGES = st.dictionaries(NAMES, VALUES, min_size=1, max_size=6)


def record(image: dict[str, Any]) -> dict[str, Any]:
    return {
        "eventName": "INSERT",
        "dynamodb": {"Keys": {"pk": {"S": "k"}}, "NewImage": image, "SequenceNumber": "7"},
    }


def canonical(value: Any) -> Any:
    """Numbers as the records give them (whole ones as int, others as float), sets and
    lists compared whole (a set has no order)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, dict):
        return {name: canonical(inner) for name, inner in value.items()}
    return sorted((canonical(inner) for inner in value), key=repr)


@given(IMAGES)
def test_an_image_reads_as_boto3s_deserializer_reads_it(image: dict[str, Any]) -> None:
    boto3_read = {name: TypeDeserializer().deserialize(value) for name, value in image.items()}

    assert canonical(read_record(record(image)).new) == canonical(boto3_read)


def test_whole_numbers_read_as_ints_and_others_as_floats() -> None:
    image = {"count": {"N": "42"}, "share": {"N": "0.25"}, "nested": {"L": [{"N": "3.0"}]}}

    assert read_record(record(image)).new == {"count": 42, "share": 0.25, "nested": [3]}


@pytest.mark.parametrize(
    "value",
    [
        {},
        "text",
        None,
        {"Q": "1"},
        {"N": "not a number"},
        {"N": "NaN"},
        {"N": "-Infinity"},
        {"N": "1e400"},
        {"N": "1" * 39 + ".5"},
        {"M": {"inner": {"N": "abc"}}},
        {"L": [{}]},
    ],
    ids=[
        "empty",
        "untyped",
        "null",
        "unknown-type",
        "not-a-number",
        "nan",
        "infinity",
        "out-of-range",
        "too-precise",
        "nested-not-a-number",
        "nested-empty",
    ],
)
def test_a_value_that_is_not_dynamodbs_typed_json_makes_the_record_unreadable(
    value: Any,
) -> None:
    with pytest.raises(UnreadableStreamRecordError):
        read_record(record({"field": value}))
