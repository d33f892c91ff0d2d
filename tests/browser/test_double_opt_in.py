"""An unknown visitor subscribes with their address, reads the confirmation email
(from moto's SES, through the local stack's outbox) and confirms with its button."""

from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.accessibility import blocking
from tests.browser.conftest import NEWSLETTER, LocalStack, Tab, confirmation_link

pytestmark = pytest.mark.browser

ADDRESS = "double.opt-in@example.org"


def visitor_of(local_stack: LocalStack, address: str) -> Any:
    """The subscriber of the newsletter whose profile carries `address`."""
    subscribers = local_stack.api("GET", f"/v1/services/{NEWSLETTER}/subscribers?limit=100")
    for subscriber in subscribers["items"]:
        consent = local_stack.consent(subscriber["profileId"])
        if consent["addresses"].get("email") == address:
            return subscriber
    return None


def test_a_visitor_subscribes_and_confirms_from_the_email(
    local_stack: LocalStack, phone: Tab
) -> None:
    page = phone.page
    page.goto(f"{local_stack.api_url}/s/{NEWSLETTER}")
    page.get_by_label("Your email address").fill(ADDRESS.upper())
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")

    mail = local_stack.mail_to(ADDRESS)
    assert mail["subject"] == "Please confirm your subscription to Our monthly newsletter"
    link = confirmation_link(mail)
    requests.get(link, timeout=10)  # a scanner opening the link first
    requests.head(link, timeout=10)
    subscriber = visitor_of(local_stack, ADDRESS)
    assert subscriber["status"] == "pending"
    assert subscriber["profileId"].startswith("vis-")
    assert "example" not in subscriber["profileId"]

    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your subscription")
    assert blocking(page) == []
    assert visitor_of(local_stack, ADDRESS)["status"] == "pending"
    page.get_by_role("button", name="Yes, subscribe me").click()

    expect(page.get_by_text("Our monthly newsletter: you are subscribed.")).to_be_visible()
    assert visitor_of(local_stack, ADDRESS)["status"] == "subscribed"
    actions = [e["action"] for e in local_stack.everything_about(subscriber["profileId"])["events"]]
    assert actions == ["subscribe", "confirm"]
    assert phone.complaints == []


def test_a_mistyped_address_is_explained_next_to_the_field(
    local_stack: LocalStack, phone: Tab
) -> None:
    page = phone.page
    page.goto(f"{local_stack.api_url}/s/{NEWSLETTER}?lang=nl")

    page.get_by_label("Uw e-mailadres").fill("niet-een-adres")
    page.get_by_role("button", name="Inschrijven").click()

    field = page.get_by_label("Uw e-mailadres")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_accessible_description("Vul een e-mailadres in, zoals naam@voorbeeld.nl.")
    assert blocking(page) == []
