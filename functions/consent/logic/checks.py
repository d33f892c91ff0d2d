"""POST /v1/checks: may this message go to this address of this profile, now?"""

from __future__ import annotations

from consent.schemas.checks import CheckItemIn, CheckResultOut, ChecksOut
from consentry.addresses import address_store
from consentry.addresses.counting import QuarantinePolicy, settle
from consentry.addresses.normalize import normalize
from consentry.analysis.exclusion import ExclusionCause, SendFacts, first_exclusion
from consentry.consent import profile_store, service_store
from consentry.consent.tokens import Keyring
from consentry.core.clock import Clock
from consentry.core.types import ProfileId, ServiceId
from consentry.privacy import fingerprints
from consentry.privacy.fingerprints import ErasedSuppression


def _erased_cause(suppression: ErasedSuppression | None) -> ExclusionCause | None:
    return suppression.cause if suppression else None


def check(
    items: list[CheckItemIn],
    *,
    default_region: str,
    policy: QuarantinePolicy,
    clock: Clock,
    keyring: Keyring,
    smtputf8: bool = False,
    sms_any_number_type: bool = False,
) -> ChecksOut:
    """One verdict per item, in order; four batched reads for the whole request.

    The keywords are the deployment's address settings, as the analysis applies them.
    Addresses are read as they are now: a release that fell due counts at once."""
    now = clock()
    normalized = [
        normalize(
            item.channel,
            item.address,
            default_region,
            smtputf8=smtputf8,
            sms_receivers_only=not sms_any_number_type,
        )
        for item in items
    ]
    keys = {(i.channel, address) for i, address in zip(items, normalized, strict=True) if address}
    addresses = address_store.find_addresses(keys, consistent=False)
    erased = fingerprints.find(keyring, keys)
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
                erased=_erased_cause(erased.get((item.channel, address))) if address else None,
            )
        )
        results.append(
            CheckResultOut(
                verdict="blocked" if cause else "allowed", reason=cause.value if cause else None
            )
        )
    return ChecksOut(results=results)
