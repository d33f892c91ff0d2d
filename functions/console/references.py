"""What a console URL may carry that must not be read in it: an address (the one an
operator looked up or opens from a list) and a list's cursor (which holds the last
address of its page). Each is sealed with AES-256-GCM under a key derived from the
console's keyring, so the URL is opaque and cannot be altered; a reference outlives
the session that made it only as long as its key stays in the keyring.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from functools import cached_property
from typing import Any

from consentry.consent.tokens import Keyring
from consentry.core.errors import InvalidInputError

_PURPOSE = b"consentry.console.reference.v1"
_NONCE = 12
MAX_REFERENCE = 2048


class References:
    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    @cached_property
    def _ciphers(self) -> dict[str, Any]:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: PLC0415

        return {
            kid: AESGCM(hmac.new(key.encode(), _PURPOSE, hashlib.sha256).digest())
            for kid, key in self._keyring.keys.items()
        }

    def seal(self, kind: str, text: str) -> str:
        kid = self._keyring.active
        nonce = os.urandom(_NONCE)
        sealed = self._ciphers[kid].encrypt(nonce, text.encode(), f"{kid}.{kind}".encode())
        return f"{kid}.{base64.urlsafe_b64encode(nonce + sealed).rstrip(b'=').decode()}"

    def open(self, kind: str, reference: str, *, field: str) -> str:
        """The text sealed as `kind`; InvalidInputError (naming `field`) for anything else."""
        from cryptography.exceptions import InvalidTag  # noqa: PLC0415

        kid, _, body = reference.partition(".")
        refused = InvalidInputError(field, "not a reference this console gave out")
        if kid not in self._keyring.keys or not body or len(reference) > MAX_REFERENCE:
            raise refused
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            text: bytes = self._ciphers[kid].decrypt(
                raw[:_NONCE], raw[_NONCE:], f"{kid}.{kind}".encode()
            )
            return text.decode()
        except (binascii.Error, ValueError, InvalidTag, UnicodeDecodeError):
            raise refused from None
