"""How often the public subscription form may be used, so that it cannot be used to
flood a mailbox or the service: counters per mailbox and per client, per hour.

A mailbox is the address as its provider delivers it (`mailbox`): the plus tag of the
local part left out, and for providers that ignore dots (Gmail), the dots too, so that
`jane+1@`, `jane+2@` and `j.a.n.e@` are one mailbox. Counters are keyed by a hash of
what they count (no address or IP address in clear) and expire an hour after their
hour.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from consentry.consent.tables import RateLimitModel
from consentry.core.persistence import LostRace, dynamodb
from consentry.core.types import Address

WINDOW = timedelta(hours=1)
DOTLESS_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
"""Providers that deliver `j.a.n.e@` to `jane@`."""
_SAME_MAILBOX = {"googlemail.com": "gmail.com"}


def mailbox(address: Address) -> str:
    """The mailbox a normalized e-mail address delivers to."""
    local, _, domain = address.rpartition("@")
    local = local.partition("+")[0]
    if domain in DOTLESS_DOMAINS:
        local = local.replace(".", "")
    return f"{local}@{_SAME_MAILBOX.get(domain, domain)}"


def take(kind: str, subject: str, limit: int, at: datetime) -> bool:
    """Count one use of `subject` (a mailbox, a client) in the hour of `at`; False, and
    nothing counted, once it was used `limit` times in that hour."""
    hour = int(at.timestamp()) // int(WINDOW.total_seconds())
    digest = hashlib.sha256(f"{kind}\x1f{subject}".encode()).hexdigest()[:32]
    item = RateLimitModel(f"{kind}#{hour}#{digest}")
    expires = datetime.fromtimestamp((hour + 2) * int(WINDOW.total_seconds()), at.tzinfo)
    try:
        with dynamodb():
            item.update(
                actions=[RateLimitModel.uses.add(1), RateLimitModel.expires_at.set(expires)],
                condition=RateLimitModel.limit_key.does_not_exist() | (RateLimitModel.uses < limit),
            )
    except LostRace:
        return False
    return True
