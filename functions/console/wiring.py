"""What the console needs from outside, built once by the handler and handed down: the
settings, the session keys (from Secrets Manager, cached by Powertools parameters), the
user pool, the data bucket, the clock. What only some pages use (the quarantine's
policy, the erasure keys) is imported at its first use, with the pages that need it.
A test builds its own, with a fake directory."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from consentry.consent.tokens import Keyring, load_keyring
from consentry.core.bucket import DataBucket
from consentry.core.clock import Clock, utc_now
from consentry.core.settings import Settings
from console.references import References
from console.session import SessionKeys
from console.sign_in import CognitoDirectory, Directory

if TYPE_CHECKING:
    from consentry.addresses.counting import QuarantinePolicy


@dataclass
class ConsoleWiring:
    settings: Settings
    clock: Clock = utc_now
    directory: Directory | None = None
    """Who may sign in; by default the settings' user pool."""
    bucket: DataBucket = field(init=False)

    def __post_init__(self) -> None:
        settings = self.settings
        self.bucket = DataBucket(settings.data_bucket, region=settings.aws_region)

    def users(self) -> Directory:
        if self.directory is None:
            settings = self.settings
            if not (settings.console_user_pool_id and settings.console_client_id):
                raise RuntimeError("the console is given no user pool (CONSOLE_USER_POOL_ID)")
            self.directory = CognitoDirectory(
                settings.console_user_pool_id, settings.console_client_id, settings.aws_region
            )
        return self.directory

    def keyring(self) -> Keyring:
        secret = self.settings.console_session_keys_secret
        if not secret:
            raise RuntimeError("the console is given no session keys (CONSOLE_SESSION_KEYS_SECRET)")
        return load_keyring(secret, max_age_s=self.settings.signing_keys_max_age_s)

    def sessions(self) -> SessionKeys:
        return SessionKeys(
            self.keyring(),
            lifetime=timedelta(hours=self.settings.console_session_hours),
            clock=self.clock,
        )

    def erasure_keyring(self) -> Keyring:
        """The keys of erased addresses' fingerprints, as /v1 loads them."""
        from consentry.privacy import fingerprints  # noqa: PLC0415 (some pages)

        return fingerprints.load_keyring(
            self.settings.erasure_keys_secret, max_age_s=self.settings.signing_keys_max_age_s
        )

    def references(self) -> References:
        return References(self.keyring())

    @cached_property
    def quarantine_policy(self) -> QuarantinePolicy:
        from consentry.addresses.counting import QuarantinePolicy  # noqa: PLC0415 (some pages)

        return QuarantinePolicy.from_settings(self.settings)
