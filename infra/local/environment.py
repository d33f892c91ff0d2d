"""The process environment: every handler of the stack runs in this one process.

Each function's environment is `Globals.Function.Environment.Variables` plus its own,
resolved to the local resources. The process holds their union, so two functions
must not disagree on a value; only the names in PER_FUNCTION may differ (they cannot
be honoured per function in one process and are left out).
"""

from __future__ import annotations

from infra.local.template import FUNCTION, Resolver, Template

PER_FUNCTION = frozenset({"POWERTOOLS_SERVICE_NAME"})
"""Read once at import by the shared Powertools objects, so one process cannot honour it."""


class EnvironmentConflictError(ValueError):
    pass


def aws_environment(region: str, aws_endpoint_url: str, aws_port: int) -> dict[str, str]:
    """What points every AWS SDK in the process at moto, and quiets what has no local use."""
    return {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": aws_endpoint_url,
        # moto's Step Functions engine calls Lambda at localhost:$MOTO_PORT.
        "MOTO_PORT": str(aws_port),
        "NO_PROXY": "127.0.0.1,localhost",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "Consentry",
    }


def function_environment(template: Template, resolver: Resolver, logical_id: str) -> dict[str, str]:
    variables = template.properties(logical_id).get("Environment", {}).get("Variables", {})
    return {name: resolver.resolve_str(value) for name, value in variables.items()}


def stack_environment(template: Template, resolver: Resolver) -> dict[str, str]:
    """The union of every created function's environment, PER_FUNCTION names left out."""
    union: dict[str, str] = {}
    origin: dict[str, str] = {}
    for logical_id in template.resources_of(FUNCTION):
        if not resolver.active(logical_id):
            continue
        for name, value in function_environment(template, resolver, logical_id).items():
            if name in PER_FUNCTION:
                continue
            if name in union and union[name] != value:
                raise EnvironmentConflictError(
                    f"{name} is {union[name]!r} for {origin[name]} but {value!r} for "
                    f"{logical_id}; one process cannot give both"
                )
            union[name], origin[name] = value, logical_id
    return union
