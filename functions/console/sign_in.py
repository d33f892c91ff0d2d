"""Signing in against the console's Cognito user pool (USER_PASSWORD_AUTH).

The password goes to Cognito once, and nothing Cognito returns is kept: the session
(console.session) names the user and the role their groups give, read server-side
with AdminListGroupsForUser. A wrong password and an unknown user get the same
refusal, so the page says nothing about which accounts exist. A temporary password,
which only its holder can know is right, gets a page that says to ask for a permanent
one. Cognito's own throttling comes back as its own answer, so the page can ask to
wait instead of to retry.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from consentry.core.errors import ConsentryError, UnavailableError

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient

MAX_USERNAME = 128
MAX_PASSWORD = 256
_REFUSED = frozenset(
    {
        "NotAuthorizedException",
        "UserNotFoundException",
        "UserNotConfirmedException",
        "PasswordResetRequiredException",
        "InvalidParameterException",
    }
)
_THROTTLED = frozenset({"TooManyRequestsException", "LimitExceededException"})


class DirectoryUnavailableError(UnavailableError):
    dependency = "the user pool"


class SignInRefusedError(ConsentryError):
    """The username and password do not sign anyone in (which of them is never said)."""


class PasswordChangeRequiredError(ConsentryError):
    """The password was right but is temporary: the pool wants a new one first (the
    console does not take that step; an administrator sets a permanent password)."""


class SignInThrottledError(ConsentryError):
    """Too many attempts: the user pool asks to wait."""


@dataclass(frozen=True)
class Identity:
    username: str
    """The user pool's own spelling of the username."""
    groups: list[str]


class Directory(Protocol):
    """Who may sign in: the user pool, or a fake in tests."""

    def authenticate(self, username: str, password: str) -> Identity: ...


@dataclass
class CognitoDirectory:
    user_pool_id: str
    client_id: str
    region: str

    @cached_property
    def _client(self) -> CognitoIdentityProviderClient:
        import boto3  # noqa: PLC0415 (sign-in requests only)

        return boto3.client("cognito-idp", region_name=self.region)

    def authenticate(self, username: str, password: str) -> Identity:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        if not username or not password:
            raise SignInRefusedError("a username and a password are needed")
        if len(username) > MAX_USERNAME or len(password) > MAX_PASSWORD:
            raise SignInRefusedError("too long to be a username or password of this pool")
        try:
            answer = self._client.initiate_auth(
                AuthFlow="USER_PASSWORD_AUTH",
                ClientId=self.client_id,
                AuthParameters={"USERNAME": username, "PASSWORD": password},
            )
            if answer.get("ChallengeName") == "NEW_PASSWORD_REQUIRED":
                raise PasswordChangeRequiredError("the password is temporary")
            result = answer.get("AuthenticationResult")
            if result is None or "AccessToken" not in result:
                # Another challenge (MFA) the console does not take.
                raise SignInRefusedError("the user pool asks for a step the console lacks")
            canonical = self._client.get_user(AccessToken=result["AccessToken"])["Username"]
            groups = self._client.admin_list_groups_for_user(
                UserPoolId=self.user_pool_id, Username=canonical, Limit=60
            )["Groups"]
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in _REFUSED:
                raise SignInRefusedError("refused by the user pool") from None
            if code in _THROTTLED:
                raise SignInThrottledError("the user pool asks to wait") from None
            raise DirectoryUnavailableError(code) from error
        except BotoCoreError as error:
            raise DirectoryUnavailableError(type(error).__name__) from error
        return Identity(
            username=canonical,
            groups=[group["GroupName"] for group in groups if "GroupName" in group],
        )
