"""`python -m infra.local`: start the local stack and serve until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, NoReturn

import boto3

from infra.local.aws import MotoServer, configure_moto
from infra.local.environment import aws_environment, stack_environment
from infra.local.http_adapter import ApiGatewayServer, api_routes
from infra.local.lambdas import Invoker, local_functions, route_moto_invokes
from infra.local.outbox import Outbox
from infra.local.resources import create_resources, not_created
from infra.local.sqs import SqsPoller, sqs_sources
from infra.local.streams import start_event_delivery
from infra.local.template import Resolver, load_template

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
    invoker = Invoker(functions)
    invoker.load()
    stack.callback(route_moto_invokes(invoker))

    # Imported only now: functions/ (the CodeUri) is importable and the settings complete
    # only from here on.
    from consentry.core.settings import get_settings  # noqa: PLC0415
    from infra.local import demo  # noqa: PLC0415

    settings = get_settings()
    demo.seed(settings)

    by_id = {function.logical_id: function for function in functions}
    http.connect(api_routes(template, resolver, by_id), invoker.invoke)
    server_thread = threading.Thread(target=http.serve_forever, name="http", daemon=True)
    server_thread.start()
    stack.callback(server_thread.join)
    stack.callback(http.shutdown)
    sqs = boto3.client("sqs", region_name=args.region)
    for source in sqs_sources(template, resolver, by_id):
        poller = SqsPoller(source, sqs=sqs, invoke=invoker.invoke)
        poller.start()
        stack.callback(poller.stop)
    stack.callback(Outbox(args.region, args.state_dir / "outbox.jsonl").start().stop)
    start_event_delivery(
        stack,
        template,
        resolver=resolver,
        functions=by_id,
        invoke=invoker.invoke,
        state_dir=args.state_dir,
    )

    api_url = f"http://127.0.0.1:{args.port}"
    outputs = resolver.outputs()
    state = {
        "api_url": api_url,
        "aws_endpoint_url": aws_url,
        "region": args.region,
        "bucket": outputs["DataBucketName"],
        "state_machine_arn": outputs["StateMachineArn"],
        "feedback_topic_arn": outputs["FeedbackTopicArn"],
        "outbox": str(args.state_dir / "outbox.jsonl"),
        "events": str(args.state_dir / "events.jsonl"),
        "profiles": demo.profile_links(demo.link_signer(settings), api_url),
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
    sys.exit(main())
