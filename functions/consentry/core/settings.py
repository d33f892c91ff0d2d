"""Deployment settings, read once from the environment the template gives each function.

Each field is the environment variable of its name in capitals (`profiles_table` is
`PROFILES_TABLE`). Numbers and flags are read from text as pydantic read them: flags
`true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off` in any case, whole numbers also as
`1_000` or `90.0` (a CloudFormation Number parameter may be given so), spaces around a
value ignored. A number must keep its bounds: a function whose settings do not hold
does not start, and its error names every variable that is missing or wrong. Other
variables are ignored.

A dataclass, not a pydantic model: every function reads its settings at init, where
the model was the first of ours built in most functions, 2-6 ms of their cold start
with the schema machinery it loaded, for what is a reader of text (docs/decisions.md,
"The settings are a dataclass").

The one place that reads the environment; the handlers hand the settings down.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from functools import lru_cache
from typing import Any, Self, TypeVar


class SettingsError(ValueError):
    """The environment does not hold valid settings; the message names each variable."""


def bounded(
    default: float, *, ge: float | None = None, gt: float | None = None, le: float | None = None
) -> Any:
    """A number setting with its default and the bounds its value must keep."""
    given = {"ge": ge, "gt": gt, "le": le}
    return field(default=default, metadata={name: v for name, v in given.items() if v is not None})


@dataclass(frozen=True, init=False, repr=False, eq=False)
class Settings:
    """Resource names have no defaults: a function without them must not start.

    Frozen, compared by value, built by name; its `__init__`, `__eq__` and `__hash__`
    are written here rather than generated: for 55 fields the dataclass's generated
    methods cost 3 ms of every function's init to compile, the class as it is 0.9 ms
    (docs/decisions.md, "The operator API's init builds no model of ours; the
    settings' methods are written out")."""

    aws_region: str

    profiles_table: str
    consent_events_table: str
    addresses_table: str
    address_events_table: str
    domain_windows_table: str
    rate_limits_table: str
    erased_addresses_table: str
    console_sessions_table: str
    honour_metrics_table: str
    daily_counts_table: str
    services_table: str
    subscriptions_table: str
    analyses_table: str
    imports_table: str
    idempotency_table: str
    data_bucket: str
    signing_keys_secret: str
    erasure_keys_secret: str
    state_machine_arn: str | None = None
    """Only the functions that start analyses are given it."""
    import_function_name: str | None = None
    """Only the function that starts imports is given it."""
    profile_id_key_secret: str | None = None
    """Only the landing function is given it: the key of visitors' profile ids."""
    event_bus_name: str | None = None
    """Only the publisher is given it: the bus consent and address changes go to."""
    console_user_pool_id: str | None = None
    """Only the console is given it: the Cognito user pool its users sign in with."""
    console_client_id: str | None = None
    """The console's app client of that pool (USER_PASSWORD_AUTH, no secret)."""
    console_session_keys_secret: str | None = None
    """The keys of the console's session cookies and forms."""
    console_session_hours: int = bounded(8, ge=1, le=24)
    """How long a console session lasts after signing in."""

    link_ttl_days: int = bounded(90, ge=60)
    signing_keys_max_age_s: int = bounded(300, ge=0)
    owner_opt_out_denylists: bool = True
    default_phone_region: str = "US"
    sender_smtputf8: bool = False
    """The email sender supports SMTPUTF8, so local parts may hold non-ASCII letters
    (`üser@...`); SES does not, and such addresses are invalid without it."""
    sms_any_number_type: bool = False
    """Texts may go to numbers whose type cannot receive them as far as phonenumbers
    knows (fixed line, toll-free, premium rate); without it these are invalid for SMS."""
    public_base_url: str = ""
    """The links' base URL (a custom domain); empty: the host and stage of the request."""
    confirmation_sender: str | None = None
    """The From address of double opt-in confirmation emails (an SES-verified identity)."""
    signup_mails_per_mailbox_hour: int = bounded(3, ge=1)
    """Confirmation emails one mailbox gets in an hour at most, however its address is
    spelled (plus tags, and dots where the provider ignores them)."""
    signup_requests_per_client_hour: int = bounded(20, ge=1)
    """Subscription requests one client (IP address) may make in an hour."""

    # The quarantine's counting rules and outage guard (domain.md section 2).
    soft_error_spacing_hours: int = bounded(24, ge=0)
    soft_errors_to_quarantine: int = bounded(5, ge=1)
    error_counter_reset_days: int = bounded(10, ge=1)
    mailbox_full_release_days: int = bounded(30, ge=1)
    feedback_reorder_window_days: int = bounded(14, ge=1)
    """Feedback that arrives at most this long after its own time counts as if it had
    arrived in order (the address keeps its outcomes this long)."""
    outage_window_minutes: int = bounded(60, ge=5)
    outage_bucket_minutes: int = bounded(5, ge=1)
    outage_min_failures: int = bounded(50, ge=1)
    outage_min_failure_ratio: float = bounded(0.3, gt=0, le=1)
    outage_hold_max_hours: int = bounded(72, ge=1)
    outage_attempts_flush_seconds: int = bounded(30, ge=0)

    # Replies to inbound SMS keywords: transactional, no marketing content.
    sms_origination_identity: str | None = None
    """The number, pool or sender id replies go out from; by default the number texted."""
    sms_opt_out_reply: str = (
        "You are unsubscribed and will receive no more messages from this number. "
        "Reply START to resubscribe."
    )
    sms_opt_in_reply: str = "You are subscribed again. Reply STOP to unsubscribe."
    sms_help_reply: str = "Reply STOP to unsubscribe, START to resubscribe."

    # The delivery analysis (template parameter ShardRows).
    shard_rows: int = bounded(1_000_000, ge=1)
    """Audience rows per classify shard; only the Plan step reads it."""
    count_range_bytes: int = bounded(16 << 20, ge=1)
    """The Count map reads an audience in ranges of about this many bytes (at most 32
    of them); only the Plan step reads it."""
    suppression_snapshot_max_age_minutes: int = bounded(360, ge=1)
    """An analysis refuses a stored suppression snapshot older than this (template
    parameter SuppressionSnapshotMaxAgeMinutes); only the Plan step reads it."""

    def __init__(self, **values: Any) -> None:
        for setting in fields(self):
            value = values.pop(setting.name, setting.default)
            if value is MISSING:
                raise TypeError(f"Settings: {setting.name} is required")
            object.__setattr__(self, setting.name, value)
        if values:
            raise TypeError(f"Settings: no setting {', '.join(sorted(values))}")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash(tuple(vars(self).values()))

    @classmethod
    def from_environment(cls, environment: Mapping[str, str]) -> Self:
        values: dict[str, object] = {}
        problems: list[str] = []
        for setting in fields(cls):
            variable = setting.name.upper()
            if variable not in environment:
                if setting.default is MISSING:
                    problems.append(f"{variable}: missing")
                continue
            try:
                values[setting.name] = _read(setting, environment[variable])
            except ValueError as error:
                problems.append(f"{variable}: {error}")
        if problems:
            raise SettingsError("invalid settings: " + "; ".join(problems))
        return cls(**values)


def required_names() -> list[str]:
    """The settings without a default, by field name: the template must give them."""
    return [setting.name for setting in fields(Settings) if setting.default is MISSING]


def setting_names() -> list[str]:
    """Every setting, by field name."""
    return [setting.name for setting in fields(Settings)]


_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


def _flag(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError("must be true or false")


def _whole(text: str) -> int:
    whole, dot, fraction = text.strip().partition(".")
    if not dot or fraction.strip("0") == "":  # 90.0 is 90; 90.5 is no whole number
        try:
            return int(whole)  # one sign, digits, single underscores between them
        except ValueError:
            pass
    raise ValueError("must be a whole number")


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError("must be a number") from None


_READERS: dict[str, Callable[[str], object]] = {
    "str": str,
    "str | None": str,
    "bool": _flag,
    "int": _whole,
    "float": _number,
}
"""How each annotation of Settings is read from text (the annotations are text here)."""


_BOUNDS: dict[str, tuple[Callable[[Any, Any], bool], str]] = {
    "ge": (operator.ge, "at least"),
    "gt": (operator.gt, "more than"),
    "le": (operator.le, "at most"),
}
"""Each bound `bounded` may set: the test a value must pass, and how the error says it."""


def _read(setting: Field[Any], text: str) -> object:
    value = _READERS[str(setting.type)](text)
    for name, bound in setting.metadata.items():  # only numbers have bounds
        holds, words = _BOUNDS[name]
        if not holds(value, bound):
            raise ValueError(f"must be {words} {bound}")
    return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_environment(os.environ)  # noqa: TID251 (the one place that reads it)


W = TypeVar("W")


def per_process(build: Callable[[Settings], W]) -> Callable[[], W]:
    """What a handler builds once per execution environment from the settings (its
    wiring: tables bound, clients made), built at the first call and again should the
    settings be read anew (as tests do)."""
    built: tuple[Settings, W] | None = None

    def current() -> W:
        nonlocal built
        settings = get_settings()
        if built is None or built[0] is not settings:
            built = (settings, build(settings))
        return built[1]

    return current
