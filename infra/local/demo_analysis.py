"""`make run`'s last step: a generated 100,000-row audience, the consent data that
excludes some of it, and one analysis of it through `consentry analyze`'s own code,
with the report printed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from consentry.addresses.decisions import put_status
from consentry.addresses.status import AddressStatus
from consentry.consent.profile_store import record_change
from consentry.consent.rules import ConsentChange, Scope
from consentry.core.errors import ConsentryError
from consentry.core.types import Action, Address, Channel, ProfileId, Source
from consentry_cli.analyze import Analysis, AnalysisFailedError
from consentry_cli.analyze import run as run_analysis
from consentry_cli.audience import Generated, Mix, generate
from consentry_cli.stack import Stack

DEMO_ROWS = 100_000
DEMO_MIX = Mix(
    opted_out=0.002,
    quarantined=0.001,
    denylisted=0.0005,
    duplicates=0.01,
    invalid=0.005,
    missing=0.005,
)
"""Fewer opted-out profiles and bad addresses than the benchmark's: each one is a
write through the consent store at start (a few seconds for these 350)."""
SEED_ACTOR = "local-demo-seed"


def analyze_demo_audience(state: dict[str, Any], state_dir: Path) -> dict[str, Any] | None:
    """Generate, seed and analyze the demo audience; the record, or None if it failed."""
    generated = generate(state_dir / "demo-audience.csv", DEMO_ROWS, DEMO_MIX)
    print(
        f"\nDemo analysis: {generated.rows:,} rows in {generated.path}; seeding "
        f"{len(generated.opted_out):,} opted-out profiles, {len(generated.quarantined):,} "
        f"quarantined and {len(generated.denylisted):,} denylisted addresses",
        flush=True,
    )
    try:
        seed(generated)
    except ConsentryError as error:
        print(f"the demo analysis could not seed its consent data: {error}", file=sys.stderr)
        return None
    stack = Stack(
        name="local",
        state_machine_arn=state["state_machine_arn"],
        bucket=state["bucket"],
        region=state["region"],
        endpoint_url=state["aws_endpoint_url"],
    )
    analysis = Analysis(audience=generated.path, channel="email", delivery_id="demo-audience")
    try:
        return run_analysis(analysis, stack, sys.stdout, sys.stderr)
    except (AnalysisFailedError, BotoCoreError, ClientError) as error:
        print(f"the demo analysis failed: {error}", file=sys.stderr)
        return None


def seed(generated: Generated) -> None:
    """The demo audience's consent data, through the project's own data access."""

    def opt_out(profile_id: str) -> None:
        record_change(
            ProfileId(profile_id),
            ConsentChange(
                scope=Scope.all(), action=Action.OPT_OUT, source=Source.IMPORT, actor=SEED_ACTOR
            ),
        )

    def block(address: str, status: AddressStatus) -> None:
        put_status(Channel.EMAIL, Address(address), status, "demo", actor=SEED_ACTOR)

    # One at a time: moto's DynamoDB is not safe for concurrent transactions.
    for profile_id in generated.opted_out:
        opt_out(profile_id)
    for address in generated.quarantined:
        block(address, AddressStatus.QUARANTINE)
    for address in generated.denylisted:
        block(address, AddressStatus.DENYLISTED)
