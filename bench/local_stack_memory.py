"""The local stack's memory around 10,000 consent changes, and its invocations in flight.

Starts `python -m infra.local` (without the demo analysis) on free ports, registers
profiles, then sends consent changes over HTTP from several clients at once, each a
real change (a flag toggled), so each is one TransactWriteItems of the state and its
event. Reads the stack's resident memory before and after (the main process holds
moto and every table; the workers' is reported apart), the time per change of the
first and the last tenth (their ratio shows whether a change costs more as the tables
grow), and the stack's diagnostics: the most invocations it had in flight at once.

Prints `name=value` lines.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def _start(state_dir: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    command = [sys.executable, "-m", "infra.local", "--no-demo-analysis"]
    command += ["--port", str(_free_port()), "--aws-port", str(_free_port())]
    command += ["--state-dir", str(state_dir)]
    log = (state_dir.parent / "stack.log").open("w")
    process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    state_path = state_dir / "demo.json"
    deadline = time.monotonic() + 180
    while not state_path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            sys.exit(f"the stack did not start; see {state_dir.parent / 'stack.log'}")
        time.sleep(0.2)
    return process, json.loads(state_path.read_text())


def _change(session: requests.Session, api: str, profile: str, n: int) -> int:
    response = session.patch(
        f"{api}/v1/profiles/{profile}/consent",
        json={"noLongerContact": {"email": n % 2 == 0}, "reason": f"bench {n}"},
        timeout=120,
    )
    return response.status_code


def run(changes: int, clients: int, profiles: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        process, state = _start(Path(tmp) / "state")
        api = state["api_url"]
        try:
            for i in range(profiles):
                requests.put(
                    f"{api}/v1/profiles/bench-{i}",
                    json={"addresses": {"email": f"bench-{i}@example.com"}, "locale": "en"},
                    timeout=60,
                ).raise_for_status()
            rss_before = _rss_mb(process.pid)
            sessions = [requests.Session() for _ in range(clients)]
            # Client c sends every clients-th change, to its own profiles, in order.
            tenth = max(1, changes // 10)
            timings: dict[int, float] = {}

            def client(c: int) -> list[int]:
                statuses = []
                for n in range(c, changes, clients):
                    began = time.perf_counter()
                    profile = f"bench-{n % profiles}"
                    statuses.append(_change(sessions[c], api, profile, n // profiles))
                    timings[n] = time.perf_counter() - began
                return statuses

            began = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                statuses = [s for batch in pool.map(client, range(clients)) for s in batch]
            elapsed = time.perf_counter() - began
            rss_after = _rss_mb(process.pid)
            workers_mb = sum(_rss_mb(child) for child in _children(process.pid))
            diagnostics = requests.get(state["diagnostics_url"], timeout=10).json()
        finally:
            process.terminate()
            process.wait(timeout=60)
    first = sum(timings[n] for n in range(tenth)) / tenth
    last = sum(timings[n] for n in range(changes - tenth, changes)) / tenth
    print(f"consent_changes={changes}")
    print(f"clients={clients}")
    print(f"profiles={profiles}")
    print(f"rss_before_mb={rss_before:.0f}")
    print(f"rss_after_mb={rss_after:.0f}")
    print(f"rss_per_change_kb={(rss_after - rss_before) * 1024 / changes:.1f}")
    print(f"workers_rss_mb={workers_mb:.0f}")
    print(f"changes_per_s={changes / elapsed:.0f}")
    print(f"ms_per_change_first_tenth={first * 1000:.1f}")
    print(f"ms_per_change_last_tenth={last * 1000:.1f}")
    print(f"last_to_first_ratio={last / first:.2f}")
    print(f"server_errors={sum(status >= 500 for status in statuses)}")
    print(f"refused={sum(400 <= status < 500 for status in statuses)}")
    print(f"max_in_flight={diagnostics['maxInFlight']}")
    print(f"workers={diagnostics['workers']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--profiles", type=int, default=200)
    args = parser.parse_args()
    run(args.changes, args.clients, args.profiles)


if __name__ == "__main__":
    main()
