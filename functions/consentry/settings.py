"""Deployment settings, read once from the environment the template gives each function."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Resource names have no defaults: a function without them must not start."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    aws_region: str = Field(validation_alias="AWS_REGION")

    profiles_table: str
    consent_events_table: str
    addresses_table: str
    address_events_table: str
    domain_windows_table: str
    services_table: str
    subscriptions_table: str
    analyses_table: str
    imports_table: str
    idempotency_table: str
    data_bucket: str
    signing_keys_secret: str
    state_machine_arn: str | None = None
    """Only the functions that start analyses are given it."""

    link_ttl_days: int = Field(default=90, ge=60)
    signing_keys_max_age_s: int = Field(default=300, ge=0)
    owner_opt_out_denylists: bool = True
    default_phone_region: str = "US"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
