"""The analysis step 'classify' of the delivery-analysis state machine.

The resource, its permissions and its trigger are in template.yaml; the behaviour is
not built yet, so the function refuses work instead of pretending to do it.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Any:
    raise NotImplementedError(
        "The analysis step 'classify' of the delivery-analysis state machine is not built yet"
    )
