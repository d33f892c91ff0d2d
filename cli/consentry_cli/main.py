"""The `consentry` command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from consentry_cli.analyze import Analysis, main_analyze
from consentry_cli.ses_import import main_ses_import
from consentry_cli.stack import LOCAL_STATE, StackNotFoundError, deployed_stack, local_stack

CHANNELS = ("email", "sms", "phone", "direct_mail", "push")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="consentry", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    analyze = commands.add_parser(
        "analyze",
        help="analyze a delivery's audience and print the report",
        description="Upload AUDIENCE to the data bucket, start the delivery analysis, show "
        "its progress, and print how many rows each cause excluded. Runs on the local stack "
        "(`make run`) unless --stack names a deployed one.",
    )
    analyze.add_argument("audience", type=Path, metavar="AUDIENCE", help="a CSV or JSONL file")
    analyze.add_argument("--channel", required=True, choices=CHANNELS)
    analyze.add_argument("--service", metavar="ID", help="deliver to this service's subscribers")
    analyze.add_argument(
        "--delivery", metavar="ID", help="the delivery's id (default: from the file)"
    )
    analyze.add_argument(
        "--stack", metavar="NAME", help="a deployed stack (default: the local one)"
    )
    analyze.add_argument("--region", help="the deployed stack's region")
    analyze.add_argument(
        "--message-class", choices=("marketing", "transactional"), default="marketing"
    )
    analyze.add_argument("--format", choices=("csv", "jsonl"), help="default: from the file's name")
    analyze.add_argument("--profile-id-field", default="profile_id")
    analyze.add_argument("--address-field", default="address")
    analyze.add_argument("--control-percent", type=float, metavar="P", help="hold back P %%")
    analyze.add_argument("--control-seed", default="consentry", help="the control group's seed")
    analyze.add_argument("--dry-run", action="store_true", help="count only, write no target")
    analyze.add_argument("--force", action="store_true", help="replace an earlier result")
    analyze.add_argument(
        "--state-file",
        type=Path,
        default=LOCAL_STATE,
        help=f"the local stack's (default {LOCAL_STATE})",
    )
    ses_import = commands.add_parser(
        "ses-import",
        help="import SES's account-level suppression list",
        description="Page SES's account-level suppression list and import it: a bounce "
        "quarantines the address, a complaint denylists it. Running it again changes "
        "nothing. Reads SES in the stack's region with your AWS credentials.",
    )
    ses_import.add_argument(
        "--stack", metavar="NAME", help="a deployed stack (default: the local one)"
    )
    ses_import.add_argument("--region", help="the deployed stack's region")
    ses_import.add_argument(
        "--state-file",
        type=Path,
        default=LOCAL_STATE,
        help=f"the local stack's (default {LOCAL_STATE})",
    )
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "ses-import":
        try:
            stack = (
                deployed_stack(args.stack, args.region)
                if args.stack
                else local_stack(args.state_file)
            )
        except StackNotFoundError as error:
            print(f"consentry: {error}", file=sys.stderr)
            return 2
        return main_ses_import(stack)
    if not args.audience.is_file():
        print(f"consentry: no file {args.audience}", file=sys.stderr)
        return 2
    try:
        stack = (
            deployed_stack(args.stack, args.region) if args.stack else local_stack(args.state_file)
        )
    except StackNotFoundError as error:
        print(f"consentry: {error}", file=sys.stderr)
        return 2
    control = (
        {"percent": args.control_percent, "seed": args.control_seed}
        if args.control_percent
        else None
    )
    analysis = Analysis(
        audience=args.audience,
        channel=args.channel,
        delivery_id=args.delivery,
        message_class=args.message_class,
        service_id=args.service,
        audience_format=args.format,
        profile_id_field=args.profile_id_field,
        address_field=args.address_field,
        control_group=control,
        dry_run=args.dry_run,
        force=args.force,
    )
    return main_analyze(analysis, stack)


if __name__ == "__main__":
    sys.exit(main())
