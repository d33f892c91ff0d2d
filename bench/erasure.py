"""One erasure of a profile with a long history: its time, its DynamoDB calls, and the
time outside moto.

Runs on moto in this process, with the tables of template.yaml. The profile has an
e-mail address and a phone number, and `--events` consent changes made from the
landing pages (each with an IP address and a user agent to erase).

Prints `name=value` lines.
"""

from __future__ import annotations

import argparse
import time

from bench.consent import counting_dynamodb_calls
from bench.inprocess import MotoClock, template_on_moto


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1000, help="consent events to erase")
    args = parser.parse_args()

    with template_on_moto():
        from consentry.consent import profile_store
        from consentry.consent.rules import ConsentChange, Scope
        from consentry.core.settings import get_settings
        from consentry.core.types import Action, Channel, ProfileId, Source
        from consentry.privacy import fingerprints
        from consentry.privacy.erasure import erase_profile

        profile = ProfileId("bench-erasure")
        profile_store.register_profile(
            profile, {Channel.EMAIL: "erased@example.com", Channel.SMS: "+14155550123"}, "en"
        )
        changes = [
            ConsentChange(
                scope=Scope.channel(Channel.EMAIL),
                action=Action.OPT_OUT if i % 2 == 0 else Action.OPT_IN,
                source=Source.LANDING,
                actor="recipient",
                ip=f"198.51.100.{i % 250}",
                user_agent="Mozilla/5.0 (bench)",
            )
            for i in range(args.events)
        ]
        for start in range(0, len(changes), 50):  # 50 events a transaction, to seed fast
            profile_store.record_changes(profile, changes[start : start + 50])
        keyring = fingerprints.load_keyring(get_settings().erasure_keys_secret, max_age_s=300)

        moto = MotoClock()
        with counting_dynamodb_calls() as calls:
            began = time.perf_counter()
            erasure = erase_profile(profile, reason="bench", actor="bench", keyring=keyring)
            elapsed = time.perf_counter() - began

    print(f"events={args.events}")
    print(f"events_erased={erasure.events}")
    print(f"erasure_s={elapsed:.3f}")
    print(f"erasure_own_s={elapsed - moto.seconds:.3f}")
    print(f"dynamodb_calls={sum(calls.values())}")
    print(f"dynamodb_calls.kinds={','.join(f'{k}:{v}' for k, v in sorted(calls.items()))}")


if __name__ == "__main__":
    main()
