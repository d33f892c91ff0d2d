"""The public subscription form cannot be used to flood a mailbox or the service: at most
so many confirmation mails per mailbox and requests per client in an hour, however the
address is spelled (issue: hardening, item 6)."""

from __future__ import annotations

import pytest

from consentry.consent import rate_limits
from consentry.consent.service_store import list_subscribers
from consentry.core.types import Address
from tests.integration.conftest import Configure
from tests.integration.landing_client import Client, Page
from tests.integration.test_landing_pages import (  # noqa: F401 (the pages' fixtures)
    NEWSLETTER,
    landing_settings,
    sent_mails,
)


def subscribe(client: Client, email: str) -> Page:
    page = client.get(f"/s/{NEWSLETTER}")
    return client.submit(page.form("/s/"), fill={"email": email})


@pytest.mark.parametrize(
    ("spellings", "mailbox"),
    [
        (["jane+1@example.org", "jane+2@example.org", "Jane+news@Example.org"], "jane@example.org"),
        (["j.a.n.e@gmail.com", "jane+x@googlemail.com", "JA.NE@gmail.com"], "jane@gmail.com"),
    ],
)
def test_spellings_of_one_mailbox_are_one_mailbox(spellings: list[str], mailbox: str) -> None:
    assert {rate_limits.mailbox(Address(s.lower())) for s in spellings} == {mailbox}


def test_dots_count_where_the_provider_keeps_them() -> None:
    assert rate_limits.mailbox(Address("j.ane@example.org")) == "j.ane@example.org"


def test_plus_addresses_of_one_mailbox_get_at_most_the_mailbox_limit(
    configure: Configure,
) -> None:
    configure(signup_mails_per_mailbox_hour=2)
    client = Client()

    answers = [subscribe(client, f"victim+{n}@example.org") for n in range(5)]

    assert [page.status for page in answers] == [200, 200, 429, 429, 429]
    assert len(sent_mails()) == 2
    assert "Too many requests for now" in answers[-1].body
    assert len(list_subscribers(NEWSLETTER, 10, None, None).items) == 2


def test_a_client_gets_the_friendly_page_past_its_limit_and_others_are_served(
    configure: Configure,
) -> None:
    configure(signup_requests_per_client_hour=3)
    flooder, other = Client(source_ip="198.51.100.9"), Client(source_ip="198.51.100.10")

    answers = [subscribe(flooder, f"someone{n}@example.org").status for n in range(5)]
    served = subscribe(other, "reader@example.org").status

    assert answers == [200, 200, 200, 429, 429]
    assert served == 200
    assert len(sent_mails()) == 4
