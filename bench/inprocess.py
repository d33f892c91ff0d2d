"""What the in-process benchmarks share: the template's resources on moto in this
process, and a clock of the time moto itself takes.

moto emulates DynamoDB in Python, so raw rates under it say more about moto than
about us; its TransactWriteItems is the local stack's (`infra.local.moto_dynamodb`),
which backs up only the items a transaction names instead of whole tables. Each benchmark
reports the time outside moto too: what our code, pynamodb and botocore spend, the
part that carries over to Lambda.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber

from infra.local import moto_dynamodb
from infra.local.environment import stack_environment
from infra.local.resources import create_resources
from infra.local.template import Resolver, load_template

REGION = "eu-west-1"
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "functions"))  # the Lambda import root, as Lambda has it


@contextmanager
def template_on_moto(moto_config: Any = None, **environment: str) -> Iterator[Resolver]:
    """Every resource of template.yaml in moto, and the functions' environment set;
    yields the resolver of what was created (names, ARNs, the outputs).

    `moto_config` is moto's (infra.local.aws.MOTO_CONFIG runs state machines);
    `environment` is applied last (log levels, service names). Settings and models are
    bound afresh, so handlers imported inside see these tables.
    """
    os.environ.update(
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_METRICS_NAMESPACE="Consentry",
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws(config=moto_config):
        undo = moto_dynamodb.install()
        template = load_template(ROOT / "template.yaml")
        physical = create_resources(template, REGION)
        resolver = Resolver(template, region=REGION, physical=physical)
        os.environ.update(stack_environment(template, resolver))
        os.environ.update(environment)
        from consentry.core.persistence import bind_tables
        from consentry.core.settings import get_settings

        get_settings.cache_clear()
        bind_tables(get_settings())
        try:
            yield resolver
        finally:
            undo()


class MotoClock:
    """Seconds spent inside moto's request handling, so the rest is ours and botocore's."""

    def __init__(self) -> None:
        self.seconds = 0.0
        process = BotocoreStubber.process_request
        clock = self

        def timed(self: BotocoreStubber, request: Any) -> Any:
            start = time.perf_counter()
            try:
                return process(self, request)
            finally:
                clock.seconds += time.perf_counter() - start

        BotocoreStubber.process_request = timed  # type: ignore[method-assign]
