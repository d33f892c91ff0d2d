"""The settings: read from the environment's text, checked, and refused with every
variable that is wrong named."""

from __future__ import annotations

import re
from dataclasses import fields

import pytest

from consentry.core import settings as settings_module
from consentry.core.settings import Settings, SettingsError, required_names, setting_names


def environment(**overrides: str) -> dict[str, str]:
    return {**{name.upper(): f"{name}-value" for name in required_names()}, **overrides}


def test_resource_names_are_required_and_read_as_given() -> None:
    settings = Settings.from_environment(environment())

    assert settings.profiles_table == "profiles_table-value"
    assert settings.data_bucket == "data_bucket-value"
    assert settings.state_machine_arn is None  # optional, and not given


def test_every_annotation_has_a_reader() -> None:
    assert {str(setting.type) for setting in fields(Settings)} <= set(settings_module._READERS)


def test_defaults_hold_when_the_environment_leaves_them_out() -> None:
    settings = Settings.from_environment(environment())

    assert (settings.link_ttl_days, settings.owner_opt_out_denylists) == (90, True)
    assert settings.outage_min_failure_ratio == 0.3
    assert settings.public_base_url == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("False", False), ("1", True), ("0", False), ("yes", True), ("off", False)],
)
def test_flags_are_read_from_text(text: str, expected: bool) -> None:
    assert Settings.from_environment(environment(SENDER_SMTPUTF8=text)).sender_smtputf8 is expected


def test_numbers_are_read_from_text() -> None:
    settings = Settings.from_environment(
        environment(SHARD_ROWS=" 2500 ", OUTAGE_MIN_FAILURE_RATIO="0.5", LINK_TTL_DAYS="+60")
    )

    assert (settings.shard_rows, settings.outage_min_failure_ratio) == (2500, 0.5)
    assert settings.link_ttl_days == 60


@pytest.mark.parametrize(
    ("text", "expected"), [("1_000", 1000), ("90.0", 90), ("75.", 75), ("08", 8), ("-0", 0)]
)
def test_whole_numbers_take_the_forms_pydantic_took(text: str, expected: int) -> None:
    settings = Settings.from_environment(environment(SIGNING_KEYS_MAX_AGE_S=text))

    assert settings.signing_keys_max_age_s == expected


def test_text_settings_keep_what_they_are_given() -> None:
    settings = Settings.from_environment(
        environment(EVENT_BUS_NAME="consent-events", PUBLIC_BASE_URL="", CONFIRMATION_SENDER="")
    )

    assert settings.event_bus_name == "consent-events"
    assert (settings.public_base_url, settings.confirmation_sender) == ("", "")


@pytest.mark.parametrize(
    ("variable", "text", "message"),
    [
        ("SENDER_SMTPUTF8", "maybe", "SENDER_SMTPUTF8: must be true or false"),
        ("SHARD_ROWS", "1.5", "SHARD_ROWS: must be a whole number"),
        ("SHARD_ROWS", "", "SHARD_ROWS: must be a whole number"),
        ("SHARD_ROWS", "+-5", "SHARD_ROWS: must be a whole number"),
        ("SHARD_ROWS", "1__000", "SHARD_ROWS: must be a whole number"),
        ("SIGNING_KEYS_MAX_AGE_S", "-1", "SIGNING_KEYS_MAX_AGE_S: must be at least 0"),
        ("SHARD_ROWS", "0", "SHARD_ROWS: must be at least 1"),
        ("LINK_TTL_DAYS", "59", "LINK_TTL_DAYS: must be at least 60"),
        ("CONSOLE_SESSION_HOURS", "25", "CONSOLE_SESSION_HOURS: must be at most 24"),
        ("OUTAGE_MIN_FAILURE_RATIO", "0", "OUTAGE_MIN_FAILURE_RATIO: must be more than 0"),
        ("OUTAGE_MIN_FAILURE_RATIO", "nan", "OUTAGE_MIN_FAILURE_RATIO: must be more than 0"),
        ("OUTAGE_MIN_FAILURE_RATIO", "inf", "OUTAGE_MIN_FAILURE_RATIO: must be at most 1"),
        ("OUTAGE_MIN_FAILURE_RATIO", "a third", "OUTAGE_MIN_FAILURE_RATIO: must be a number"),
    ],
)
def test_a_value_out_of_its_type_or_bounds_is_refused_by_name(
    variable: str, text: str, message: str
) -> None:
    with pytest.raises(SettingsError, match=re.escape(message) + "$"):
        Settings.from_environment(environment(**{variable: text}))


def test_every_problem_is_named_at_once() -> None:
    given = environment(SHARD_ROWS="many")
    del given["PROFILES_TABLE"], given["DATA_BUCKET"]

    with pytest.raises(SettingsError) as refused:
        Settings.from_environment(given)

    assert str(refused.value) == (
        "invalid settings: PROFILES_TABLE: missing; DATA_BUCKET: missing; "
        "SHARD_ROWS: must be a whole number"
    )


def test_other_variables_are_ignored() -> None:
    given = environment(SHARD_ROWS_LIMIT="many", POWERTOOLS_SERVICE_NAME="x")

    assert "SHARD_ROWS_LIMIT" not in {name.upper() for name in setting_names()}
    assert Settings.from_environment(given) == Settings.from_environment(environment())


def test_settings_are_frozen_and_compare_by_value() -> None:
    settings = Settings.from_environment(environment())

    with pytest.raises(AttributeError):
        settings.shard_rows = 2  # type: ignore[misc]
    assert settings == Settings.from_environment(environment())


def test_settings_are_built_by_name_with_every_required_one() -> None:
    given = {name: f"{name}-value" for name in required_names()}
    built = Settings(**given)

    assert built == Settings.from_environment(environment())
    assert hash(built) == hash(Settings.from_environment(environment()))
    with pytest.raises(TypeError, match="data_bucket is required"):
        Settings(**{name: value for name, value in given.items() if name != "data_bucket"})
    with pytest.raises(TypeError, match="no setting shard_row"):
        Settings(**given, shard_row=2)
    assert Settings.from_environment(environment(SHARD_ROWS="2")) != built
