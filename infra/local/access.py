"""What each function's code calls on AWS, next to what its IAM policies in template.yaml
allow.

moto does not enforce IAM, so a function whose policies miss a table it uses works on
the local stack and in every test, and is denied on AWS. `AccessLog` records each call
the functions' code makes to the services of IAM_SERVICES (the action IAM checks and
the resource it names), attributed to the function whose handler module is on the
calling thread's stack, or that started the thread or handed the work to its pool;
`ungranted` holds the record to the template's policies (tests/access_check.py does,
at the end of every test run).

The policies read are SAM's policy templates for these services (their actions as in
SAM's policy_templates.json) and `Statement` policies naming a resource of the template
or `*`. Calls from outside any handler module (a test's own setup) are not recorded,
nor calls to resources the template does not have (a test's own table or queue).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parseaddr
from fnmatch import fnmatchcase
from pathlib import Path
from types import FrameType
from typing import Any
from weakref import WeakKeyDictionary

from infra.local.resources import (
    BUCKET,
    EVENT_BUS,
    QUEUE,
    SECRET,
    STATE_MACHINE,
    TABLE,
    USER_POOL,
    physical_name,
)
from infra.local.template import FUNCTION, SUB_VARIABLE, Resolver, Template

_DYNAMODB_READ = frozenset(
    {"GetItem", "Scan", "Query", "BatchGetItem", "DescribeTable"},
)
_DYNAMODB_CRUD = _DYNAMODB_READ | {
    "DeleteItem",
    "PutItem",
    "UpdateItem",
    "BatchWriteItem",
    "ConditionCheckItem",
}
_S3_READ = frozenset(
    {
        "GetObject",
        "ListBucket",
        "GetBucketLocation",
        "GetObjectVersion",
        "GetLifecycleConfiguration",
    }
)
_S3_CRUD = _S3_READ | {"PutObject", "PutObjectAcl", "PutLifecycleConfiguration", "DeleteObject"}

_DYNAMODB_WRITE = frozenset({"PutItem", "UpdateItem", "BatchWriteItem"})
_S3_WRITE = frozenset({"PutObject", "PutObjectAcl", "PutLifecycleConfiguration"})

POLICY_TEMPLATES: Mapping[str, tuple[str, str, frozenset[str]]] = {
    "DynamoDBCrudPolicy": ("TableName", "dynamodb", _DYNAMODB_CRUD),
    "DynamoDBReadPolicy": ("TableName", "dynamodb", _DYNAMODB_READ),
    "DynamoDBWritePolicy": ("TableName", "dynamodb", _DYNAMODB_WRITE),
    "S3CrudPolicy": ("BucketName", "s3", _S3_CRUD),
    "S3ReadPolicy": ("BucketName", "s3", _S3_READ),
    "S3WritePolicy": ("BucketName", "s3", _S3_WRITE),
    "AWSSecretsManagerGetSecretValuePolicy": (
        "SecretArn",
        "secretsmanager",
        frozenset({"GetSecretValue"}),
    ),
    "StepFunctionsExecutionPolicy": ("StateMachineName", "states", frozenset({"StartExecution"})),
    "LambdaInvokePolicy": ("FunctionName", "lambda", frozenset({"InvokeFunction"})),
    "EventBridgePutEventsPolicy": ("EventBusName", "events", frozenset({"PutEvents"})),
    "SQSSendMessagePolicy": ("QueueName", "sqs", frozenset({"SendMessage*"})),
    "SESCrudPolicy": (
        "IdentityName",
        "ses",
        frozenset(
            {
                "GetIdentityVerificationAttributes",
                "SendEmail",
                "SendRawEmail",
                "VerifyEmailIdentity",
            }
        ),
    ),
}
"""SAM policy template -> (its parameter naming the resource, IAM service, actions)."""

_PATCHED = "_make_api_call"
"""botocore's one method every client call goes through (pynamodb's too)."""

IAM_SERVICES: Mapping[str, str] = {
    "dynamodb": "dynamodb",
    "s3": "s3",
    "secretsmanager": "secretsmanager",
    "stepfunctions": "states",
    "lambda": "lambda",
    "events": "events",
    "sqs": "sqs",
    "ses": "ses",
    "sesv2": "ses",
    "pinpoint-sms-voice-v2": "sms-voice",
    "cognito-idp": "cognito-idp",
}
"""The services whose calls are recorded: botocore's name -> the prefix of IAM's actions."""

ANY = "*"
"""The resource of an action IAM grants only on every resource (SES's suppression list,
SMS), and of a statement granting on every resource."""

TESTS_OWN = frozenset({"dynamodb", "s3", "secretsmanager", "sqs", "states"})
"""The services whose resources tests also make under names of their own (a state
machine without a Plan step, one that is missing): a call to one the template does not
have is such a test's, and not held. Elsewhere (a mail's sender, a function, a bus, the
account's default bus) a resource the template does not have is one no policy of it
names, and only a grant on `*` allows a call."""

USER_POOL_MARK = "userpool/"
"""Cognito makes a pool's id up: a call naming any pool is held to the template's one."""

_S3_ACTIONS = {
    "HeadObject": "GetObject",
    "ListObjectsV2": "ListBucket",
    "ListObjects": "ListBucket",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "AbortMultipartUpload": "AbortMultipartUpload",
    "DeleteObjects": "DeleteObject",
    "CopyObject": "PutObject",
    "UploadPartCopy": "PutObject",
    "HeadBucket": "ListBucket",
}
"""S3 operations whose IAM action has another name."""

_LAMBDA_ACTIONS = {"Invoke": "InvokeFunction", "InvokeWithResponseStream": "InvokeFunction"}
"""Lambda operations whose IAM action has another name."""

_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


@dataclass(frozen=True, order=True)
class Access:
    """One action of one function on one resource (its name as the call gave it)."""

    function: str
    service: str
    action: str
    resource: str


def _dynamodb(operation: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    if operation in {"TransactWriteItems", "TransactGetItems"}:
        return [
            (_TRANSACT_ACTIONS[kind], body["TableName"])
            for item in params.get("TransactItems", [])
            for kind, body in item.items()
        ]
    if operation in {"BatchWriteItem", "BatchGetItem"}:
        return [(operation, table) for table in params.get("RequestItems", {})]
    if operation in {"ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction"}:
        # PartiQL names its table inside the statement, and needs PartiQL* actions.
        return [("PartiQL", "(a PartiQL statement)")]
    return [(operation, params["TableName"])] if "TableName" in params else []


def _s3(operation: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    if "Bucket" not in params:
        return []
    action = _S3_ACTIONS.get(operation, operation)
    if action == "GetObject" and params.get("VersionId"):
        action = "GetObjectVersion"
    found = [(action, params["Bucket"])]
    source = params.get("CopySource")
    if source is not None:
        bucket = source["Bucket"] if isinstance(source, Mapping) else source.lstrip("/")
        found.append(("GetObject", bucket.split("/", 1)[0]))
    return found


def _identity(address: str) -> str:
    """The address of a From header (`Name <a@example.com>` -> `a@example.com`)."""
    return parseaddr(address)[1] or address


def _ses(operation: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """SES acts on the identity of the From address; what names none (the account's
    suppression list) IAM grants on every resource only."""
    if "Source" in params:  # v1
        return [(operation, _identity(params["Source"]))]
    if "FromEmailAddress" in params:  # v2
        return [(operation, _identity(params["FromEmailAddress"]))]
    if "EmailAddress" in params and operation.startswith("Verify"):
        return [(operation, params["EmailAddress"])]
    if "Identities" in params:
        return [(operation, identity) for identity in params["Identities"]]
    return [(operation, ANY)]


def _named(operation: str, params: Mapping[str, Any], *keys: str) -> list[tuple[str, str]]:
    """The call's action on the resource its first parameter of `keys` names."""
    return next(([(operation, str(params[key]))] for key in keys if key in params), [])


def _events(operation: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    if operation != "PutEvents":
        return _named(operation, params, "EventBusName")
    # An entry without a bus goes to the account's default one.
    buses = {entry.get("EventBusName") or "default" for entry in params.get("Entries", [])}
    return [(operation, bus) for bus in sorted(buses)]


def _cognito(operation: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    # What names no pool (sign-in, a signed-in user's own calls) IAM does not authorize.
    if "UserPoolId" not in params:
        return []
    return [(operation, USER_POOL_MARK + str(params["UserPoolId"]))]


_ACCESSES: Mapping[str, Callable[[str, Mapping[str, Any]], list[tuple[str, str]]]] = {
    "dynamodb": _dynamodb,
    "s3": _s3,
    "secretsmanager": lambda operation, params: _named(operation, params, "SecretId"),
    "stepfunctions": lambda operation, params: _named(
        operation, params, "executionArn", "stateMachineArn"
    ),
    "lambda": lambda operation, params: _named(
        _LAMBDA_ACTIONS.get(operation, operation), params, "FunctionName"
    ),
    "events": _events,
    "sqs": lambda operation, params: _named(operation, params, "QueueUrl"),
    "ses": _ses,
    "sesv2": _ses,
    "pinpoint-sms-voice-v2": lambda operation, _params: [(operation, ANY)],
    "cognito-idp": _cognito,
}


def accesses(service: str, operation: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(IAM action, resource name) of each resource a call acts on; `service` is
    botocore's name."""
    reader = _ACCESSES.get(service)
    return reader(operation, params) if reader is not None else []


class AccessLog:
    """Records the checked services' calls made from the template's handler modules.

    `handlers`: handler module file -> the function's logical id. A call is attributed
    to the outermost frame on its thread's stack that runs code of a handler module,
    the entry point Lambda would have called; a call on a thread the function's code
    started (a thread pool's, s3transfer's) to the function that started the thread
    or submitted the work. What moto does in this process while it answers a call is
    not the caller's, but a function run within the answer is attributed as above. Set
    `function` to attribute every call to one function instead (a worker process running
    one invocation at a time).
    """

    def __init__(self, handlers: Mapping[Path, str], saved_to: Path | None = None) -> None:
        self._handlers = {str(path): lid for path, lid in handlers.items()}
        self._lock = threading.Lock()
        self._saved_to = saved_to
        self._saved = 0
        self._undo: list[Callable[[], None]] = []
        self._inherited = threading.local()
        self._answering = threading.local()
        """The frame of the call a thread waits for the answer of. moto answers in this
        process: what its engines do then (a state machine starting its work on a thread,
        invoking a function) is the service's doing, unless a handler module's code runs
        within the answer (the local stack invoking a function in this process)."""
        self._threads: WeakKeyDictionary[threading.Thread, str] = WeakKeyDictionary()
        """The function that started each thread its code started."""
        self.recorded: set[Access] = set()
        self.function: str | None = None

    def _caller(self, frame: FrameType | None) -> str | None:
        if self.function is not None:
            return self.function
        answering = getattr(self._answering, "frame", None)
        found = None
        while frame is not None and frame is not answering:
            function = self._handlers.get(frame.f_code.co_filename)
            if function is not None:
                found = function
            frame = frame.f_back
        if found is not None or answering is not None:
            return found
        inherited: str | None = getattr(self._inherited, "function", None)
        return inherited or self._threads.get(threading.current_thread())

    def record(self, service: str, operation: str, params: Mapping[str, Any]) -> None:
        """`service` is botocore's name; the record has IAM's."""
        prefix = IAM_SERVICES.get(service)
        if prefix is None:
            return
        function = self._caller(sys._getframe(1))
        if function is None:
            return
        with self._lock:
            for action, resource in accesses(service, operation, params):
                self.recorded.add(Access(function, prefix, action, resource))

    def install(self) -> None:
        """Record every botocore call from now on (pynamodb's too), until `uninstall`;
        threads and pooled work carry the function that started them. A secret read
        through Powertools is recorded even when its cache answers: on AWS each function
        has its own cache, and here one filled by another function would hide a read."""
        from aws_lambda_powertools.utilities.parameters.secrets import (  # noqa: PLC0415
            SecretsProvider,
        )
        from botocore.client import BaseClient  # noqa: PLC0415 (only where recording)

        if self._undo:
            raise RuntimeError("this access log is installed already")
        log = self
        call = getattr(BaseClient, _PATCHED)
        start = threading.Thread.start
        submit = ThreadPoolExecutor.submit

        def _make_api_call(client: Any, operation_name: str, api_params: Any) -> Any:
            log.record(client.meta.service_model.service_name, operation_name, api_params)
            outer = getattr(log._answering, "frame", None)
            log._answering.frame = sys._getframe()
            try:
                return call(client, operation_name, api_params)
            finally:
                log._answering.frame = outer

        def start_carrying(thread: threading.Thread) -> None:
            function = log._caller(sys._getframe(1))
            if function is not None:
                log._threads[thread] = function
            start(thread)

        def submit_carrying(
            executor: ThreadPoolExecutor, work: Callable[..., Any], /, *args: Any, **kwargs: Any
        ) -> Any:
            function = log._caller(sys._getframe(1))
            if function is None:
                return submit(executor, work, *args, **kwargs)

            def carried(*args: Any, **kwargs: Any) -> Any:
                before = getattr(log._inherited, "function", None)
                log._inherited.function = function
                try:
                    return work(*args, **kwargs)
                finally:
                    log._inherited.function = before

            return submit(executor, carried, *args, **kwargs)

        read = SecretsProvider.get
        inherited = "get" not in vars(SecretsProvider)

        def get_secret(provider: Any, name: str, *args: Any, **kwargs: Any) -> Any:
            log.record("secretsmanager", "GetSecretValue", {"SecretId": name})
            return read(provider, name, *args, **kwargs)

        setattr(BaseClient, _PATCHED, _make_api_call)
        threading.Thread.start = start_carrying  # type: ignore[method-assign, assignment]
        ThreadPoolExecutor.submit = submit_carrying  # type: ignore[method-assign, assignment]
        setattr(SecretsProvider, "get", get_secret)  # noqa: B010 (a method, put back below)
        self._undo = [
            lambda: setattr(BaseClient, _PATCHED, call),
            lambda: setattr(threading.Thread, "start", start),
            lambda: setattr(ThreadPoolExecutor, "submit", submit),
            lambda: (
                delattr(SecretsProvider, "get")
                if inherited
                else setattr(SecretsProvider, "get", read)
            ),
        ]

    def uninstall(self) -> None:
        for undo in self._undo:
            undo()
        self._undo = []

    @contextmanager
    def installed(self) -> Iterator[AccessLog]:
        """Record every botocore call made while inside."""
        self.install()
        try:
            yield self
        finally:
            self.uninstall()

    def save(self) -> None:
        """Write what is recorded to `saved_to` (JSON, replaced whole: a reader never sees
        half of it), when there is more than last time."""
        with self._lock:
            if self._saved_to is None or len(self.recorded) == self._saved:
                return
            self._saved = len(self.recorded)
            recorded = [vars(access) for access in sorted(self.recorded)]
        partial = self._saved_to.with_suffix(".partial")
        partial.write_text(json.dumps(recorded))
        os.replace(partial, self._saved_to)


def handler_files(template: Template) -> dict[Path, str]:
    """Each function's handler module file -> its logical id."""
    files = {}
    for lid in template.resources_of(FUNCTION):
        props = template.properties(lid)
        module = str(props["Handler"]).rsplit(".", 1)[0]
        code = template.directory / str(props.get("CodeUri", "."))
        files[(code / module.replace(".", "/")).with_suffix(".py").resolve()] = lid
    return files


def _referenced(value: Any) -> Iterator[str]:
    """The logical ids a policy's value refers to (Ref, GetAtt, Sub)."""
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if key == "Ref":
                yield str(inner)
            elif key == "Fn::GetAtt":
                yield str(inner[0] if isinstance(inner, list) else inner).split(".")[0]
            elif key == "Fn::Sub":
                text, variables = (inner[0], inner[1]) if isinstance(inner, list) else (inner, {})
                for name in SUB_VARIABLE.findall(str(text)):
                    if not name.startswith(("!", "AWS::")) and name not in variables:
                        yield name.split(".")[0]
                yield from _referenced(variables)
            else:
                yield from _referenced(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _referenced(inner)


def grants(template: Template, function: str) -> set[tuple[str, str, str]]:
    """(service, action pattern, resource logical id) the function's policies allow, for
    the checked services. Raises UnreadablePolicyError on what this reading would make
    broader than it is (a Deny, a Condition, NotAction, NotResource)."""
    allowed: set[tuple[str, str, str]] = set()
    for name, body in _policies(template, function):
        if name in POLICY_TEMPLATES:
            parameter, service, actions = POLICY_TEMPLATES[name]
            for lid in _referenced(body.get(parameter)):
                allowed |= {(service, action, lid) for action in actions}
        elif name == "Statement":
            for statement in body:
                allowed |= _statement_grants(function, statement)
    return allowed


def _policies(template: Template, function: str) -> Iterator[tuple[str, Any]]:
    """(policy template name or `Statement`, its body) of each of the function's
    policies (a managed policy's bare name has no body, and grants nothing here)."""
    for policy in template.properties(function).get("Policies", []):
        if isinstance(policy, Mapping):
            yield from policy.items()


class UnreadablePolicyError(ValueError):
    """A statement the check cannot hold calls to without allowing too much."""


def _statement_grants(function: str, statement: Mapping[str, Any]) -> set[tuple[str, str, str]]:
    unread = {"Condition", "NotAction", "NotResource"} & set(statement)
    if statement.get("Effect") != "Allow" or unread:
        raise UnreadablePolicyError(
            f"{function}: a statement with {sorted(unread) or statement.get('Effect')}"
        )
    actions = statement.get("Action", [])
    resources = statement.get("Resource", [])
    if not isinstance(resources, list):
        resources = [resources]
    lids = {ANY for resource in resources if resource == ANY} | set(_referenced(resources))
    allowed = set()
    for action in [actions] if isinstance(actions, str) else actions:
        service, _, verb = str(action).partition(":")
        allowed |= {(service, verb, lid) for lid in lids}
    return allowed


_NAME_PROPERTIES = {
    FUNCTION: "FunctionName",
    STATE_MACHINE: "Name",
    EVENT_BUS: "Name",
    QUEUE: "QueueName",
}
"""The property that names a resource of these types, when the template gives one."""


def resource_ids(template: Template) -> dict[str, str]:
    """The name a call gives each resource of the template (as the local stack and the
    tests name them) -> its logical id. A template parameter a policy template names
    (an SES identity) is there by its default value; the one user pool by USER_POOL_MARK."""
    resolver = Resolver(template, region="", physical={})
    names = {}
    for type_ in (TABLE, BUCKET, SECRET, *_NAME_PROPERTIES):
        for lid in template.resources_of(type_):
            given = template.properties(lid).get(_NAME_PROPERTIES.get(type_, ""))
            name = resolver.resolve_str(given) if given else physical_name(lid, type_)
            names[name] = lid
    pools = template.resources_of(USER_POOL)
    if len(pools) == 1:
        names[USER_POOL_MARK] = next(iter(pools))
    defaults = template.parameter_defaults()
    for function in template.resources_of(FUNCTION):
        for name, body in _policies(template, function):
            if name in POLICY_TEMPLATES:
                for ref in _referenced(body.get(POLICY_TEMPLATES[name][0])):
                    if defaults.get(ref):
                        names[str(defaults[ref])] = ref
    return names


def logical_id(resource: str, names: Mapping[str, str]) -> str | None:
    """The template resource a call named: by name, ARN, queue URL, or email address
    (its identity is the address or, when only that is known, its domain). ANY is
    itself."""
    if resource == ANY or resource in names:
        return names.get(resource, ANY)
    if resource.startswith(USER_POOL_MARK):
        return names.get(USER_POOL_MARK)
    if resource.startswith(("https://", "http://")):  # a queue's URL
        return names.get(resource.rstrip("/").rpartition("/")[2])
    if resource.startswith("arn:"):
        return _from_arn(resource, names)
    if "@" in resource:
        return names.get(resource.rpartition("@")[2])
    return names.get(resource.partition(":")[0])  # a function's name:qualifier


def _from_arn(arn: str, names: Mapping[str, str]) -> str | None:
    """A table's ARN ends in `table/<name>` (a bus's `event-bus/<name>`), a secret's in
    its name and a six-character suffix; a state machine's is `stateMachine:<name>`, its
    executions' `execution:<name>:<id>`, a function's `function:<name>[:version]`."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return None
    service, tail = parts[2], parts[-1]
    if service == "secretsmanager":
        name, _, suffix = tail.removeprefix("secret:").rpartition("-")
        return names.get(name) if len(suffix) == 6 else None
    if service in {"states", "lambda"}:
        kind_and_name = tail.split(":")
        return names.get(kind_and_name[1]) if len(kind_and_name) > 1 else None
    return names.get(tail.rpartition("/")[2])


def ungranted(template: Template, recorded: Iterable[Access]) -> list[str]:
    """What a function did that its policies do not allow, one line each."""
    names = resource_ids(template)
    functions = template.resources_of(FUNCTION)
    allowed_to: dict[str, set[tuple[str, str, str]]] = {}
    missing = []
    for access in sorted(recorded):
        lid = logical_id(access.resource, names)
        if lid is None:
            if access.service in TESTS_OWN and access.action != "PartiQL":
                continue  # not the template's: a test's own table, bucket, secret or queue
            lid = access.resource  # no policy names it: only a grant on `*` allows it
        if access.function not in functions:
            missing.append(f"{access.function}: not a function of the template")
            continue
        if access.function not in allowed_to:
            allowed_to[access.function] = grants(template, access.function)
        if not any(
            service == access.service
            and resource in {lid, ANY}
            and fnmatchcase(access.action, action)
            for service, action, resource in allowed_to[access.function]
        ):
            missing.append(f"{access.function}: {access.service}:{access.action} on {lid}")
    return missing


def saved(directory: Path) -> set[Access]:
    """What the access logs of other processes saved in `directory` (`AccessLog.save`)."""
    recorded = set()
    for path in sorted(directory.glob("*.json")):
        try:
            items = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # being replaced: its next version is read at the run's end
        recorded |= {Access(**item) for item in items}
    return recorded
