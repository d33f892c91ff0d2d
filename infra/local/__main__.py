"""`python -m infra.local`: start the local stack and serve until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import boto3

from infra.local import moto_dynamodb
from infra.local.aws import MotoServer, configure_moto
from infra.local.environment import aws_environment, stack_environment
from infra.local.http_adapter import DIAGNOSTICS_PATH, ApiGatewayServer, api_routes
from infra.local.lambdas import (
    DEFAULT_WORKERS,
    Invoker,
    LocalFunction,
    local_functions,
    route_moto_invokes,
)
from infra.local.outbox import Outbox
from infra.local.resources import create_resources, not_created
from infra.local.schedules import Scheduler, rate_schedules
from infra.local.sqs import POLLERS_PER_SOURCE, SqsPoller, SqsSource, sqs_sources
from infra.local.streams import start_event_delivery
from infra.local.template import Resolver, Template, load_template

if TYPE_CHECKING:
    from consentry.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
_CREDENTIAL_SOURCES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN")
"""Dropped from the process so nothing in it can pick up real credentials."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local",
        description="Consentry's local stack: moto, the template's resources, demo data and "
        "an API Gateway adapter, all on 127.0.0.1.",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("CONSENTRY_PORT", "3000")),
        help="HTTP port of the API (default: $CONSENTRY_PORT or 3000)",
    )
    parser.add_argument(
        "--aws-port",
        type=int,
        default=int(os.environ.get("CONSENTRY_AWS_PORT", "4566")),
        help="port of moto's AWS endpoint (default: $CONSENTRY_AWS_PORT or 4566)",
    )
    parser.add_argument("--region", default="eu-west-1", help="AWS region (default: eu-west-1)")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=ROOT / ".local",
        help="where demo.json is written (default: .local)",
    )
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("CONSENTRY_WORKERS", str(DEFAULT_WORKERS))),
        help="worker processes, each one Lambda execution environment: how many "
        f"invocations run at once (default: $CONSENTRY_WORKERS or {DEFAULT_WORKERS})",
    )
    parser.add_argument(
        "--no-demo-analysis",
        dest="demo_analysis",
        action="store_false",
        help="skip analyzing a generated 100,000-row demo audience at start",
    )
    return parser.parse_args(argv)


class _Stop(BaseException):
    """Raised in the main thread by the first SIGINT or SIGTERM."""


def _on_signal(_signum: int, _frame: Any) -> NoReturn:
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, _on_second_signal)
    raise _Stop


def _on_second_signal(_signum: int, _frame: Any) -> NoReturn:
    print("consentry local: stopping without cleaning up", file=sys.stderr, flush=True)
    os._exit(1)


class _CannotListenError(Exception):
    pass


def _listening(what: str, port: int, option: str, start: Any) -> Any:
    try:
        return start()
    except OSError as error:
        raise _CannotListenError(
            f"consentry local: cannot listen on 127.0.0.1:{port} for {what} "
            f"({error.strerror or error}); choose another port with {option}"
        ) from None


def _poll_queues(
    region: str, sources: list[SqsSource], invoker: Invoker, stack: contextlib.ExitStack
) -> None:
    sqs = boto3.client("sqs", region_name=region)
    for source in sources:
        for _ in range(POLLERS_PER_SOURCE):
            poller = SqsPoller(source, sqs=sqs, invoke=invoker.invoke)
            poller.start()
            stack.callback(poller.stop)


def _start_triggers(
    region: str,
    template: Template,
    resolver: Resolver,
    *,
    functions: dict[str, LocalFunction],
    invoker: Invoker,
    stack: contextlib.ExitStack,
) -> None:
    """The queues' pollers; each `rate(...)` schedule once before the stack is ready
    (the seeded data is in the first suppression snapshots), then at its rate."""
    _poll_queues(region, sqs_sources(template, resolver, functions), invoker, stack)
    scheduler = Scheduler(rate_schedules(template, resolver, functions), invoker.invoke)
    scheduler.run_all_once()
    stack.callback(scheduler.start().stop)


def _serve(args: argparse.Namespace, stack: contextlib.ExitStack) -> NoReturn:
    template = load_template(args.template)
    http = _listening(
        "the API",
        args.port,
        "--port or CONSENTRY_PORT",
        lambda: ApiGatewayServer(args.port),
    )
    stack.callback(http.server_close)
    aws_url = f"http://127.0.0.1:{args.aws_port}"
    for name in _CREDENTIAL_SOURCES:
        os.environ.pop(name, None)
    os.environ.update(aws_environment(args.region, aws_url, args.aws_port))
    configure_moto()
    stack.callback(moto_dynamodb.install())
    moto = MotoServer(args.aws_port)
    _listening("moto", args.aws_port, "--aws-port or CONSENTRY_AWS_PORT", moto.start)
    stack.callback(moto.stop)
    state_path = args.state_dir / "demo.json"
    state_path.unlink(missing_ok=True)  # a stale one would point at keys that are gone
    print(f"moto listening on {aws_url}; creating the resources of {args.template.name}")

    physical = create_resources(template, args.region)
    skipped = ", ".join(
        f"{type_} x{count}" for type_, count in sorted(not_created(template).items())
    )
    print(f"  created {len(physical)} resources; not needed locally: {skipped}")
    resolver = Resolver(template, region=args.region, physical=physical)
    os.environ.update(stack_environment(template, resolver))
    functions = local_functions(template, resolver)
    invoker = Invoker(functions, workers=max(1, args.workers))
    invoker.load()
    stack.callback(invoker.close)
    stack.callback(route_moto_invokes(invoker))

    # Imported only now: functions/ (the CodeUri) is importable and the settings complete
    # only from here on. The demo data is seeded with the product's own code.
    for code_dir in sorted({str(function.code_dir) for function in functions}):
        if code_dir not in sys.path:
            sys.path.insert(0, code_dir)
    from consentry.core.settings import get_settings  # noqa: PLC0415
    from infra.local import demo  # noqa: PLC0415

    settings = get_settings()
    _seed(settings, resolver, args.region)

    by_id = {function.logical_id: function for function in functions}
    http.connect(api_routes(template, resolver, by_id), invoker.invoke, invoker.stats)
    server_thread = threading.Thread(target=http.serve_forever, name="http", daemon=True)
    server_thread.start()
    stack.callback(server_thread.join)
    stack.callback(http.shutdown)
    _start_triggers(args.region, template, resolver, functions=by_id, invoker=invoker, stack=stack)
    stack.callback(Outbox(args.region, args.state_dir / "outbox.jsonl", moto.texts).start().stop)
    start_event_delivery(
        stack,
        template,
        resolver=resolver,
        functions=by_id,
        invoke=invoker.invoke,
        state_dir=args.state_dir,
    )

    api_url = f"http://127.0.0.1:{args.port}"
    state = {
        **_stack_state(args, resolver, api_url, aws_url),
        "profiles": demo.profile_links(demo.link_signer(settings), api_url),
        "console": {"url": f"{api_url}/console", **demo.console_users(settings)},
    }
    demo.write_state(state_path, state)
    stack.callback(state_path.unlink, missing_ok=True)
    print(demo.summary(state, state_path))
    if args.demo_analysis:
        from infra.local.demo_analysis import analyze_demo_audience  # noqa: PLC0415

        analyze_demo_audience(state, args.state_dir)
    print(f"\nReady: {api_url} (Ctrl-C to stop)", flush=True)
    while True:
        signal.pause()


def _seed(settings: Settings, resolver: Resolver, region: str) -> None:
    """The demo data, then 30 days of backdated history for the console's charts."""
    from consentry.core.clock import utc_now  # noqa: PLC0415
    from infra.local import demo  # noqa: PLC0415
    from infra.local.demo_history import DAYS, seed_history  # noqa: PLC0415

    demo.seed(settings)
    started = time.monotonic()
    history = seed_history(
        demo.NEWSLETTER, resolver.outputs()["FeedbackTopicArn"], now=utc_now(), region=region
    )
    print(
        f"  seeded {DAYS} days of history in {time.monotonic() - started:.1f} s: "
        f"{history.consent_changes} consent and {history.subscription_changes} subscription "
        f"changes, {history.quarantined} quarantined and {history.released} released "
        f"addresses, {history.feedback} SES notifications ({history.deliveries} deliveries) "
        "on the feedback topic",
        flush=True,
    )


def _stack_state(
    args: argparse.Namespace, resolver: Resolver, api_url: str, aws_url: str
) -> dict[str, Any]:
    """Where the running stack is and what it writes (`.local/demo.json`)."""
    outputs = resolver.outputs()
    return {
        "api_url": api_url,
        "aws_endpoint_url": aws_url,
        "region": args.region,
        "bucket": outputs["DataBucketName"],
        "state_machine_arn": outputs["StateMachineArn"],
        "feedback_topic_arn": outputs["FeedbackTopicArn"],
        "outbox": str(args.state_dir / "outbox.jsonl"),
        "events": str(args.state_dir / "events.jsonl"),
        "diagnostics_url": f"{api_url}{DIAGNOSTICS_PATH}",
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, _on_signal)
    try:
        with contextlib.ExitStack() as stack:
            _serve(args, stack)
    except _Stop:
        print("consentry local: stopped", flush=True)
        return 0
    except _CannotListenError as error:
        print(error, file=sys.stderr)
        return 2


if __name__ == "__main__":
    code = main()
    # Everything is stopped: skip the interpreter's teardown, which spends seconds
    # collecting the objects moto held.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
