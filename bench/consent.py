"""Consent changes per second in-process, next to a bare pynamodb put, and DynamoDB
calls per change.

Runs on moto in this process (no network), with the tables of template.yaml. A
consent change reads the profile, then writes the profile and its event in one
TransactWriteItems; an owner's opt-out also reads and writes the profile's addresses.
Both pay moto's in-process cost (see bench.inprocess); the `own_ms_*` figures leave
it out.

Prints `name=value` lines.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.client import BaseClient

from bench.inprocess import MotoClock, template_on_moto


@contextmanager
def counting_dynamodb_calls() -> Iterator[Counter[str]]:
    """Every DynamoDB API call any client makes, by operation name."""
    calls: Counter[str] = Counter()
    client_class: Any = BaseClient  # botocore-stubs leave out the private _make_api_call
    original = client_class._make_api_call

    def counted(self: BaseClient, operation: str, params: Any) -> Any:
        if self.meta.service_model.service_name == "dynamodb":
            calls[operation] += 1
        return original(self, operation, params)

    client_class._make_api_call = counted
    try:
        yield calls
    finally:
        client_class._make_api_call = original


def _measure(
    action: Callable[[int], object], count: int, repeats: int, moto: MotoClock
) -> tuple[float, float]:
    """Median operations per second, and median milliseconds per operation outside moto."""
    rates, own_ms = [], []
    for repeat in range(repeats):
        moto_before = moto.seconds
        start = time.perf_counter()
        for i in range(count):
            action(repeat * count + i)
        elapsed = time.perf_counter() - start
        rates.append(count / elapsed)
        own_ms.append((elapsed - (moto.seconds - moto_before)) * 1000 / count)
    return statistics.median(rates), statistics.median(own_ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=300, help="operations per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with template_on_moto():
        from consentry.consent import profile_store
        from consentry.consent.rules import ConsentChange, Scope
        from consentry.consent.tables import ProfileModel
        from consentry.core.types import Action, Channel, ProfileId, Source

        def bare_put(i: int) -> None:
            ProfileModel(f"bare-{i % 50}", version=i).save()

        def change(i: int, *, owner: bool = False) -> None:
            profile_store.record_change(
                ProfileId(f"p-{i % 50}"),
                ConsentChange(
                    scope=Scope.channel(Channel.EMAIL),
                    action=Action.OPT_OUT if (i // 50) % 2 == 0 else Action.OPT_IN,
                    source=Source.ONE_CLICK if owner else Source.OPERATOR,
                    actor="bench",
                ),
                owner_denylists=owner,
            )

        moto = MotoClock()
        puts, put_own_ms = _measure(bare_put, args.count, args.repeats, moto)
        changes, change_own_ms = _measure(change, args.count, args.repeats, moto)

        for i in range(10):
            profile_store.register_profile(
                ProfileId(f"calls-{i}"), {Channel.EMAIL: f"c{i}@example.com"}, "en"
            )
        with counting_dynamodb_calls() as operator_calls:
            for i in range(10):
                profile_store.record_change(  # an operator's opt-out: the profile and its event
                    ProfileId(f"calls-{i}"),
                    ConsentChange(
                        scope=Scope.channel(Channel.SMS),
                        action=Action.OPT_OUT,
                        source=Source.OPERATOR,
                        actor="bench",
                    ),
                )
        with counting_dynamodb_calls() as owner_calls:
            for i in range(10):
                profile_store.record_change(
                    ProfileId(f"calls-{i}"),
                    ConsentChange(
                        scope=Scope.all(),
                        action=Action.OPT_OUT,
                        source=Source.ONE_CLICK,
                        actor="bench",
                    ),
                    owner_denylists=True,
                )

    print(f"bare_put_per_s={puts:.0f}")
    print(f"consent_changes_per_s={changes:.0f}")
    print(f"ratio_changes_vs_put={changes / puts:.2f}")
    print(f"own_ms_per_put={put_own_ms:.2f}")
    print(f"own_ms_per_change={change_own_ms:.2f}")
    print(f"ratio_own_change_vs_put={change_own_ms / put_own_ms:.2f}")
    print(f"dynamodb_calls_per_change={sum(operator_calls.values()) / 10:g}")
    print(f"dynamodb_calls_per_change.kinds={_kinds(operator_calls)}")
    print(f"dynamodb_calls_per_owner_opt_out={sum(owner_calls.values()) / 10:g}")
    print(f"dynamodb_calls_per_owner_opt_out.kinds={_kinds(owner_calls)}")


def _kinds(calls: Counter[str]) -> str:
    return ",".join(f"{name}:{count / 10:g}" for name, count in sorted(calls.items()))


if __name__ == "__main__":
    main()
