"""What the recipient pages need from outside, built once by the handler and handed down:
the settings, the link signer and form guard (keys from Secrets Manager, cached by
Powertools parameters), the key of visitors' profile ids, the confirmation mailer, the
clock. A test builds its own."""

from __future__ import annotations

from dataclasses import dataclass, field

from consentry.consent.tokens import Keyring, LinkSigner, load_keyring, load_signer
from consentry.core.clock import Clock, utc_now
from consentry.core.settings import Settings
from landing.forms import FormGuard
from landing.mailer import OncePerPending, SesMailer


@dataclass
class LandingWiring:
    settings: Settings
    clock: Clock = utc_now
    outbox: OncePerPending = field(init=False)

    def __post_init__(self) -> None:
        self.outbox = OncePerPending(
            SesMailer(self.settings.aws_region), self.settings.idempotency_table
        )

    def signer(self) -> LinkSigner:
        settings = self.settings
        return load_signer(
            settings.signing_keys_secret,
            ttl_days=settings.link_ttl_days,
            max_age_s=settings.signing_keys_max_age_s,
        )

    def guard(self) -> FormGuard:
        settings = self.settings
        return FormGuard(
            load_keyring(settings.signing_keys_secret, max_age_s=settings.signing_keys_max_age_s)
        )

    def erasure_keyring(self) -> Keyring:
        from consentry.privacy import fingerprints  # noqa: PLC0415 (confirmations, erasure)

        settings = self.settings
        return fingerprints.load_keyring(
            settings.erasure_keys_secret, max_age_s=settings.signing_keys_max_age_s
        )

    def profile_id_key(self) -> bytes:
        from landing import signup  # noqa: PLC0415 (sign-ups only)

        settings = self.settings
        if not settings.profile_id_key_secret:
            raise RuntimeError("PROFILE_ID_KEY_SECRET is not set for the landing function")
        return signup.load_profile_id_key(
            settings.profile_id_key_secret, max_age_s=settings.signing_keys_max_age_s
        )
