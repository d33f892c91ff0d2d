"""An erased address comes back through the subscription form or another profile: its
owner's opt-out still holds (issue: erasure, item 2)."""

from __future__ import annotations

from tests.integration.conftest import ApiCall
from tests.integration.landing_client import Client
from tests.integration.test_landing_pages import (  # noqa: F401 (the pages' fixtures)
    NEWSLETTER,
    landing_settings,
    sent_mails,
)

EMAIL = "gone.reader@example.org"


def opted_out_then_erased(api: ApiCall) -> None:
    """A profile whose operator recorded an e-mail opt-out (no denylist entry: only the
    profile's own opt-out stops the address), then erased."""
    assert api("PUT", "/v1/profiles/reader", json_body={"addresses": {"email": EMAIL}})[
        "statusCode"
    ] in (200, 201)
    patched = api(
        "PATCH",
        "/v1/profiles/reader/consent",
        json_body={"noLongerContact": {"email": True}, "reason": "asked by phone"},
    )
    assert patched["statusCode"] == 200, patched["body"]
    erased = api("DELETE", "/v1/profiles/reader", json_body={"reason": "art. 17"})
    assert erased["json"]["suppressionsKept"] == 1


def test_the_subscription_form_sends_no_confirmation_to_an_erased_address(api: ApiCall) -> None:
    opted_out_then_erased(api)
    client = Client()
    page = client.get(f"/s/{NEWSLETTER}")

    answer = client.submit(page.form("/s/"), fill={"email": "Gone.Reader@example.org"})

    assert answer.status == 200  # the visitor learns nothing about the address
    assert sent_mails() == []


def test_an_opt_out_kept_from_an_erasure_blocks_marketing_to_a_new_profile(
    api: ApiCall,
) -> None:
    opted_out_then_erased(api)
    api("PUT", "/v1/profiles/newcomer", json_body={"addresses": {"email": EMAIL}})
    body = {
        "items": [
            {"profileId": "newcomer", "address": EMAIL, "channel": "email", "messageClass": c}
            for c in ("marketing", "transactional")
        ]
    }
    results = api("POST", "/v1/checks", json_body=body)["json"]["results"]
    assert [(r["verdict"], r["reason"]) for r in results] == [
        ("blocked", "profile_opted_out"),
        ("allowed", None),
    ]
