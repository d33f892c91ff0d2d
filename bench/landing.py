"""The landing function in-process: the one-click POST and the preference-center GET,
next to a bare Powertools route that returns a constant, and the bytes of each page.

Runs on moto in this process (no network), with the resources of template.yaml.
Each one-click POST goes to a profile of its own, so every one writes (the opt-out,
its event, the owner's denylist entries); the preference center reads one profile,
its subscriptions and the service list, and renders. Times are medians of single
calls of `lambda_handler` (Powertools' logger, tracer and metrics decorators included,
as Lambda calls it); `own_ms_*` leave moto's time out, the part that carries over to
Lambda. The baseline is `APIGatewayRestResolver.resolve` of a route returning a
constant, on the same event. Page bytes are the HTML bodies as served.

Prints `name=value` lines.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import statistics
import time
import warnings
from collections.abc import Callable
from copy import deepcopy
from datetime import timedelta
from html import unescape
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlencode

from bench.inprocess import REGION, ROOT, MotoClock, template_on_moto

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

EVENT = json.loads((ROOT / "tests" / "events" / "one_click_post.json").read_text())
CONTEXT = cast(
    "LambdaContext",  # the attributes of Lambda's context that Powertools reads
    SimpleNamespace(
        function_name="landing",
        memory_limit_in_mb=512,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:123456789012:function:landing",
        aws_request_id="00000000-0000-0000-0000-000000000000",
        get_remaining_time_in_millis=lambda: 29_000,
    ),
)


def event(method: str, path: str, body: str | None = None) -> dict[str, Any]:
    proxy: dict[str, Any] = deepcopy(EVENT)
    proxy.update(
        httpMethod=method, path=path, body=body, resource=f"/{path.split('/')[1]}/{{proxy+}}"
    )
    proxy["requestContext"].update(httpMethod=method, path=f"/prod{path}")
    proxy["pathParameters"] = {"proxy": path.split("/", 2)[2]}
    return proxy


def median_ms(call: Callable[[int], object], count: int, moto: MotoClock) -> tuple[float, float]:
    """Median milliseconds of one call, and of its time outside moto."""
    total, own = [], []
    for i in range(count):
        moto_before = moto.seconds
        start = time.perf_counter()
        call(i)
        elapsed = time.perf_counter() - start
        total.append(elapsed * 1000)
        own.append((elapsed - (moto.seconds - moto_before)) * 1000)
    return statistics.median(total), statistics.median(own)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=300, help="calls per measurement")
    args = parser.parse_args()

    # Quiet: a log line and a metrics blob per call would be timed and printed.
    with (
        template_on_moto(POWERTOOLS_LOG_LEVEL="ERROR", POWERTOOLS_METRICS_DISABLED="true"),
        contextlib.redirect_stdout(io.StringIO()),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        figures = _run(args.count)
    for name, value in figures.items():
        print(f"{name}={value}")


def _run(count: int) -> dict[str, str]:
    import boto3
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

    from consentry.consent.profile_store import register_profile
    from consentry.consent.rules import Scope
    from consentry.consent.tokens import LinkClaims, LinkSigner, load_keyring
    from consentry.core.settings import get_settings
    from consentry.core.types import Channel, ProfileId
    from infra.local import demo

    settings = get_settings()
    demo.seed(settings)
    boto3.client("ses", region_name=REGION).verify_email_identity(
        EmailAddress=settings.confirmation_sender or "no-reply@example.com"
    )
    from landing.handler import lambda_handler

    keyring = load_keyring(settings.signing_keys_secret, max_age_s=300)
    signer = LinkSigner(keyring, ttl=timedelta(days=90))

    def token(profile_id: str, scope: Scope | None = None) -> str:
        return signer.sign(LinkClaims(profile_id=ProfileId(profile_id), scope=scope or Scope.all()))

    for i in range(count):
        register_profile(ProfileId(f"bench-{i}"), {Channel.EMAIL: f"bench.{i}@example.com"}, "en")
    one_click_tokens = [token(f"bench-{i}") for i in range(count)]
    reader = token("demo-nl-1")

    bare = APIGatewayRestResolver()

    @bare.get("/p/<token>")
    def constant(token: str) -> dict[str, bool]:  # noqa: ARG001 (the route's parameter)
        return {"ok": True}

    @bare.post("/u/<token>")
    def constant_post(token: str) -> dict[str, bool]:  # noqa: ARG001
        return {"ok": True}

    get_event = event("GET", f"/p/{reader}")
    moto = MotoClock()

    def call(proxy: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = lambda_handler(proxy, CONTEXT)
        assert response["statusCode"] < 400, response["statusCode"]
        return response

    for _ in range(20):  # warm: templates compiled, secrets cached, clients made
        call(get_event)
        bare.resolve(get_event, CONTEXT)
    bare_get_ms, _ = median_ms(lambda _: bare.resolve(get_event, CONTEXT), count, moto)
    post_events = [event("POST", f"/u/{t}", "List-Unsubscribe=One-Click") for t in one_click_tokens]
    bare_post_ms, _ = median_ms(lambda i: bare.resolve(post_events[i], CONTEXT), count, moto)
    one_click_ms, one_click_own = median_ms(lambda i: call(post_events[i]), count, moto)
    center_ms, center_own = median_ms(lambda _: call(get_event), count, moto)

    figures = {
        "bare_route_get_ms": f"{bare_get_ms:.3f}",
        "bare_route_post_ms": f"{bare_post_ms:.3f}",
        "one_click_post_ms": f"{one_click_ms:.2f}",
        "one_click_post_own_ms": f"{one_click_own:.2f}",
        "ratio_one_click_vs_bare": f"{one_click_ms / bare_post_ms:.0f}",
        "ratio_one_click_own_vs_bare": f"{one_click_own / bare_post_ms:.0f}",
        "preference_center_get_ms": f"{center_ms:.2f}",
        "preference_center_get_own_ms": f"{center_own:.2f}",
        "ratio_preference_center_vs_bare": f"{center_ms / bare_get_ms:.0f}",
        "ratio_preference_center_own_vs_bare": f"{center_own / bare_get_ms:.0f}",
    }
    figures |= {f"bytes.{name}": str(size) for name, size in _page_sizes(call, token).items()}
    return figures


def _page_sizes(
    call: Callable[[dict[str, Any]], dict[str, Any]], token: Callable[..., str]
) -> dict[str, int]:
    """The bytes of every page as served (the stylesheet too)."""
    from consentry.consent.rules import Scope
    from consentry.core.types import Channel

    sizes: dict[str, int] = {}

    def page(name: str, proxy: dict[str, Any]) -> str:
        body: str = call(proxy)["body"] if name not in ERRORS else _raw(proxy)["body"]
        sizes[name] = len(body.encode())
        return body

    def submit(name: str, path: str, html: str, extra: dict[str, str] | None = None) -> str:
        found = re.findall(r'name="(csrf|wording|lang|shown|undo|what)" value="([^"]*)"', html)
        fields = {name: unescape(value) for name, value in found}
        return page(name, event("POST", path, urlencode({**fields, **(extra or {})})))

    link = token("demo-en-1", Scope.channel(Channel.EMAIL))
    page("preferences", event("GET", f"/p/{link}"))
    unsubscribe = page("unsubscribe", event("GET", f"/p/{link}/unsubscribe"))
    page("never", event("GET", f"/p/{link}/never"))
    done = submit("done", f"/p/{link}/unsubscribe", unsubscribe)
    submit("undone", f"/p/{link}/undo", done)
    subscribe = page("subscribe", event("GET", "/s/newsletter"))
    submit("subscribe_sent", "/s/newsletter", subscribe, {"email": "bench.visitor@example.com"})
    page(
        "confirm",
        event("GET", f"/s/newsletter/{token('demo-fr-1', Scope.parse('service:newsletter'))}"),
    )
    page("link_invalid", event("GET", f"/p/{link[:-4]}AAAA"))
    page("not_found", event("GET", "/p/a/b/c"))
    css = call(event("GET", "/p/assets/site.css"))["body"]
    sizes["stylesheet"] = len(css.encode())
    return sizes


ERRORS = ("link_invalid", "not_found")


def _raw(proxy: dict[str, Any]) -> dict[str, Any]:
    from landing.handler import lambda_handler

    response: dict[str, Any] = lambda_handler(proxy, CONTEXT)
    return response


if __name__ == "__main__":
    main()
