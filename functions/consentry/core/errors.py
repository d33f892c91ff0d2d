"""The domain's errors. No HTTP in here: each API maps these once."""

from __future__ import annotations


class ConsentryError(Exception):
    """Base of every error the domain raises on purpose."""


class NotFoundError(ConsentryError):
    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class GoneError(NotFoundError):
    """The record was erased (GDPR art. 17); `erasure` says what was erased and when."""

    def __init__(self, kind: str, key: str, erasure: object) -> None:
        super().__init__(kind, key)
        self.args = (f"{kind} {key!r} was erased",)
        self.erasure = erasure


class InvalidInputError(ConsentryError):
    """Input that no retry can fix; `field` names what was wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ConflictError(ConsentryError):
    """A concurrent writer won every attempt; the caller may retry on fresh state."""


class StaleVersionError(ConsentryError):
    """The caller's expected version is not the stored one (optimistic concurrency)."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"expected version {expected}, stored version is {actual}")
        self.expected = expected
        self.actual = actual


class TokenError(ConsentryError):
    """A link token that is forged, altered, malformed or signed by an unknown key."""


class TokenExpiredError(TokenError):
    """A link token whose signature is good but whose validity has run out."""


class UnavailableError(ConsentryError):
    """A dependency could not be reached, or failed; transient, safe to retry.

    The message says only which dependency, so that an answer built from it names no
    table, bucket or ARN; `detail` keeps what the dependency said, for the log.
    """

    dependency = "a dependency"

    def __init__(self, detail: str = "") -> None:
        super().__init__(f"{self.dependency} is unavailable; try again")
        self.detail = detail


class StoreUnavailableError(UnavailableError):
    """DynamoDB (the consent store) could not be read or written."""

    dependency = "the consent store"


class BucketUnavailableError(UnavailableError):
    """S3 (the data bucket) could not be read or written."""

    dependency = "the data bucket"


class WorkflowUnavailableError(UnavailableError):
    """Step Functions or Lambda could not start an analysis or an import."""

    dependency = "the job runner"
