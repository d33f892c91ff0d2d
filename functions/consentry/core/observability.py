"""The Powertools objects every function shares, and the masking of personal data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

Handler = Callable[..., Any]


class Untraced:
    """Stands in for Powertools' Tracer where tracing is off (POWERTOOLS_TRACE_DISABLED,
    or outside Lambda): a disabled Tracer still imports the X-Ray SDK and records into
    its dummy segments, a fifth of a cold start for nothing. Its decorators return the
    function they are given."""

    disabled = True

    def capture_lambda_handler(self, lambda_handler: Handler) -> Handler:
        return lambda_handler

    def capture_method(self, method: Handler) -> Handler:
        return method


logger = Logger()
# Powertools' own rule for when tracing is off.
tracer: Tracer | Untraced = Untraced() if Tracer._is_tracer_disabled() else Tracer()
metrics = Metrics(namespace="Consentry")


def mask_address(address: str) -> str:
    """Enough of an address to tell two apart in a log line, not enough to read it.

    >>> mask_address("jane.doe@example.com")
    'j***@example.com'
    >>> mask_address("+31612345678")
    '+31*******78'
    """
    local, at, domain = address.partition("@")
    if at:
        return f"{local[:1]}***@{domain}"
    if len(address) <= 5:
        return "*" * len(address)
    return address[:3] + "*" * (len(address) - 5) + address[-2:]
