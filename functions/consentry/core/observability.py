"""The Powertools objects every function shares, and the masking of personal data."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
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
