"""Sessions ended by signing out. A session cookie is signed and self-contained, so
without this a copy of it would open the console until it expired; signing out puts
the session's id here, with a TTL at the session's own expiry (DynamoDB removes the
item once no cookie could still be good), and every signed-in request reads it once.
"""

from __future__ import annotations

from datetime import datetime

from pynamodb.attributes import TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from consentry.core.persistence import dynamodb, table


@table("console_sessions_table")
class SignedOutSessionModel(Model):
    """A console session that was signed out before it expired."""

    class Meta:
        table_name = "console-sessions"

    session_id = UnicodeAttribute(hash_key=True)
    expires_at = TTLAttribute()


def sign_out(session_id: str, expires_at: datetime) -> None:
    with dynamodb():
        SignedOutSessionModel(session_id, expires_at=expires_at).save()


def signed_out(session_id: str) -> bool:
    """Whether the session was signed out (one strongly consistent read: a cookie copied
    before the sign-out stops working at once)."""
    with dynamodb():
        try:
            SignedOutSessionModel.get(
                session_id, consistent_read=True, attributes_to_get=["session_id"]
            )
        except SignedOutSessionModel.DoesNotExist:
            return False
    return True
