"""POST /v1/checks, and the two-profiles gap closed by owner opt-outs."""

from typing import Any

import pytest

from consentry.addresses.decisions import put_status
from consentry.addresses.status import AddressStatus
from consentry.consent.rules import Scope
from consentry.consent.tokens import LinkSigner
from consentry.core.types import Address, Channel
from tests.integration.conftest import ApiCall, Configure, LandingCall
from tests.integration.helpers import one_click, present

SHARED = "shared@example.com"


def register(api: ApiCall, profile: str, addresses: dict[str, str], locale: str = "en") -> None:
    response = api(
        "PUT", f"/v1/profiles/{profile}", json_body={"addresses": addresses, "locale": locale}
    )
    assert response["statusCode"] in (200, 201)


def checks(api: ApiCall, *items: dict[str, str]) -> list[tuple[str, str | None]]:
    response = api("POST", "/v1/checks", json_body={"items": list(items)})
    assert response["statusCode"] == 200, response["body"]
    return [(r["verdict"], r["reason"]) for r in response["json"]["results"]]


def item(
    profile: str,
    address: str = SHARED,
    channel: str = "email",
    message_class: str = "marketing",
    service: str | None = None,
) -> dict[str, str]:
    body = {
        "profileId": profile,
        "address": address,
        "channel": channel,
        "messageClass": message_class,
    }
    return body | ({"serviceId": service} if service else {})


def test_one_click_on_profile_a_excludes_profile_b_sharing_the_address(
    api: ApiCall, landing: LandingCall, signer: LinkSigner
) -> None:
    register(api, "A", {"email": SHARED})
    register(api, "B", {"email": SHARED})

    one_click(landing, signer, "A")

    assert checks(api, item("A"), item("B"), item("C", "other@example.com")) == [
        ("blocked", "address_denylisted"),
        ("blocked", "address_denylisted"),
        ("allowed", None),
    ]


def test_a_channel_one_click_denylists_only_that_channels_address(
    api: ApiCall, landing: LandingCall, signer: LinkSigner
) -> None:
    register(api, "A", {"email": SHARED, "sms": "+31612345678"})

    one_click(landing, signer, "A", Scope.channel(Channel.SMS))

    assert checks(api, item("B"), item("B", "+31612345678", "sms")) == [
        ("allowed", None),
        ("blocked", "address_denylisted"),
    ]


def test_the_owners_opt_in_lifts_its_own_entry_but_never_a_complaint(
    api: ApiCall, landing: LandingCall, signer: LinkSigner
) -> None:
    register(api, "A", {"email": SHARED})
    one_click(landing, signer, "A")
    record_complaint(SHARED)
    landing_opt_in(signer, "A")

    assert checks(api, item("B")) == [("blocked", "address_denylisted")]
    origins = api("GET", "/v1/profiles/A/export")["json"]["addresses"][0]["denylistOrigins"]
    assert origins == ["complaint"]


def test_the_owners_opt_in_lifts_the_entry_when_nothing_else_holds_it(
    api: ApiCall, landing: LandingCall, signer: LinkSigner
) -> None:
    register(api, "A", {"email": SHARED})
    one_click(landing, signer, "A")

    landing_opt_in(signer, "A")

    assert checks(api, item("B")) == [("allowed", None)]


def test_an_operator_opt_in_does_not_lift_the_owners_denylist(
    api: ApiCall, landing: LandingCall, signer: LinkSigner
) -> None:
    register(api, "A", {"email": SHARED})
    one_click(landing, signer, "A")

    api(
        "PATCH",
        "/v1/profiles/A/consent",
        json_body={"noLongerContact": {"all": False}, "reason": "call"},
    )

    assert checks(api, item("B")) == [("blocked", "address_denylisted")]


def test_the_policy_can_be_switched_off(
    api: ApiCall, landing: LandingCall, signer: LinkSigner, configure: Configure
) -> None:
    configure(owner_opt_out_denylists="false")
    register(api, "A", {"email": SHARED})

    one_click(landing, signer, "A")

    assert checks(api, item("A"), item("B")) == [
        ("blocked", "profile_opted_out"),
        ("allowed", None),
    ]


def test_opt_outs_never_block_transactional_messages_but_denylists_do(api: ApiCall) -> None:
    register(api, "A", {"email": "a@example.com"})
    api(
        "PATCH",
        "/v1/profiles/A/consent",
        json_body={"noLongerContact": {"all": True}, "reason": "r"},
    )
    put_status(Channel.EMAIL, Address("q@example.com"), AddressStatus.QUARANTINE, "user_unknown")

    results = checks(
        api,
        item("A", "a@example.com", message_class="transactional"),
        item("A", "a@example.com"),
        item("X", "q@example.com", message_class="transactional"),
    )

    assert results == [
        ("allowed", None),
        ("blocked", "profile_opted_out"),
        ("blocked", "address_quarantined"),
    ]


def test_allowlisted_addresses_pass_quarantine_but_not_an_opt_out(api: ApiCall) -> None:
    register(api, "A", {"email": "seed@example.com"})
    put_status(Channel.EMAIL, Address("seed@example.com"), AddressStatus.QUARANTINE, "user_unknown")
    put_status(Channel.EMAIL, Address("seed@example.com"), AddressStatus.ALLOWLISTED, "seed list")

    assert checks(api, item("A", "seed@example.com")) == [("allowed", None)]
    api(
        "PATCH",
        "/v1/profiles/A/consent",
        json_body={"noLongerContact": {"email": True}, "reason": "r"},
    )
    assert checks(api, item("A", "seed@example.com")) == [("blocked", "profile_opted_out")]


def test_addresses_are_compared_normalized_and_bad_ones_named(
    api: ApiCall, landing: LandingCall, signer: LinkSigner
) -> None:
    register(api, "A", {"email": SHARED})
    one_click(landing, signer, "A")

    assert checks(api, item("B", "  SHARED@Example.com "), item("B", "nope"), item("B", "  ")) == [
        ("blocked", "address_denylisted"),
        ("blocked", "address_invalid"),
        ("blocked", "address_missing"),
    ]


def test_a_service_send_needs_an_active_subscription(api: ApiCall) -> None:
    service = api(
        "POST",
        "/v1/services",
        json_body={"name": "news", "label": "News", "publicLabel": "Our news", "channel": "email"},
    )["json"]["serviceId"]
    api(
        "PUT",
        f"/v1/services/{service}/subscriptions/A",
        json_body={"status": "subscribed", "reason": "form"},
    )

    assert checks(
        api,
        item("A", "a@example.com", service=service),
        item("B", "b@example.com", service=service),
    ) == [
        ("allowed", None),
        ("blocked", "not_subscribed"),
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"items": []},
        {"items": [item("A")] * 101},
        {"items": [{**item("A"), "channel": "fax"}]},
        {"items": [{**item("A"), "messageClass": "promo"}]},
        {"items": [{"address": "a@example.com", "channel": "email", "messageClass": "marketing"}]},
        {},
    ],
)
def test_bad_check_requests_are_422(api: ApiCall, body: dict[str, Any]) -> None:
    assert api("POST", "/v1/checks", json_body=body)["statusCode"] == 422


def landing_opt_in(signer: LinkSigner, profile: str) -> None:
    """The owner's confirmed opt-in, as the preference center records it."""
    from consentry.consent import profile_store
    from consentry.consent.rules import ConsentChange
    from consentry.core.types import Action, ProfileId, Source

    profile_store.record_change(
        ProfileId(profile),
        ConsentChange(
            scope=Scope.all(), action=Action.OPT_IN, source=Source.LANDING, actor="recipient"
        ),
        owner_denylists=True,
    )


def record_complaint(address: str) -> None:
    """A spam complaint's denylist entry, as the feedback ingestion writes it."""
    from consentry.addresses import address_store, history_store
    from consentry.addresses.events import AddressEvent, EventKind, change_id
    from consentry.addresses.status import COMPLAINT_ORIGIN, with_origin
    from consentry.core.clock import utc_now

    now = utc_now()
    current = present(address_store.find_address(Channel.EMAIL, Address(address)))
    event = AddressEvent(
        channel=Channel.EMAIL,
        address=Address(address),
        event_id=change_id(now, EventKind.COMPLAINT, current),
        at=now,
        kind=EventKind.COMPLAINT,
        reason="abuse",
        actor="feedback",
    )
    history_store.record(current, with_origin(current, COMPLAINT_ORIGIN, now), event)


def test_a_check_refuses_what_cannot_be_delivered_unless_the_settings_allow_it(
    api: ApiCall, configure: Configure
) -> None:
    """The address rules of the analysis hold for a single send: a number that cannot
    exist, a text to a toll-free or fixed-line number, a local part past 64 characters
    or with non-ASCII letters (without SMTPUTF8) are invalid."""
    sends = (
        item("A", "+1 012 345 6789", "sms"),
        item("A", "+1 800 356 9377", "sms"),
        item("A", "+44 20 7946 0958", "sms"),
        item("A", "+44 20 7946 0958", "phone"),
        item("A", "a" * 65 + "@example.com"),
        item("A", "üser@example.com"),
    )
    invalid = ("blocked", "address_invalid")
    allowed = ("allowed", None)

    assert checks(api, *sends) == [invalid, invalid, invalid, allowed, invalid, invalid]

    configure(sms_any_number_type="true", sender_smtputf8="true")

    assert checks(api, *sends) == [invalid, allowed, allowed, allowed, invalid, allowed]
