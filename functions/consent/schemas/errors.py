"""The shape of every error the operator API answers with (but the 410's, an erasure).

The handler writes it without building the model (consent.api.error_body); the model
is what the OpenAPI document says of it."""

from __future__ import annotations

from consent.commands import ApiModel


class ErrorOut(ApiModel):
    """What went wrong: the status repeated, a message, and the field at fault if one is."""

    status_code: int
    message: str
    field: str | None = None
