"""The recipient pages through the landing handler on moto: what they show, what their
forms change, and that nothing else changes anything."""

import re
import secrets
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import Message, ses_backends

from consentry.addresses import address_store
from consentry.addresses.status import AddressStatus
from consentry.consent import profile_store, service_store
from consentry.consent.rules import ConsentChange, ConsentEvent, ConsentState, Scope
from consentry.consent.subscriptions import Confirmation, Service, Subscription, SubscriptionStatus
from consentry.consent.tokens import Keyring, LinkClaims, LinkSigner
from consentry.core.types import Address, Channel, DeliveryId, ProfileId, ServiceId
from landing.forms import FormGuard
from landing.pages import wording_version
from tests.conftest import REGION
from tests.integration.conftest import Configure
from tests.integration.helpers import present, seed_released_by_time
from tests.integration.landing_client import Client, path_of

PROFILE = ProfileId("p-pages")
EMAIL = Address("jane.doe@example.com")
SENDER = "no-reply@example.com"
KEY_SECRET = "ProfileIdKey"
NEWSLETTER = ServiceId("newsletter")
OFFERS = ServiceId("offers")


@pytest.fixture(autouse=True)
def landing_settings(configure: Configure, table_names: dict[str, str]) -> None:
    configure(confirmation_sender=SENDER, profile_id_key_secret=KEY_SECRET)
    boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress=SENDER)
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=KEY_SECRET, SecretString=secrets.token_urlsafe(48)
    )
    now = datetime.now(UTC)
    for service_id, label, confirmation in (
        (NEWSLETTER, "The monthly letter", Confirmation.DOUBLE_OPT_IN),
        (OFFERS, "Offers & deals", Confirmation.NONE),
    ):
        service_store.save_service(
            Service(
                service_id=service_id,
                name=service_id,
                label=label,
                public_label=label,
                channel=Channel.EMAIL,
                confirmation=confirmation,
                created_at=now,
                updated_at=now,
            ),
            expected_version=None,
        )
    profile_store.register_profile(
        PROFILE, {Channel.EMAIL: EMAIL, Channel.SMS: "+31612345678"}, "en"
    )


@pytest.fixture
def client() -> Client:
    return Client()


@pytest.fixture
def token(signer: LinkSigner) -> str:
    return signer.sign(
        LinkClaims(profile_id=PROFILE, scope=Scope.all(), delivery_id=DeliveryId("d-42"))
    )


def sent_mails() -> list[Message]:
    return ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages


def snapshot(
    profile_id: ProfileId = PROFILE,
) -> tuple[ConsentState | None, list[ConsentEvent], list[Subscription]]:
    """Everything a visit could change about a profile."""
    state = profile_store.find_consent(profile_id)
    return (
        state,
        profile_store.latest_events(profile_id, 100),
        service_store.subscriptions_of(profile_id),
    )


# ---------------------------------------------------------------- the preference center


def test_the_preference_center_shows_channels_and_services_as_stored(
    client: Client, token: str
) -> None:
    profile_store.record_change(
        PROFILE,
        store_change(Scope.channel(Channel.SMS), "opt_out"),
    )

    page = client.get(f"/p/{token}")

    assert page.status == 200
    form = page.form(f"/p/{token}")
    ticked = {(c.name, c.value) for c in form.controls if c.checked}
    assert ("channel", "email") in ticked
    assert ("channel", "sms") not in ticked
    assert {c.value for c in form.controls if c.name == "service"} == {NEWSLETTER, OFFERS}
    assert not {("service", NEWSLETTER), ("service", OFFERS), ("stop_all", "1")} & ticked
    assert "j***@example.com" in page.text
    assert EMAIL not in page.body


def test_every_page_carries_the_security_headers(client: Client, token: str) -> None:
    page = client.get(f"/p/{token}")

    csp = page.headers["Content-Security-Policy"]
    assert "script-src" not in csp
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    assert "<script" not in page.body
    assert " style=" not in page.body


def test_the_stylesheet_comes_from_the_landing_function_under_the_stage(
    client: Client, token: str
) -> None:
    page = client.get(f"/p/{token}")

    (href,) = page.stylesheets
    assert href.startswith("/prod/p/assets/site.css?v=")
    css = client.get(path_of(href))
    assert css.status == 200
    assert css.headers["Content-Type"].startswith("text/css")
    assert "@import" not in css.body
    assert "url(" not in css.body


def test_saving_the_preference_center_records_each_change_with_its_wording(
    client: Client, token: str
) -> None:
    page = client.get(f"/p/{token}")

    done = client.submit(
        page.form(f"/p/{token}"), check={"channel": {"email"}, "service": {OFFERS}}
    )

    assert done.status == 200
    state = profile_store.get_consent(PROFILE)
    assert state.opt_out_channels == {Channel.SMS, Channel.PHONE, Channel.DIRECT_MAIL, Channel.PUSH}
    offers = present(service_store.find_subscription(OFFERS, PROFILE))
    assert offers.status is SubscriptionStatus.SUBSCRIBED
    events = profile_store.latest_events(PROFILE, 10)
    assert len(events) == 5
    assert {e.source for e in events} == {"landing"}
    assert {e.actor for e in events} == {"recipient"}
    assert {e.delivery_id for e in events} == {"d-42"}
    assert {e.wording_version for e in events} == {wording_version("preferences.html", "en")}
    assert "Offers &amp; deals: you are subscribed." in done.body


def test_undo_on_the_confirmation_page_puts_everything_back(client: Client, token: str) -> None:
    page = client.get(f"/p/{token}")
    done = client.submit(page.form(f"/p/{token}"), check={"channel": {"email"}})
    before_undo = profile_store.get_consent(PROFILE)

    undone = client.submit(done.form("/undo"))

    assert before_undo.opt_out_channels
    assert undone.status == 200
    assert "Your change is undone" in undone.text
    assert not profile_store.get_consent(PROFILE).opt_out_channels
    assert {e.reason for e in profile_store.latest_events(PROFILE, 4)} == {"undo"}
    assert not undone.forms  # an undo is not undone again from here


def test_a_double_opt_in_service_ticked_in_the_preference_center_waits_for_its_email(
    client: Client, token: str
) -> None:
    page = client.get(f"/p/{token}")

    done = client.submit(
        page.form(f"/p/{token}"),
        check={"service": {NEWSLETTER}, "channel": {c.value for c in Channel}},
    )

    subscription = present(service_store.find_subscription(NEWSLETTER, PROFILE))
    assert subscription.status is SubscriptionStatus.PENDING
    (mail,) = sent_mails()
    assert mail.destinations["ToAddresses"] == [EMAIL]
    assert "j***@example.com" in done.text
    assert re.search(r"/prod/s/newsletter/k1\.[\w.-]+", mail.body)


def test_a_page_that_was_submitted_twice_changes_nothing_more(client: Client, token: str) -> None:
    page = client.get(f"/p/{token}")
    form = page.form(f"/p/{token}")
    client.submit(form, check={"channel": {"email"}})
    after_first = snapshot()

    again = client.submit(form, check={"channel": {"email"}})

    assert "Nothing needed to change" in again.text
    assert snapshot() == after_first


# ---------------------------------------------------------------- GET never changes state


def pages_of(token: str) -> list[str]:
    return [
        f"/p/{token}",
        f"/p/{token}/unsubscribe",
        f"/p/{token}/never",
        f"/p/{token}/erase",
        f"/u/{token}",
        f"/s/{NEWSLETTER}",
        f"/p/{token}?lang=de",
    ]


def test_get_and_head_of_every_page_change_nothing(client: Client, token: str) -> None:
    before = snapshot()

    for path in pages_of(token):
        assert client.get(path).status == 200, path
        assert client.head(path).status == 200, path

    assert snapshot() == before


# ---------------------------------------------------------------- CSRF


def test_a_form_post_without_its_csrf_token_is_refused_and_changes_nothing(
    client: Client, token: str
) -> None:
    before = snapshot()

    page = client.request("POST", f"/p/{token}", "shown=channel%3Aemail%3D1&stop_all=1")

    assert page.status == 400
    assert "This form could not be accepted" in page.text
    assert snapshot() == before


def test_a_csrf_token_of_another_link_is_refused(
    client: Client, token: str, signer: LinkSigner
) -> None:
    other = signer.sign(LinkClaims(profile_id=ProfileId("p-other"), scope=Scope.all()))
    form = client.get(f"/p/{other}").form("/p/")
    form.action = f"/prod/p/{token}"
    before = snapshot()

    page = client.submit(form, check={"channel": set()})

    assert page.status == 400
    assert snapshot() == before


def test_an_old_form_asks_to_reload_the_page_and_changes_nothing(
    client: Client, token: str, keyring: Keyring
) -> None:
    form = client.get(f"/p/{token}").form(f"/p/{token}")
    wording = form.value("wording")
    assert wording is not None
    old = FormGuard(keyring, clock=lambda: datetime.now(UTC) - timedelta(days=2))
    for control in form.controls:
        if control.name == "csrf":
            control.value = old.csrf_token("preferences.html", token, wording)
    before = snapshot()

    page = client.submit(form, check={"channel": set()})

    assert page.status == 400
    assert "This page was open too long" in page.text
    assert f"/prod/p/{token}" in page.links
    assert snapshot() == before


def test_a_wording_version_other_than_the_pages_is_refused(client: Client, token: str) -> None:
    form = client.get(f"/p/{token}").form(f"/p/{token}")
    for control in form.controls:
        if control.name == "wording":
            control.value = "0" * 16

    page = client.submit(form, check={"channel": set()})

    assert page.status == 400
    assert profile_store.latest_events(PROFILE, 1) == []


# ---------------------------------------------------------------- bad links


@pytest.mark.parametrize(
    ("language", "title"),
    [
        ("en", "This link is not valid"),
        ("nl", "Deze link is niet geldig"),
        ("fr", "Ce lien n'est pas valide"),
        ("de", "Dieser Link ist ungültig"),
    ],
)
def test_an_altered_link_shows_the_error_page_in_the_visitors_language(
    token: str, language: str, title: str
) -> None:
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    client = Client(accept_language=f"{language};q=0.9, en;q=0.1")

    page = client.get(f"/p/{tampered}")

    assert page.status == 400
    assert page.lang == language
    assert title in page.text


def test_a_forged_token_posted_to_a_page_changes_nothing(client: Client, token: str) -> None:
    form = client.get(f"/p/{token}").form(f"/p/{token}")
    forged = "k1." + token.split(".", 1)[1][::-1]
    form.action = f"/prod/p/{forged}"
    before = snapshot()

    page = client.submit(form, check={"channel": set()})

    assert page.status == 400
    assert snapshot() == before


def test_an_expired_link_shows_the_expired_page_and_changes_nothing(
    client: Client, signer: LinkSigner
) -> None:
    expired = signer.sign(
        LinkClaims(
            profile_id=PROFILE,
            scope=Scope.all(),
            issued_at=datetime.now(UTC) - timedelta(days=200),
        )
    )
    before = snapshot()

    got = Client(accept_language="fr-FR,fr;q=0.9").get(f"/p/{expired}")
    posted = client.request("POST", f"/u/{expired}", "List-Unsubscribe=One-Click")

    assert (got.status, posted.status) == (410, 410)
    assert "Ce lien a expiré" in got.text
    assert snapshot() == before


# ---------------------------------------------------------------- languages


def test_the_profiles_locale_comes_before_the_browsers_languages(token: str) -> None:
    profile_store.register_profile(PROFILE, {Channel.EMAIL: EMAIL}, "nl")

    page = Client(accept_language="de").get(f"/p/{token}")

    assert page.lang == "nl"
    assert "Uw voorkeuren" in page.text


def test_the_language_switch_overrides_the_profiles_locale(client: Client, token: str) -> None:
    page = client.get(f"/p/{token}")
    german = next(link for link in page.links if link.endswith("?lang=de"))

    switched = client.get(path_of(german))

    assert switched.lang == "de"
    assert "Ihre Einstellungen" in switched.text
    assert switched.form(f"/p/{token}").value("lang") == "de"


def test_the_browsers_language_serves_a_visitor_without_a_profile(signer: LinkSigner) -> None:
    token = signer.sign(LinkClaims(profile_id=ProfileId("p-nobody"), scope=Scope.all()))

    page = Client(accept_language="fr-CA, fr;q=0.8").get(f"/p/{token}")

    assert page.lang == "fr"


# ---------------------------------------------------------------- unsubscribe and never


def test_a_channel_links_unsubscribe_page_stops_that_channel_by_default(
    client: Client, signer: LinkSigner
) -> None:
    token = signer.sign(LinkClaims(profile_id=PROFILE, scope=Scope.channel(Channel.SMS)))
    page = client.get(f"/p/{token}/unsubscribe")

    done = client.submit(page.form("/unsubscribe"))

    state = profile_store.get_consent(PROFILE)
    assert state.opt_out_channels == {Channel.SMS}
    assert not state.opt_out_all
    assert "Text messages (SMS): you will receive no more marketing messages." in done.text


def test_the_everything_option_stops_all_marketing(client: Client, signer: LinkSigner) -> None:
    token = signer.sign(LinkClaims(profile_id=PROFILE, scope=Scope.channel(Channel.SMS)))
    page = client.get(f"/p/{token}/unsubscribe")

    client.submit(page.form("/unsubscribe"), radio={"what": "everything"})

    assert profile_store.get_consent(PROFILE).opt_out_all


def test_the_one_click_url_opens_the_same_unsubscribe_page(client: Client, token: str) -> None:
    page = client.get(f"/u/{token}")

    assert page.status == 200
    assert page.form("/unsubscribe").action == f"/prod/p/{token}/unsubscribe"


def test_a_service_links_unsubscribe_page_ends_that_subscription(
    client: Client, signer: LinkSigner
) -> None:
    service_token = signer.sign(LinkClaims(profile_id=PROFILE, scope=Scope.service(OFFERS)))
    profile_store.record_change(PROFILE, store_change(Scope.service(OFFERS), "subscribe"))
    page = client.get(f"/p/{service_token}/unsubscribe")

    assert "Only Offers &amp; deals" in page.body
    client.submit(page.form("/unsubscribe"))

    offers = present(service_store.find_subscription(OFFERS, PROFILE))
    assert offers.status is SubscriptionStatus.UNSUBSCRIBED
    assert not profile_store.get_consent(PROFILE).opt_out_all


def test_after_never_the_recipient_can_erase_their_data_on_a_confirmed_step(
    client: Client, token: str
) -> None:
    never = client.get(f"/p/{token}/never")
    assert f"/p/{token}/erase" in never.body
    page = client.get(f"/p/{token}/erase")
    assert profile_store.get_consent(PROFILE).erased_at is None  # GET changed nothing

    erased = client.submit(page.form("/erase"))

    assert erased.status == 200
    assert "Your data is erased" in erased.body
    assert "/undo" not in erased.body
    state = present(profile_store.find_consent(PROFILE))
    assert state.erased_at is not None
    assert state.addresses == {}
    assert address_store.find_address(Channel.EMAIL, EMAIL) is None
    event = profile_store.latest_events(PROFILE, 1)[0]
    assert (event.action.value, event.actor) == ("erase", "recipient")
    spent = client.get(f"/p/{token}")  # the link is spent, and says why
    assert (spent.status, "Your data is erased" in spent.body) == (410, True)


def test_never_contact_me_again_denylists_the_addresses_and_undo_lifts_them(
    client: Client, token: str
) -> None:
    page = client.get(f"/p/{token}/never")

    done = client.submit(page.form("/never"))

    assert profile_store.get_consent(PROFILE).opt_out_all
    denylisted = present(address_store.find_address(Channel.EMAIL, EMAIL))
    assert denylisted.status is AddressStatus.DENYLISTED
    assert profile_store.latest_events(PROFILE, 1)[0].reason == "never contact me again"

    client.submit(done.form("/undo"))

    assert not profile_store.get_consent(PROFILE).opt_out_all
    assert (
        present(address_store.find_address(Channel.EMAIL, EMAIL)).status
        is not AddressStatus.DENYLISTED
    )


# ---------------------------------------------------------------- subscribe with double opt-in


def confirmation_link(mail: Message) -> str:
    found = re.search(r"https://[^\s\"<]+/s/[^\s\"<]+", mail.body)
    assert found is not None
    return found.group(0)


def test_a_visitor_subscribes_and_confirms_through_the_link_in_the_email(client: Client) -> None:
    page = client.get(f"/s/{NEWSLETTER}")

    sent = client.submit(page.form("/s/"), fill={"email": "  New.Reader@Example.org "})

    assert sent.status == 200
    assert "Check your inbox" in sent.text
    (mail,) = sent_mails()
    assert mail.destinations["ToAddresses"] == ["new.reader@example.org"]
    link = confirmation_link(mail)
    confirm_page = client.get(path_of(link))
    (subscription,) = service_store.list_subscribers(NEWSLETTER, 10, None, None).items
    assert subscription.status is SubscriptionStatus.PENDING
    assert "example.org" not in subscription.profile_id
    assert subscription.profile_id.startswith("vis-")

    done = client.submit(confirm_page.form("/s/"))

    assert "you are subscribed" in done.text
    confirmed = present(service_store.find_subscription(NEWSLETTER, subscription.profile_id))
    assert confirmed.status is SubscriptionStatus.SUBSCRIBED
    events = profile_store.latest_events(subscription.profile_id, 10)
    assert [e.action for e in events] == ["confirm", "subscribe"]
    assert events[0].wording_version == wording_version("confirm.html", "en")
    assert events[1].wording_version == wording_version("subscribe.html", "en")


def test_opening_the_confirmation_link_confirms_nothing(client: Client) -> None:
    page = client.get(f"/s/{NEWSLETTER}")
    client.submit(page.form("/s/"), fill={"email": "reader@example.org"})
    link = path_of(confirmation_link(sent_mails()[0]))

    client.get(link)
    client.head(link)

    (subscription,) = service_store.list_subscribers(NEWSLETTER, 10, None, None).items
    assert subscription.status is SubscriptionStatus.PENDING


def test_the_same_visitor_asking_again_within_the_hour_gets_one_email(client: Client) -> None:
    for _ in range(3):
        page = client.get(f"/s/{NEWSLETTER}")
        client.submit(page.form("/s/"), fill={"email": "reader@example.org"})

    assert len(sent_mails()) == 1
    assert len(service_store.list_subscribers(NEWSLETTER, 10, None, None).items) == 1


def test_an_address_that_is_no_address_is_asked_again_and_nothing_is_recorded(
    client: Client,
) -> None:
    page = client.get(f"/s/{NEWSLETTER}")

    again = client.submit(page.form("/s/"), fill={"email": "not an address"})

    assert again.status == 400
    assert 'aria-invalid="true"' in again.body
    assert service_store.list_subscribers(NEWSLETTER, 10, None, None).items == []
    assert sent_mails() == []


def test_a_confirmation_link_for_another_service_is_not_valid(
    client: Client, signer: LinkSigner
) -> None:
    token = signer.sign(LinkClaims(profile_id=PROFILE, scope=Scope.service(OFFERS)))

    page = client.get(f"/s/{NEWSLETTER}/{token}")

    assert page.status == 400
    assert "This link is not valid" in page.text


def test_an_unknown_service_has_a_friendly_page(client: Client) -> None:
    page = Client(accept_language="nl").get("/s/no-such-service")

    assert page.status == 404
    assert "Deze inschrijving is niet beschikbaar" in page.text


def store_change(scope: Scope, action: str) -> ConsentChange:
    from consentry.consent.rules import ConsentChange
    from consentry.core.types import Action, Source

    return ConsentChange(scope=scope, action=Action(action), source=Source.OPERATOR, actor="t")


@pytest.mark.parametrize(("released_days_ago", "mails"), [(1, 1), (-1, 0)])
def test_a_quarantine_that_ended_by_itself_no_longer_stops_the_confirmation_mail(
    client: Client, released_days_ago: int, mails: int
) -> None:
    seed_released_by_time("back.again@example.org", released_days_ago=released_days_ago)
    page = client.get(f"/s/{NEWSLETTER}")

    client.submit(page.form("/s/"), fill={"email": "back.again@example.org"})

    assert len(sent_mails()) == mails
