"""Sending the double opt-in confirmation email through SES, at most once an hour for
one pending subscription.

The limit keeps the public subscription form from being used to flood someone's
mailbox: a repeated request for the same pending subscription within the hour sends
nothing (Powertools idempotency, keyed by profile, service and the time the
subscription became pending, so a new pending subscription gets its own email).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from consentry.core.errors import UnavailableError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
    )

# boto3 and Powertools idempotency (which imports boto3) are imported by the first mail:
# the pages that send none need neither.

RESEND_AFTER_S = 3600


class MailUnavailableError(UnavailableError):
    """The email could not be handed to SES; the person may try again."""

    dependency = "the mail service"


@dataclass(frozen=True)
class Mail:
    sender: str
    to: str
    subject: str
    text: str
    html: str


class Mailer(Protocol):
    def send(self, mail: Mail) -> None: ...


class SesMailer:
    """Sends through SES (the client is made at the first mail, not at cold start)."""

    def __init__(self, region: str) -> None:
        self._region = region
        self._client: Any = None

    def send(self, mail: Mail) -> None:
        import boto3  # noqa: PLC0415 (first mail)
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        if self._client is None:
            self._client = boto3.client("ses", region_name=self._region)
        try:
            self._client.send_email(
                Source=mail.sender,
                Destination={"ToAddresses": [mail.to]},
                Message={
                    "Subject": {"Data": mail.subject, "Charset": "UTF-8"},
                    "Body": {
                        "Text": {"Data": mail.text, "Charset": "UTF-8"},
                        "Html": {"Data": mail.html, "Charset": "UTF-8"},
                    },
                },
            )
        except (ClientError, BotoCoreError) as error:
            raise MailUnavailableError(type(error).__name__) from error


class OncePerPending:
    """Sends a confirmation mail unless one went out for the same key within the hour."""

    def __init__(self, mailer: Mailer, idempotency_table: str) -> None:
        self._mailer = mailer
        self._table = idempotency_table
        self._persistence: DynamoDBPersistenceLayer | None = None
        self._config: IdempotencyConfig | None = None
        self._context: Any = None

    def register_lambda_context(self, context: Any) -> None:
        """Lets an interrupted send expire with its invocation (Powertools idempotency)."""
        self._context = context
        if self._config is not None:
            self._config.register_lambda_context(context)

    def send(self, key: str, mail: Mail) -> None:
        from aws_lambda_powertools.utilities.idempotency import (  # noqa: PLC0415 (first mail)
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )

        if self._config is None:
            self._config = IdempotencyConfig(
                event_key_jmespath="key",
                raise_on_no_idempotency_key=True,
                expires_after_seconds=RESEND_AFTER_S,
            )
            self._config.register_lambda_context(self._context)
        if self._persistence is None:
            self._persistence = DynamoDBPersistenceLayer(table_name=self._table)
        once = idempotent_function(
            self._send,
            data_keyword_argument="request",
            persistence_store=self._persistence,
            config=self._config,
        )
        once(request={"key": key, "mail": mail})

    def _send(self, *, request: dict[str, Any]) -> dict[str, bool]:
        self._mailer.send(request["mail"])
        return {"sent": True}
