"""Steps several integration tests take."""

from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from consentry.addresses import address_store
from consentry.addresses.status import AddressState, AddressStatus
from consentry.consent.rules import Scope
from consentry.consent.tokens import LinkClaims, LinkSigner
from consentry.core.types import Address, Channel, ProfileId
from tests.integration.conftest import LandingCall

T = TypeVar("T")


def present(value: T | None) -> T:
    """`value`, which the test expects to exist: None fails the test."""
    assert value is not None
    return value


def one_click(
    landing: LandingCall, signer: LinkSigner, profile_id: str, scope: Scope | None = None
) -> dict[str, Any]:
    token = signer.sign(LinkClaims(profile_id=ProfileId(profile_id), scope=scope or Scope.all()))
    response = landing("one_click_post", token=token)
    assert response["statusCode"] == 200
    return response


def seed_released_by_time(address: str, *, released_days_ago: int = 1) -> None:
    """A mailbox-full quarantine whose release time passed `released_days_ago` days ago,
    stored as it was when it began (the daily job has not run since)."""
    began = datetime.now(UTC) - timedelta(days=30 + released_days_ago)
    _seed(
        address,
        error_status=AddressStatus.QUARANTINE,
        reason="mailbox_full",
        error_count=5,
        last_counted_error_at=began,
        release_at=began + timedelta(days=30),
    )


def seed_overdue_counter(address: str, *, days_ago: int = 26) -> None:
    """An erroneous address whose last counted error is `days_ago` days old."""
    last = datetime.now(UTC) - timedelta(days=days_ago)
    _seed(
        address,
        error_status=AddressStatus.ERRONEOUS,
        reason="unreachable",
        error_count=4,
        last_counted_error_at=last,
    )


def _seed(address: str, **fields: Any) -> None:
    address_store.to_item(
        AddressState(
            channel=Channel.EMAIL,
            address=Address(address),
            updated_at=fields["last_counted_error_at"],
            **fields,
        ),
        version=1,
    ).save()
