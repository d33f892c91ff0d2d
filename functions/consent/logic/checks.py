"""POST /v1/checks: may this message go to this address of this profile, now?"""

from __future__ import annotations

from consent.schemas import CheckItemIn, CheckResultOut, ChecksOut
from consentry.addresses import address_store
from consentry.addresses.counting import QuarantinePolicy, settle
from consentry.addresses.normalize import normalize
from consentry.analysis.exclusion import SendFacts, first_exclusion
from consentry.consent import profile_store, service_store
from consentry.core.clock import Clock
from consentry.core.types import ProfileId, ServiceId


def check(
    items: list[CheckItemIn], *, default_region: str, policy: QuarantinePolicy, clock: Clock
) -> ChecksOut:
    """One verdict per item, in order; three batched reads for the whole request.

    Addresses are read as they are now: a release that fell due counts at once."""
    now = clock()
    normalized = [normalize(item.channel, item.address, default_region) for item in items]
    addresses = address_store.find_addresses(
        {
            (item.channel, address)
            for item, address in zip(items, normalized, strict=True)
            if address
        },
        consistent=False,
    )
    consents = profile_store.find_consents({ProfileId(item.profile_id) for item in items})
    subscriptions = service_store.find_subscriptions(
        {(ServiceId(i.service_id), ProfileId(i.profile_id)) for i in items if i.service_id}
    )
    results = []
    for item, address in zip(items, normalized, strict=True):
        subscription = subscriptions.get((item.service_id or "", item.profile_id))
        stored = addresses.get((item.channel, address)) if address else None
        cause = first_exclusion(
            SendFacts(
                channel=item.channel,
                message_class=item.message_class,
                raw_address=item.address,
                address=address,
                address_state=settle(stored, now, policy) if stored else None,
                consent=consents.get(ProfileId(item.profile_id)),
                for_service=item.service_id is not None,
                subscribed=subscription is not None and subscription.active(now),
            )
        )
        results.append(
            CheckResultOut(
                verdict="blocked" if cause else "allowed", reason=cause.value if cause else None
            )
        )
    return ChecksOut(results=results)
