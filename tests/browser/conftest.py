"""Debian's Chromium, driven by Playwright, against one local stack over HTTP.

The stack is started once for the session (`python -m infra.local`, as `make run`
does) and stopped at the end. Chromium is the machine's own (`apt-get install
chromium`, see .ci/run); Playwright never downloads a browser here. Without it the
suite is skipped on a workstation and fails in CI (CI=true), so a CI run can never
pass without having run it.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest
import requests

from tests.stack import Stack, running_stack

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, ViewportSize

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("CONSENTRY_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
"""Written by the suite, kept by CI, ignored by git."""
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
NEWSLETTER = "newsletter"
MAIL_WAIT_S = 10


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the browser suite)", pytrace=False)
    pytest.skip(reason)


@dataclass
class LocalStack:
    """The running stack, and the operator API and outbox the tests read it through."""

    stack: Stack

    @property
    def api_url(self) -> str:
        return self.stack.api_url

    def api(self, method: str, path: str, body: Any = None) -> Any:
        response = requests.request(method, f"{self.api_url}{path}", json=body, timeout=10)
        assert response.status_code < 300, (path, response.status_code, response.text)
        return response.json() if response.content else None

    def finished_analysis(self, delivery_id: str, timeout_s: float = 180) -> dict[str, Any]:
        """The analysis record once its run ended (the demo analysis runs after start)."""
        deadline = time.monotonic() + timeout_s
        while True:
            url = f"{self.api_url}/v1/deliveries/{delivery_id}/analysis"
            response = requests.get(url, timeout=10)
            if response.status_code == 200 and response.json()["status"] != "RUNNING":
                return dict(response.json())
            assert time.monotonic() < deadline, f"analysis {delivery_id} did not finish"
            time.sleep(1)

    def new_profile(self, profile_id: str, locale: str | None, email: str) -> str:
        self.api(
            "PUT",
            f"/v1/profiles/{profile_id}",
            {"addresses": {"email": email, "sms": "+31612345678"}, "locale": locale},
        )
        return profile_id

    def links(self, profile_id: str, scope: str = "all") -> dict[str, Any]:
        minted = self.api(
            "POST",
            "/v1/links",
            {"deliveryId": "d-browser", "scope": scope, "recipients": [{"profileId": profile_id}]},
        )
        return dict(minted["items"][0])

    def everything_about(self, profile_id: str) -> dict[str, Any]:
        """The export of a profile: consent, every event, subscriptions, addresses."""
        return dict(self.api("GET", f"/v1/profiles/{profile_id}/export"))

    def consent(self, profile_id: str) -> dict[str, Any]:
        return dict(self.api("GET", f"/v1/profiles/{profile_id}/consent"))

    def subscription(self, profile_id: str, service: str = NEWSLETTER) -> str | None:
        export = self.everything_about(profile_id)
        found = [s for s in export["subscriptions"] if s["serviceId"] == service]
        return found[0]["status"] if found else None

    def mails(self) -> list[dict[str, Any]]:
        """The messages sent (the outbox also holds SES suppression-list calls)."""
        text = Path(self.stack.state["outbox"]).read_text(encoding="utf-8")
        records = [json.loads(line) for line in text.splitlines() if line]
        return [record for record in records if "channel" in record]

    def mail_to(self, address: str) -> dict[str, Any]:
        """The newest email to `address`, waited for (the outbox is copied every 0.2 s)."""
        deadline = time.monotonic() + MAIL_WAIT_S
        while True:
            found = [m for m in self.mails() if address in m["to"]]
            if found:
                return found[-1]
            assert time.monotonic() < deadline, f"no email to {address}"
            time.sleep(0.2)

    def expired_link(self, profile_id: str) -> str:
        """A preference-center URL signed with the stack's own key, issued 200 days ago."""
        from consentry.consent.rules import Scope
        from consentry.consent.tokens import Keyring, LinkClaims, LinkSigner
        from consentry.core.types import ProfileId

        secrets = self.stack.client("secretsmanager")
        name = next(
            s["Name"] for s in secrets.list_secrets()["SecretList"] if "Signing" in s["Name"]
        )
        keyring = Keyring.from_secret(
            json.loads(secrets.get_secret_value(SecretId=name)["SecretString"])
        )
        token = LinkSigner(keyring, ttl=timedelta(days=90)).sign(
            LinkClaims(
                profile_id=ProfileId(profile_id),
                scope=Scope.all(),
                issued_at=datetime.now(UTC) - timedelta(days=200),
            )
        )
        return f"{self.api_url}/p/{token}"


def confirmation_link(mail: dict[str, Any]) -> str:
    match = re.search(r'href="(http[^"]+/s/[^"]+)"', mail["body"])
    assert match, mail["body"]
    return match.group(1).replace("&amp;", "&")


def altered(url: str) -> str:
    """The URL with its token's signature changed in its last characters."""
    return url[:-4] + ("AAAA" if not url.endswith("AAAA") else "BBBB")


@pytest.fixture(scope="session", autouse=True)
def chromium() -> Path:
    """Debian's Chromium, checked before anything starts: skipped, or failed in CI."""
    if not CHROMIUM.exists():
        _unavailable(f"no Chromium at {CHROMIUM}: apt-get install chromium (see .ci/run)")
    return CHROMIUM


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with running_stack(tmp_path_factory.mktemp("browser-stack")) as started:
        yield LocalStack(started)


@pytest.fixture(scope="session")
def browser(chromium: Path) -> Iterator[Browser]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed: pip install -e '.[dev]'")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Tab:
    """A browser page that remembers what the browser complained about."""

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        self.page = context.new_page()
        self.complaints: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.complaints.append(str(error)))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.complaints.append(f"{message.text} ({message.location.get('url', '')})")


@pytest.fixture
def phone(browser: Browser) -> Iterator[Tab]:
    context = browser.new_context(viewport=PHONE, locale="en-GB")
    yield Tab(context)
    context.close()


@pytest.fixture
def desktop(browser: Browser) -> Iterator[Tab]:
    context = browser.new_context(viewport=DESKTOP, locale="en-GB")
    yield Tab(context)
    context.close()
