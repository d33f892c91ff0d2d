"""An operator signs in to the console, opens a profile, changes its consent and sees
the change in the proof of consent; a viewer sees the same profile with no form. The
demo's outage hold is seen by both, and only the operator decides it."""

import time

import pytest
from playwright.sync_api import expect

from infra.local.demo_history import OUTAGE_DOMAIN
from tests.browser.accessibility import blocking
from tests.browser.conftest import DESKTOP, PHONE, SCREENSHOTS, LocalStack, Tab

pytestmark = pytest.mark.browser

PROFILE = "browser-console"
WIDTHS = {"phone": PHONE["width"], "desktop": DESKTOP["width"]}


def demo_analysis_done(local_stack: LocalStack, timeout_s: float = 300) -> None:
    """The stack analyzes its demo audience after it has written demo.json: wait for it."""
    deadline = time.monotonic() + timeout_s
    while "Ready:" not in local_stack.stack.stdout.read_text():
        assert time.monotonic() < deadline, "the demo analysis did not finish"
        time.sleep(0.5)


def demo_outage_held(local_stack: LocalStack, timeout_s: float = 60) -> int:
    """How many errors the demo's outage holds, once the quarantine function has applied
    the whole feedback queue (the stack reads it after start)."""
    sqs = local_stack.stack.client("sqs")
    queue = sqs.get_queue_url(QueueName="consentry-FeedbackQueue")["QueueUrl"]
    waiting = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    deadline = time.monotonic() + timeout_s
    while True:
        counts = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=waiting)["Attributes"]
        held = [
            outage["heldErrors"]
            for outage in local_stack.api("GET", "/v1/outages")["items"]
            if outage["domain"] == OUTAGE_DOMAIN and outage["holding"]
        ]
        if held and not any(int(count) for count in counts.values()):
            return int(held[0])
        assert time.monotonic() < deadline, "the demo's outage was not held"
        time.sleep(0.5)


def erroneous_addresses_of(local_stack: LocalStack, domain: str) -> int:
    found = local_stack.api("GET", f"/v1/addresses?status=erroneous&domain={domain}&limit=100")
    assert found["nextCursor"] is None
    return len(found["items"])


def sign_in(local_stack: LocalStack, tab: Tab, role: str) -> None:
    user = local_stack.stack.state["console"][role]
    page = tab.page
    page.goto(local_stack.stack.state["console"]["url"])
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.get_by_label("Username").fill(user["username"])
    page.get_by_label("Password").fill(user["password"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")


def test_an_operator_changes_consent_and_sees_it_in_the_history(
    local_stack: LocalStack, desktop: Tab
) -> None:
    local_stack.new_profile(PROFILE, "en", "console.reader@example.com")
    sign_in(local_stack, desktop, "operator")
    page = desktop.page
    assert blocking(page) == []

    page.get_by_role("link", name="Profiles").click()
    page.get_by_label("Profile id").fill(PROFILE)
    page.get_by_role("button", name="Open the profile").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(PROFILE)
    assert blocking(page) == []
    page.get_by_label("Channel").select_option("sms")
    page.get_by_label("Stop contacting (opt-out)").check()
    page.get_by_label("Reason (kept in the proof of consent)").fill("asked at the front desk")
    page.get_by_role("button", name="Record the change").click()

    expect(page.get_by_text("The change is recorded.")).to_be_visible()
    history = page.locator("table").last
    expect(history).to_contain_text("asked at the front desk")
    expect(history).to_contain_text("console:demo-operator")
    expect(page.get_by_text("The chain of 1 events verifies")).to_be_visible()
    assert local_stack.consent(PROFILE)["noLongerContact"]["sms"] is True
    assert blocking(page) == []
    assert desktop.complaints == []


def test_a_viewer_reads_a_profile_on_a_phone_without_a_change_form(
    local_stack: LocalStack, phone: Tab
) -> None:
    local_stack.new_profile("browser-console-viewer", "en", "console.viewer@example.com")
    sign_in(local_stack, phone, "viewer")
    page = phone.page

    page.goto(f"{local_stack.api_url}/console/profiles/browser-console-viewer")

    expect(page.get_by_role("heading", level=1)).to_contain_text("browser-console-viewer")
    expect(page.get_by_role("button", name="Record the change")).to_have_count(0)
    page.goto(f"{local_stack.api_url}/console/addresses")
    expect(page.get_by_role("heading", level=1)).to_have_text("Addresses: quarantine")
    assert blocking(page) == []
    assert phone.complaints == []


def test_an_operator_releases_addresses_and_erases_a_profile_after_confirming(
    local_stack: LocalStack, desktop: Tab
) -> None:
    bulk = [f"box{n}@bulk-browser.example" for n in range(2)]
    for address in bulk:
        local_stack.api(
            "PUT", f"/v1/addresses/email/{address}", {"status": "quarantine", "reason": "seed"}
        )
    local_stack.new_profile("browser-erase", "en", "to.be.erased@example.com")
    sign_in(local_stack, desktop, "operator")
    page = desktop.page

    page.goto(
        f"{local_stack.api_url}/console/addresses?status=quarantine&domain=bulk-browser.example"
    )
    page.get_by_role("button", name="Release every address this filter covers…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Release 2 addresses?")
    assert blocking(page) == []
    page.get_by_label("Reason (kept in each address's history)").fill("mailboxes fixed")
    page.get_by_role("button", name="Release 2 addresses").click()
    expect(page.get_by_text("2 addresses released.")).to_be_visible()
    assert [local_stack.api("GET", f"/v1/addresses/email/{a}")["status"] for a in bulk] == [
        "valid",
        "valid",
    ]

    page.goto(f"{local_stack.api_url}/console/profiles/browser-erase")
    page.get_by_role("button", name="Erase this person's data…").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Erase the data")
    assert blocking(page) == []
    page.get_by_label("Reason (the request and its reference; kept with the erasure)").fill(
        "request 77"
    )
    page.get_by_role("button", name="Erase this person's data", exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Profile browser-erase: erased")
    expect(page.get_by_text("console:demo-operator").first).to_be_visible()
    expect(page.get_by_text("to.be.erased@example.com")).to_have_count(0)
    assert blocking(page) == []
    assert desktop.complaints == []


def test_a_viewer_sees_the_outage_hold_and_an_operator_applies_it_after_confirming(
    local_stack: LocalStack, phone: Tab, desktop: Tab
) -> None:
    # Given the demo's outage: its errors held, none counted against an address yet
    held = demo_outage_held(local_stack)
    assert erroneous_addresses_of(local_stack, OUTAGE_DOMAIN) == 0
    decide = f"the errors held for {OUTAGE_DOMAIN}"

    # A viewer sees the hold, with nothing to decide it with, and may not post a decision
    sign_in(local_stack, phone, "viewer")
    viewer = phone.page
    viewer.goto(f"{local_stack.api_url}/console/addresses")
    viewer.get_by_role("link", name="Outage holds").click()
    expect(viewer.get_by_role("heading", level=1)).to_have_text("Outage holds")
    expect(viewer.get_by_role("rowheader", name=OUTAGE_DOMAIN)).to_be_visible()
    expect(viewer.get_by_role("button", name=f"Apply {decide}")).to_have_count(0)
    expect(viewer.get_by_role("button", name=f"Release {decide}")).to_have_count(0)
    assert blocking(viewer) == []
    csrf = viewer.locator("input[name=csrf]").first.get_attribute("value")
    posted = viewer.request.post(
        f"{local_stack.api_url}/console/outages/confirm",
        form={"csrf": csrf or "", "channel": "email", "domain": OUTAGE_DOMAIN, "decision": "apply"},
    )
    assert posted.status == 403
    assert phone.complaints == []

    # An operator applies the held errors after confirming
    sign_in(local_stack, desktop, "operator")
    page = desktop.page
    page.goto(f"{local_stack.api_url}/console/outages")
    expect(page.get_by_role("rowheader", name=OUTAGE_DOMAIN)).to_be_visible()
    assert blocking(page) == []
    page.get_by_role("button", name=f"Apply {decide}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Apply {held} held errors?")
    assert blocking(page) == []
    page.get_by_label("Reason (kept in each address's history)").fill("provider confirmed")
    page.get_by_role("button", name="Apply them").click()

    # Then the hold is gone and each of its errors counts against its address
    expect(page.get_by_role("status")).to_have_text(f"{held} held errors decided.")
    expect(page.get_by_role("rowheader", name=OUTAGE_DOMAIN)).to_have_count(0)
    assert blocking(page) == []
    assert erroneous_addresses_of(local_stack, OUTAGE_DOMAIN) == held
    assert all(o["domain"] != OUTAGE_DOMAIN for o in local_stack.api("GET", "/v1/outages")["items"])
    assert desktop.complaints == []


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_every_console_page_reads_well_at_both_widths(
    local_stack: LocalStack, viewport: str, request: pytest.FixtureRequest
) -> None:
    tab: Tab = request.getfixturevalue(viewport)
    page = tab.page
    findings: dict[str, list[str]] = {}

    def check(name: str) -> None:
        page.wait_for_load_state("load")
        # Every chart drew: an image that failed has no natural width.
        assert page.evaluate(
            "() => [...document.images].every(i => i.complete && i.naturalWidth > 0)"
        ), name
        path = SCREENSHOTS / "console" / f"{name}-{viewport}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=path, full_page=True)
        findings[name] = blocking(page)
        # Nothing wider than the screen: wide tables scroll inside their own box.
        assert page.evaluate("() => document.documentElement.scrollWidth") <= WIDTHS[viewport]

    demo_analysis_done(local_stack)  # so that the dashboard lists it, and its page is there
    page.goto(local_stack.stack.state["console"]["url"])
    check("sign-in")
    sign_in(local_stack, tab, "operator")
    check("dashboard")
    page.get_by_role("link", name="Profiles").click()
    check("search")
    page.goto(f"{local_stack.api_url}/console/profiles/demo-de-1")
    check("profile")
    page.get_by_role("link", name="Addresses").click()
    check("addresses")
    page.locator("main table a").first.click()
    check("address")
    page.get_by_role("button", name="Release this address…").click()
    check("release")
    assert local_stack.finished_analysis("demo-audience")["status"] == "SUCCEEDED"
    page.goto(f"{local_stack.api_url}/console/deliveries/demo-audience")
    check("delivery")
    page.get_by_role("link", name="Services").click()
    check("services")
    page.locator("main table a").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Service")
    check("service")
    page.get_by_role("link", name="Imports").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Imports")
    check("imports")
    page.locator("main table a").first.click()
    expect(page.get_by_role("cell", name="rejected")).to_have_count(1)
    check("import")

    assert findings == {name: [] for name in findings}
    assert tab.complaints == []
