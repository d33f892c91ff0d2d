"""Bulk imports as plain values and rules: the record of an import, and how a CSV row reads.

An import is identified by its file: the same object (bucket, key, ETag) imported as
the same kind is the same import. A row is read into plain values or rejected with
a reason that names what was wrong; a file whose header cannot be read fails whole.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from consentry.addresses.normalize import normalize
from consentry.addresses.status import AddressStatus
from consentry.core.errors import ConsentryError
from consentry.core.types import Address, Channel, ProfileId


class ImportKind(StrEnum):
    PROFILES = "profiles"
    ADDRESSES = "addresses"


class ImportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class RowOutcome(StrEnum):
    APPLIED = "applied"
    REJECTED = "rejected"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, kw_only=True)
class ImportCounts:
    rows: int = 0
    """Data rows in the file (blank lines aside), known once the file has been read."""
    applied: int = 0
    rejected: int = 0
    unchanged: int = 0

    def add(self, outcome: RowOutcome) -> ImportCounts:
        return replace(self, **{outcome.value: getattr(self, outcome.value) + 1})


@dataclass(frozen=True, kw_only=True)
class ImportRecord:
    import_id: str
    kind: ImportKind
    bucket: str
    key: str
    etag: str
    status: ImportStatus
    counts: ImportCounts = field(default_factory=ImportCounts)
    report_uri: str | None = None
    error: str | None = None
    created_at: datetime
    updated_at: datetime
    lease_until: datetime | None = None
    """While running: when the run that holds the import ends at the latest."""

    @property
    def source_uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


class ImportFileError(ConsentryError):
    """A file that cannot be imported at all (encoding, header, CSV syntax, changed)."""


def import_id_of(kind: ImportKind, bucket: str, key: str, etag: str) -> str:
    """The id of importing this version of this object as `kind`: same file, same import."""
    material = "\n".join((kind.value, bucket, key, etag.strip('"')))
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key) of an `s3://bucket/key` URI."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def actor_of(import_id: str) -> str:
    """Who the history names for what an import changed."""
    return f"import:{import_id}"


# ---------------------------------------------------------------- the files' columns

NO_LONGER_CONTACT_ALL = "no_longer_contact_all"
NO_LONGER_CONTACT = {f"no_longer_contact_{channel.value}": channel for channel in Channel}
PROFILE_COLUMNS = (
    "profile_id",
    "locale",
    *(channel.value for channel in Channel),
    NO_LONGER_CONTACT_ALL,
    *NO_LONGER_CONTACT,
)
ADDRESS_COLUMNS = ("channel", "address", "status", "reason")
_COLUMNS = {ImportKind.PROFILES: PROFILE_COLUMNS, ImportKind.ADDRESSES: ADDRESS_COLUMNS}
_REQUIRED = {ImportKind.PROFILES: ("profile_id",), ImportKind.ADDRESSES: ADDRESS_COLUMNS}


def read_header(kind: ImportKind, header: Sequence[str]) -> tuple[str, ...]:
    """The file's column names (trimmed, lower-cased), or ImportFileError saying why not."""
    columns = tuple(name.strip().lower() for name in header)
    known = _COLUMNS[kind]
    unknown = [name for name in columns if name not in known]
    if unknown:
        raise ImportFileError(
            f"unknown columns for an import of {kind.value}: {', '.join(map(repr, unknown))}; "
            f"the columns are {','.join(known)}"
        )
    duplicated = sorted({name for name in columns if columns.count(name) > 1})
    if duplicated:
        raise ImportFileError(f"columns named twice: {', '.join(duplicated)}")
    missing = [name for name in _REQUIRED[kind] if name not in columns]
    if missing:
        raise ImportFileError(f"missing columns: {', '.join(missing)}")
    return columns


# ---------------------------------------------------------------- the rows


class RejectedRow(ConsentryError):
    """A row that cannot be applied; the message is the report's reason."""


_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
_IDENTIFIER = re.compile(r"[A-Za-z0-9._:@+\-]{1,128}")
_LOCALE = re.compile(r"[a-z]{2}(-[A-Z]{2})?")
_IMPORTABLE_STATUSES = (
    AddressStatus.QUARANTINE,
    AddressStatus.DENYLISTED,
    AddressStatus.ALLOWLISTED,
    AddressStatus.VALID,
)
MAX_REASON = 500


@dataclass(frozen=True)
class ProfileRow:
    profile_id: ProfileId
    locale: str | None = None
    addresses: dict[Channel, Address] = field(default_factory=dict)
    opt_out_all: bool | None = None
    opt_out: dict[Channel, bool] = field(default_factory=dict)
    """True: no longer contact on that channel; False: contact again; absent: as it is."""


@dataclass(frozen=True)
class AddressRow:
    channel: Channel
    address: Address
    status: AddressStatus
    reason: str


def row_values(columns: tuple[str, ...], fields: Sequence[str]) -> dict[str, str]:
    """The row's values by column; RejectedRow when it has too many or too few fields."""
    if len(fields) != len(columns):
        raise RejectedRow(f"expected {len(columns)} fields, found {len(fields)}")
    return dict(zip(columns, fields, strict=True))


def read_profile_row(
    values: dict[str, str], default_region: str, *, smtputf8: bool = False
) -> ProfileRow:
    profile_id = values["profile_id"].strip()
    if not profile_id:
        raise RejectedRow("profile_id is required")
    if not _IDENTIFIER.fullmatch(profile_id):
        raise RejectedRow("invalid profile_id")
    locale = values.get("locale", "").strip() or None
    if locale is not None and not _LOCALE.fullmatch(locale):
        raise RejectedRow(f"invalid locale {locale!r} (expected a form like en or fr-CA)")
    addresses: dict[Channel, Address] = {}
    for channel in Channel:
        raw = values.get(channel.value, "")
        if not raw.strip():
            continue
        normal = normalize(channel, raw, default_region, smtputf8=smtputf8)
        if normal is None:
            raise RejectedRow(f"invalid {channel.value} address")
        addresses[channel] = normal
    opt_out = {
        channel: flag
        for column, channel in NO_LONGER_CONTACT.items()
        if (flag := _flag(values, column)) is not None
    }
    return ProfileRow(
        profile_id=ProfileId(profile_id),
        locale=locale,
        addresses=addresses,
        opt_out_all=_flag(values, NO_LONGER_CONTACT_ALL),
        opt_out=opt_out,
    )


def _flag(values: dict[str, str], column: str) -> bool | None:
    text = values.get(column, "").strip().lower()
    if not text:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise RejectedRow(f"{column} must be true, false, 1, 0, yes, no or empty")


def read_address_row(
    values: dict[str, str], default_region: str, *, smtputf8: bool = False
) -> AddressRow:
    try:
        channel = Channel(values["channel"].strip().lower())
    except ValueError:
        raise RejectedRow(
            f"channel must be one of {', '.join(channel.value for channel in Channel)}"
        ) from None
    if not values["address"].strip():
        raise RejectedRow("address is required")
    address = normalize(channel, values["address"], default_region, smtputf8=smtputf8)
    if address is None:
        raise RejectedRow(f"invalid {channel.value} address")
    status_text = values["status"].strip().lower()
    status = next((s for s in _IMPORTABLE_STATUSES if s.value == status_text), None)
    if status is None:
        raise RejectedRow(
            f"status must be one of {', '.join(s.value for s in _IMPORTABLE_STATUSES)}"
        )
    reason = values["reason"].strip()
    if not reason:
        raise RejectedRow("reason is required")
    if len(reason) > MAX_REASON:
        raise RejectedRow(f"reason is longer than {MAX_REASON} characters")
    return AddressRow(channel=channel, address=address, status=status, reason=reason)
