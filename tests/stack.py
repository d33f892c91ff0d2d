"""Start the local stack as `make run` does, for tests that drive it over real HTTP."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    process: subprocess.Popen[bytes]
    state: dict[str, Any]
    stdout: Path
    stderr: Path

    @property
    def api_url(self) -> str:
        return str(self.state["api_url"])

    def client(self, service: str) -> Any:
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.state["aws_endpoint_url"],
            region_name=self.state["region"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def consent(self, profile: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.api_url}/v1/profiles/{profile['profile_id']}/consent"
        response = requests.get(url, timeout=10)
        assert response.status_code == 200
        return dict(response.json())


def start_stack(tmp: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "infra.local", "--state-dir", str(tmp / "state"), *args],
        cwd=ROOT,
        stdout=(tmp / "stdout.txt").open("w"),
        stderr=(tmp / "stderr.txt").open("w"),
    )


@contextmanager
def running_stack(tmp: Path) -> Iterator[Stack]:
    """A stack on free ports, ready when its demo.json is written; killed afterwards."""
    process = start_stack(tmp, "--port", str(free_port()), "--aws-port", str(free_port()))
    state_path = tmp / "state" / "demo.json"
    deadline = time.monotonic() + START_TIMEOUT_S
    while not state_path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the stack did not start:\n{(tmp / 'stderr.txt').read_text()}")
        time.sleep(0.2)
    try:
        yield Stack(
            process, json.loads(state_path.read_text()), tmp / "stdout.txt", tmp / "stderr.txt"
        )
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
