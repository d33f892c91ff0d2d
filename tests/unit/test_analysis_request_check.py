"""Plan's check of the state machine's input (`terms.check_request`, msgspec) against the
contract's model (`contract.AnalysisRequest`, pydantic): for any input, both accept it
or both refuse it, and what they accept is the same request.

The contract is read by its camelCase names only, as docs/schemas/analysis-input.json
states it; the operator API's models also take the Python names, which the state
machine's input never did by its schema."""

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from consentry.analysis.contract import AnalysisRequest
from consentry.analysis.terms import CheckedRequest, check_request
from consentry.core.errors import InvalidInputError

VALID: dict[str, Any] = {
    "deliveryId": "d-1",
    "channel": "email",
    "messageClass": "marketing",
    "audience": {"uri": "s3://bucket/audiences/a.csv"},
}

IDENTIFIER = st.from_regex(r"[A-Za-z0-9._:@+\-]{1,130}", fullmatch=True)
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
LONE_SURROGATES = st.sampled_from(["\ud800", "ok\udfffok"])
"""What JSON's `"\\ud800"` decodes to: text that is not valid Unicode."""
TEXT = st.one_of(st.text(max_size=140), LONE_SURROGATES)
NEAR_IDENTIFIER = st.one_of(
    IDENTIFIER,
    st.sampled_from(["a" * 128, "a" * 129]),
    IDENTIFIER.map(lambda text: text + "\n"),
    IDENTIFIER.map(lambda text: "\n" + text),
    IDENTIFIER.map(lambda text: text + " "),
    TEXT,
    st.just(""),
)


URI = st.one_of(
    st.from_regex(r"s3://[a-z0-9.\-]{1,20}/[^\n]{1,40}", fullmatch=True),
    st.just("s3://bucket/a.csv\n"),
    st.just("s3://bucket/a\nb.csv"),
    st.just("s3://bucket/"),
    st.just("s3:///key"),
    st.just("s3://bucket/" + "k" * 1088),
    st.just("s3://bucket/" + "k" * 1089),
    st.just("https://bucket/a.csv"),
    TEXT,
)
SEED = st.one_of(
    st.text(max_size=130),
    st.sampled_from(["s" * 128, "s" * 129, ""]),
    LONE_SURROGATES,
    st.integers(min_value=-(2**64), max_value=2**64),
    st.sampled_from([-(2**63), 2**63 - 1, -(2**63) - 1, 2**63]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**53), max_value=2**53).map(float),
    st.sampled_from([2.0**63, -(2.0**63), 2.0, 2.5, -0.0]),
    st.booleans(),
)
PERCENT = st.one_of(
    st.floats(min_value=-1, max_value=101),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-2, max_value=102),
    st.sampled_from([0.001, 0.000999, 99.99999, 100, 100.0, 0]),
    st.booleans(),
    st.text(max_size=4),
)
COLUMN = st.one_of(
    st.text(max_size=130), st.sampled_from(["", "c" * 128, "c" * 129]), LONE_SURROGATES
)

VALID_REQUEST = st.fixed_dictionaries(
    {
        "deliveryId": IDENTIFIER.filter(lambda text: len(text) <= 128),
        "channel": st.sampled_from(["email", "sms", "phone", "direct_mail", "push"]),
        "messageClass": st.sampled_from(["marketing", "transactional"]),
        "audience": st.fixed_dictionaries(
            {"uri": st.from_regex(r"s3://[a-z0-9.\-]{1,20}/[^\n]{1,40}", fullmatch=True)},
            optional={
                "format": st.sampled_from(["csv", "jsonl"]),
                "profileIdField": st.text(min_size=1, max_size=128),
                "addressField": st.text(min_size=1, max_size=128),
            },
        ),
    },
    optional={
        "serviceId": st.one_of(st.none(), IDENTIFIER.filter(lambda text: len(text) <= 128)),
        "controlGroup": st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {
                    "percent": st.floats(min_value=0.001, max_value=99.9),
                    "seed": st.one_of(
                        st.text(min_size=1, max_size=128),
                        st.integers(min_value=-(2**63), max_value=2**63 - 1),
                    ),
                }
            ),
        ),
        "dryRun": st.booleans(),
        "force": st.booleans(),
    },
)
"""A request the contract takes, with its optional fields or without them."""

CHANGES: dict[tuple[str, ...], st.SearchStrategy[Any]] = {
    ("deliveryId",): NEAR_IDENTIFIER,
    ("channel",): st.sampled_from(["pigeon", "Email", "sms "]),
    ("messageClass",): st.sampled_from(["Marketing", "promo"]),
    ("serviceId",): NEAR_IDENTIFIER,
    ("audience",): st.one_of(st.just({}), st.just([]), st.just("s3://bucket/a.csv")),
    ("audience", "uri"): URI,
    ("audience", "format"): st.sampled_from(["xlsx", "CSV", None]),
    ("audience", "profileIdField"): COLUMN,
    ("audience", "addressField"): COLUMN,
    ("audience", "profile_id_field"): st.just("id"),
    ("audience", "sep"): JUNK,
    ("controlGroup",): st.one_of(st.just({}), st.just({"percent": 5})),
    ("controlGroup", "percent"): PERCENT,
    ("controlGroup", "seed"): SEED,
    ("controlGroup", "sample"): JUNK,
    ("dryRun",): st.one_of(st.just(1), st.just("true"), st.none()),
    ("force",): st.one_of(st.just(0), st.just("false")),
    ("delivery_id",): st.just("d-1"),
    ("dryrun",): st.booleans(),
}
"""A field and what it may be changed to: edges of its rule on either side, other
types, misspelt and Python names. Any field may also become anything (JUNK)."""


VALID_PARTS: dict[str, dict[str, Any]] = {
    "audience": {"uri": "s3://bucket/a.csv"},
    "controlGroup": {"percent": 5, "seed": 1},
}


@st.composite
def changed_requests(draw: st.DrawFn, path: tuple[str, ...]) -> dict[str, Any]:
    """A request the contract takes with the field at `path` changed (its part made
    anew, valid, where the request had none) or removed, and maybe one other change."""
    raw: dict[str, Any] = draw(VALID_REQUEST)
    other = draw(st.lists(st.sampled_from(sorted(CHANGES)), max_size=1))
    for changed in (path, *other):
        *parents, name = changed
        part = raw
        for parent in parents:
            if not isinstance(part.get(parent), dict):
                part[parent] = dict(VALID_PARTS[parent])
            part = part[parent]
        if draw(st.integers(min_value=0, max_value=9)) == 0:
            part.pop(name, None)
        else:
            part[name] = draw(st.one_of(CHANGES[changed], CHANGES[changed], JUNK))
    return raw


def _by_the_contract(raw: Any) -> CheckedRequest | None:
    try:
        return AnalysisRequest.model_validate(raw, by_alias=True, by_name=False).checked()
    except ValidationError:
        return None


def _by_plan(raw: Any) -> CheckedRequest | None:
    try:
        return check_request(raw)
    except InvalidInputError:
        return None


@settings(max_examples=60)
@given(VALID_REQUEST)
def test_plan_takes_every_request_the_contract_takes(raw: dict[str, Any]) -> None:
    assert _by_the_contract(raw) is not None
    assert _by_plan(raw) == _by_the_contract(raw)


@pytest.mark.parametrize("path", sorted(CHANGES), ids=".".join)
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_plan_and_the_contract_take_the_same_requests(
    path: tuple[str, ...], data: st.DataObject
) -> None:
    raw = data.draw(changed_requests(path))

    assert _by_plan(raw) == _by_the_contract(raw)


@settings(max_examples=400)
@given(st.one_of(JUNK, st.dictionaries(st.text(max_size=12), JUNK, max_size=6)))
def test_plan_and_the_contract_refuse_the_same_junk(raw: Any) -> None:
    if not isinstance(raw, dict):
        with pytest.raises(InvalidInputError, match="JSON object"):
            check_request(raw)
        return
    assert _by_plan(raw) == _by_the_contract(raw)


@pytest.mark.parametrize(
    "raw",
    [
        VALID,
        {**VALID, "serviceId": "newsletter", "dryRun": True, "force": True},
        {**VALID, "audience": {**VALID["audience"], "format": "jsonl", "addressField": "email"}},
        {**VALID, "controlGroup": {"percent": 0.001, "seed": "spring"}},
        {**VALID, "controlGroup": {"percent": 5, "seed": -(2**63)}},
        {**VALID, "controlGroup": {"percent": 99.5, "seed": 2.0}},
    ],
)
def test_a_good_request_is_the_contract_s(raw: dict[str, Any]) -> None:
    checked = check_request(raw)

    assert checked == _by_the_contract(raw)
    assert checked.document() == AnalysisRequest.model_validate(raw).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ({k: v for k, v in VALID.items() if k != "channel"}, "channel", "required"),
        ({**VALID, "channel": "pigeon"}, "channel", "pigeon"),
        ({**VALID, "messageClass": "promo"}, "messageClass", "promo"),
        ({**VALID, "audience": {"uri": "https://x/a.csv"}}, "audience.uri", "regex"),
        ({**VALID, "audience": {}}, "audience.uri", "required"),
        ({**VALID, "audience": {"uri": "s3://b/a", "format": "xlsx"}}, "audience.format", "xlsx"),
        ({**VALID, "audience": {"uri": "s3://b/a", "sep": ";"}}, "audience.sep", "unknown"),
        ({**VALID, "controlGroup": {"percent": 100, "seed": "s"}}, "controlGroup.percent", "100"),
        ({**VALID, "controlGroup": {"percent": 1, "seed": 2.5}}, "controlGroup.seed", "float"),
        ({**VALID, "deliveryId": "no spaces"}, "deliveryId", "regex"),
        ({**VALID, "deliveryId": "d-1\n"}, "deliveryId", "regex"),
        ({**VALID, "dryRun": "yes"}, "dryRun", "bool"),
        ({**VALID, "channel": "x - at `$.dryRun"}, "channel", "enum"),
        ({**VALID, "audience": {"uri": "s3://b/\ud800"}}, "audience.uri", "Unicode"),
        (
            {**VALID, "controlGroup": {"percent": 1, "seed": "\udfff"}},
            "controlGroup.seed",
            "Unicode",
        ),
        ({**VALID, "surprise": 1}, "surprise", "unknown field"),
        ({**VALID, "delivery_id": "d-1"}, "delivery_id", "unknown field"),
        ("not an object", "request", "JSON object"),
        ([VALID], "request", "JSON object"),
    ],
)
def test_a_bad_request_names_the_field(raw: Any, field: str, message: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        check_request(raw)

    assert raised.value.field == field
    assert message in str(raised.value)
