"""Demo data for a newcomer, written through the project's own data-access functions,
and the signed links to try it with."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3

from consent.logic.import_run import ImportRun, run
from consentry.addresses.decisions import put_status
from consentry.addresses.status import AddressStatus
from consentry.consent.profile_store import record_change, register_profile
from consentry.consent.rules import ConsentChange, Scope
from consentry.consent.service_store import save_service
from consentry.consent.subscriptions import Confirmation, Service, SubscriptionStatus
from consentry.consent.tokens import Keyring, LinkClaims, LinkSigner
from consentry.core.bucket import DataBucket
from consentry.core.clock import utc_now
from consentry.core.persistence import bind_tables
from consentry.core.settings import Settings
from consentry.core.types import (
    Action,
    Address,
    Channel,
    DeliveryId,
    ProfileId,
    ServiceId,
    Source,
)
from consentry.imports import import_store
from consentry.imports.rules import ImportKind, ImportRecord, ImportStatus, import_id_of

DEMO_DELIVERY = DeliveryId("demo-delivery")
SEED_ACTOR = "local-demo-seed"
CONSOLE_USERS = (("operator", "demo-operator", "operators"), ("viewer", "demo-viewer", "viewers"))
"""(role, username, group) of the console's demo users."""


@dataclass(frozen=True)
class DemoProfile:
    profile_id: str
    email: str
    phone: str
    locale: str


PROFILES = (
    DemoProfile("demo-en-1", "emma.walker@example.com", "+447700900123", "en"),
    DemoProfile("demo-nl-1", "sanne.de.vries@example.org", "+31612345678", "nl"),
    DemoProfile("demo-fr-1", "camille.martin@example.net", "+33612345678", "fr"),
    DemoProfile("demo-de-1", "lukas.schmidt@example.com", "+4915123456789", "de"),
    DemoProfile("demo-nl-2", "noah.peeters@example.org", "+32470123456", "nl"),
    DemoProfile("demo-en-2", "olivia.brown@example.net", "+12025550143", "en"),
)
NEWSLETTER = ServiceId("newsletter")
SUBSCRIBERS = ("demo-nl-1", "demo-fr-1")

ADDRESS_STATUSES = (
    (Channel.EMAIL, "olivia.brown@example.net", AddressStatus.QUARANTINE, "user_unknown"),
    (Channel.EMAIL, "no.such.mailbox@example.com", AddressStatus.QUARANTINE, "user_unknown"),
    (Channel.EMAIL, "complainer@example.org", AddressStatus.DENYLISTED, "complaint"),
    (Channel.SMS, "+32470123456", AddressStatus.DENYLISTED, "complaint"),
    (Channel.SMS, "+31600000000", AddressStatus.QUARANTINE, "user_unknown"),
)


def seed(settings: Settings) -> None:
    bind_tables(settings)
    now = utc_now()
    if settings.confirmation_sender:  # moto's SES sends only from a verified identity
        ses = boto3.client("ses", region_name=settings.aws_region)
        ses.verify_email_identity(EmailAddress=settings.confirmation_sender)
    for profile in PROFILES:
        register_profile(
            ProfileId(profile.profile_id),
            {Channel.EMAIL: profile.email, Channel.SMS: profile.phone},
            profile.locale,
        )
    record_change(
        ProfileId("demo-de-1"),
        ConsentChange(
            scope=Scope.channel(Channel.SMS),
            action=Action.OPT_OUT,
            source=Source.IMPORT,
            actor=SEED_ACTOR,
            reason="opted out of SMS on the previous platform",
        ),
    )
    save_service(
        Service(
            service_id=NEWSLETTER,
            name="newsletter",
            label="Newsletter",
            public_label="Our monthly newsletter",
            channel=Channel.EMAIL,
            confirmation=Confirmation.DOUBLE_OPT_IN,
            created_at=now,
            updated_at=now,
        ),
        expected_version=None,
    )
    # Double opt-in: both subscriptions start pending; the first one's owner confirmed.
    for action, profile_ids in ((Action.SUBSCRIBE, SUBSCRIBERS), (Action.CONFIRM, SUBSCRIBERS[:1])):
        for profile_id in profile_ids:
            record_change(
                ProfileId(profile_id),
                ConsentChange(
                    scope=Scope.service(NEWSLETTER),
                    action=action,
                    source=Source.IMPORT,
                    actor=SEED_ACTOR,
                    requested=SubscriptionStatus.SUBSCRIBED if action is Action.SUBSCRIBE else None,
                ),
            )
    for channel, address, status, reason in ADDRESS_STATUSES:
        put_status(channel, Address(address), status, reason, actor=SEED_ACTOR)
    seed_import(settings)


DEMO_IMPORT = (
    "profile_id,locale,email,sms,no_longer_contact_all,no_longer_contact_email,"
    "no_longer_contact_sms\n"
    "import-demo-1,en,ana.import@example.com,,,true,\n"
    "import-demo-2,nl,,+31612340000,,,true\n"
    "import-demo-3,fr,not an address,,,,\n"
    "import-demo-4,de,jonas.import@example.de,,true,,\n"
)
"""A file from a previous platform: three rows apply, one is refused with its reason."""


def seed_import(settings: Settings) -> None:
    """The demo import, run as the import function runs one, so that the console's
    imports page has a finished import and its report."""
    bucket = DataBucket(settings.data_bucket, region=settings.aws_region)
    key = "uploads/demo-previous-platform.csv"
    bucket.put_bytes(key, DEMO_IMPORT.encode(), "text/csv")
    _, etag = bucket.head(key)
    now = utc_now()
    record = ImportRecord(
        import_id=import_id_of(ImportKind.PROFILES, bucket.name, key, etag),
        kind=ImportKind.PROFILES,
        bucket=bucket.name,
        key=key,
        etag=etag,
        status=ImportStatus.QUEUED,
        created_at=now,
        updated_at=now,
    )
    import_store.create(record)
    run(
        record.import_id,
        ImportRun(
            bucket=bucket,
            default_region=settings.default_phone_region,
            smtputf8=settings.sender_smtputf8,
        ),
    )


def strong_password() -> str:
    """Random, and of every class the user pool's password policy asks for."""
    return f"{secrets.token_urlsafe(18)}-Aa7"


def console_users(settings: Settings) -> dict[str, dict[str, str]]:
    """A demo operator and a demo viewer in the console's user pool, each with a new
    random password; their credentials by role."""
    if not settings.console_user_pool_id:
        raise RuntimeError("the console's user pool was not created")
    cognito = boto3.client("cognito-idp", region_name=settings.aws_region)
    pool = settings.console_user_pool_id
    users = {}
    for role, username, group in CONSOLE_USERS:
        password = strong_password()
        cognito.admin_create_user(UserPoolId=pool, Username=username, MessageAction="SUPPRESS")
        cognito.admin_set_user_password(
            UserPoolId=pool, Username=username, Password=password, Permanent=True
        )
        cognito.admin_add_user_to_group(UserPoolId=pool, Username=username, GroupName=group)
        users[role] = {"username": username, "password": password}
    return users


def link_signer(settings: Settings) -> LinkSigner:
    """A signer with the keyring the stack generated, read back from Secrets Manager."""
    secrets = boto3.client("secretsmanager", region_name=settings.aws_region)
    secret = secrets.get_secret_value(SecretId=settings.signing_keys_secret)["SecretString"]
    return LinkSigner(
        Keyring.from_secret(json.loads(secret)), ttl=timedelta(days=settings.link_ttl_days)
    )


def profile_links(signer: LinkSigner, api_url: str) -> list[dict[str, Any]]:
    links = []
    for profile in PROFILES:
        profile_id = ProfileId(profile.profile_id)
        preferences = signer.sign(LinkClaims(profile_id=profile_id, scope=Scope.all()))
        one_click = signer.sign(
            LinkClaims(profile_id=profile_id, scope=Scope.all(), delivery_id=DEMO_DELIVERY)
        )
        links.append(
            {
                "profile_id": profile.profile_id,
                "email": profile.email,
                "phone": profile.phone,
                "locale": profile.locale,
                "preferences_url": f"{api_url}/p/{preferences}",
                "one_click_url": f"{api_url}/u/{one_click}",
            }
        )
    return links


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Write whole or not at all: a reader waiting for the file never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(state, indent=2) + "\n")
    partial.replace(path)


def summary(state: dict[str, Any], state_path: Path) -> str:
    """What a newcomer reads first: where things are, and links to try."""
    api_url = state["api_url"]
    first = state["profiles"][0]
    lines = [
        "",
        f"API            {api_url}   (landing pages, one-click, /v1)",
        f"AWS endpoint   {state['aws_endpoint_url']}   (region {state['region']})",
        f"data bucket    {state['bucket']}",
        f"state machine  {state['state_machine_arn']}",
        f"feedback topic {state['feedback_topic_arn']}",
        "",
    ]
    for profile in state["profiles"]:
        lines += [
            f"{profile['profile_id']}  {profile['locale']}  {profile['email']}  {profile['phone']}",
            f"  preference center  {profile['preferences_url']}",
            f"  one-click          {profile['one_click_url']}",
        ]
    lines += [
        "",
        f"subscription page (double opt-in)  {api_url}/s/{NEWSLETTER}",
        f"emails sent (confirmation links)   {state['outbox']}",
        "",
        f"operator console  {state['console']['url']}",
        *(
            f"  {role:<8} {user['username']}  password {user['password']}"
            for role, user in state["console"].items()
            if role != "url"
        ),
        "",
        "Try the one-click unsubscribe, then read the proof it left:",
        "  curl -si -X POST -H 'Content-Type: application/x-www-form-urlencoded' \\",
        f"       -d 'List-Unsubscribe=One-Click' '{first['one_click_url']}'",
        f"  curl -s '{api_url}/v1/profiles/{first['profile_id']}/consent'",
        "",
        f"All of the above as JSON: {state_path}",
    ]
    return "\n".join(lines)
