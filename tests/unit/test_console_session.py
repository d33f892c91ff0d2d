"""The console's session cookies, CSRF tokens, sealed references and funnel: plain
functions over plain values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from consentry.analysis.contract import AnalysisRecord, ExclusionCounts
from consentry.analysis.exclusion import ExclusionCause
from consentry.analysis.terms import AnalysisStatus
from consentry.consent.tokens import Keyring
from consentry.core.errors import InvalidInputError
from console.funnel import funnel
from console.references import References
from console.session import CsrfError, NotSignedInError, Role, SessionKeys, role_of

OLD = Keyring(keys={"c1": "o" * 48}, active="c1")
ROTATED = Keyring(keys={"c1": "o" * 48, "c2": "n" * 48}, active="c2")
START = datetime(2026, 12, 1, 9, tzinfo=UTC)


def keys(keyring: Keyring = OLD, at: datetime = START) -> SessionKeys:
    return SessionKeys(keyring, lifetime=timedelta(hours=8), clock=lambda: at)


@pytest.mark.parametrize(
    ("groups", "role"),
    [
        (["operators"], Role.OPERATOR),
        (["viewers"], Role.VIEWER),
        (["viewers", "operators"], Role.OPERATOR),
        (["admins"], None),
        ([], None),
    ],
)
def test_the_strongest_console_group_gives_the_role(groups: list[str], role: Role | None) -> None:
    assert role_of(groups) is role


def test_a_session_opens_until_its_hours_are_over() -> None:
    session, cookie = keys().issue("ops", Role.OPERATOR)

    assert keys(at=START + timedelta(hours=8)).open(cookie) == session
    with pytest.raises(NotSignedInError):
        keys(at=START + timedelta(hours=8, seconds=1)).open(cookie)


def test_a_session_signed_before_a_rotation_still_opens_and_one_of_a_removed_key_does_not() -> None:
    _, cookie = keys(OLD).issue("ops", Role.VIEWER)

    assert keys(ROTATED).open(cookie).role is Role.VIEWER
    with pytest.raises(NotSignedInError):
        keys(Keyring(keys={"c3": "x" * 48}, active="c3")).open(cookie)


@pytest.mark.parametrize("cookie", [None, "", "garbage", "a.b.c", "x" * 5000, "\udcff"])
def test_what_is_not_a_session_cookie_is_no_session(cookie: str | None) -> None:
    with pytest.raises(NotSignedInError):
        keys().open(cookie)


def test_a_csrf_token_belongs_to_its_session_only() -> None:
    session_keys = keys()
    token = session_keys.csrf_token("session-a")

    session_keys.check_csrf(token, "session-a")
    for forged, bound_to in ((token, "session-b"), ("", "session-a"), ("\udcff", "session-a")):
        with pytest.raises(CsrfError):
            session_keys.check_csrf(forged, bound_to)


def test_a_sign_in_form_is_good_for_half_an_hour() -> None:
    cookie, token = keys().sign_in_binding()

    keys(at=START + timedelta(minutes=30)).check_sign_in(cookie, token)
    with pytest.raises(CsrfError):
        keys(at=START + timedelta(minutes=31)).check_sign_in(cookie, token)
    with pytest.raises(CsrfError):
        keys().check_sign_in("1." + cookie.partition(".")[2], token)


def test_a_reference_opens_as_its_kind_and_hides_what_it_holds() -> None:
    references = References(ROTATED)
    sealed = references.seal("address", "email:someone@example.com")

    assert "someone" not in sealed
    assert references.open("address", sealed, field="ref") == "email:someone@example.com"
    with pytest.raises(InvalidInputError):
        references.open("cursor", sealed, field="ref")
    with pytest.raises(InvalidInputError):
        references.open(
            "address", sealed[:-2] + ("AA" if sealed[-2:] != "AA" else "BB"), field="ref"
        )


def test_the_funnel_takes_each_causes_rows_away_down_to_the_target() -> None:
    counts = dict.fromkeys(ExclusionCause, 0) | {
        ExclusionCause.ADDRESS_INVALID: 100,
        ExclusionCause.DUPLICATE: 50,
    }
    record = AnalysisRecord(
        delivery_id="d-1",
        status=AnalysisStatus.SUCCEEDED,
        audience_size=1000,
        target_size=850,
        excluded=ExclusionCounts.of(counts),
    )

    steps = funnel(record)

    assert next(step.remaining for step in steps) == 1000
    assert steps[-1].label == "Target"
    assert steps[-1].rows == 850
    assert steps[-2].remaining == 850
    assert [s.rows for s in steps[1:-1]] == [counts[cause] for cause in ExclusionCause]
    assert steps[2].width == 60  # a tenth of the 600-unit bar
    assert funnel(record.model_copy(update={"excluded": None})) == []
