"""Which tables, buckets and secrets each function's code reaches, next to what its IAM
policies in template.yaml allow.

moto does not enforce IAM, so a function whose policies miss a table it uses works on
the local stack and in every test, and is denied on AWS. `AccessLog` records each call
the functions' code makes to DynamoDB, S3 and Secrets Manager (the action IAM checks
and the resource it names), attributed to the function whose handler module is on the
calling thread's stack, or that started the thread or handed the work to its pool;
`ungranted` holds the record to the template's policies (tests/access_check.py does,
at the end of every test run).

The policies read are SAM's policy templates for these services (their actions as in
SAM's policy_templates.json) and `Statement` policies naming a resource of the
template. Calls from outside any handler module (a test's own setup) are not recorded.
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
from fnmatch import fnmatchcase
from pathlib import Path
from types import FrameType
from typing import Any
from weakref import WeakKeyDictionary

from infra.local.resources import BUCKET, SECRET, TABLE, physical_name
from infra.local.template import FUNCTION, SUB_VARIABLE, Template

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
}
"""SAM policy template -> (its parameter naming the resource, service, actions)."""

_PATCHED = "_make_api_call"
"""botocore's one method every client call goes through (pynamodb's too)."""

CHECKED = frozenset({"dynamodb", "s3", "secretsmanager"})

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
    action = _S3_ACTIONS.get(operation, operation)
    if action == "GetObject" and params.get("VersionId"):
        action = "GetObjectVersion"
    found = [(action, params["Bucket"])]
    source = params.get("CopySource")
    if source is not None:
        bucket = source["Bucket"] if isinstance(source, Mapping) else source.lstrip("/")
        found.append(("GetObject", bucket.split("/", 1)[0]))
    return found


def accesses(service: str, operation: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(IAM action, resource name) of each resource a call acts on."""
    if service == "dynamodb":
        return _dynamodb(operation, params)
    if service == "s3" and "Bucket" in params:
        return _s3(operation, params)
    if service == "secretsmanager" and "SecretId" in params:
        return [(operation, params["SecretId"])]
    return []


class AccessLog:
    """Records the checked services' calls made from the template's handler modules.

    `handlers`: handler module file -> the function's logical id. A call is attributed
    to the outermost frame on its thread's stack that runs code of a handler module,
    the entry point Lambda would have called; a call on a thread the function's code
    started (a thread pool's, s3transfer's) to the function that started the thread
    or submitted the work. Set `function` to attribute every call to one function
    instead (a worker process running one invocation at a time).
    """

    def __init__(self, handlers: Mapping[Path, str], saved_to: Path | None = None) -> None:
        self._handlers = {str(path): lid for path, lid in handlers.items()}
        self._lock = threading.Lock()
        self._saved_to = saved_to
        self._saved = 0
        self._undo: list[Callable[[], None]] = []
        self._inherited = threading.local()
        self._threads: WeakKeyDictionary[threading.Thread, str] = WeakKeyDictionary()
        """The function that started each thread its code started."""
        self.recorded: set[Access] = set()
        self.function: str | None = None

    def _caller(self, frame: FrameType | None) -> str | None:
        if self.function is not None:
            return self.function
        found = None
        while frame is not None:
            function = self._handlers.get(frame.f_code.co_filename)
            if function is not None:
                found = function
            frame = frame.f_back
        if found is not None:
            return found
        inherited: str | None = getattr(self._inherited, "function", None)
        return inherited or self._threads.get(threading.current_thread())

    def record(self, service: str, operation: str, params: Mapping[str, Any]) -> None:
        if service not in CHECKED:
            return
        function = self._caller(sys._getframe(1))
        if function is None:
            return
        with self._lock:
            for action, resource in accesses(service, operation, params):
                self.recorded.add(Access(function, service, action, resource))

    def install(self) -> None:
        """Record every botocore call from now on (pynamodb's too), until `uninstall`;
        threads and pooled work carry the function that started them."""
        from botocore.client import BaseClient  # noqa: PLC0415 (only where recording)

        log = self
        call = getattr(BaseClient, _PATCHED)
        start = threading.Thread.start
        submit = ThreadPoolExecutor.submit

        def _make_api_call(client: Any, operation_name: str, api_params: Any) -> Any:
            log.record(client.meta.service_model.service_name, operation_name, api_params)
            return call(client, operation_name, api_params)

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

        setattr(BaseClient, _PATCHED, _make_api_call)
        threading.Thread.start = start_carrying  # type: ignore[method-assign, assignment]
        ThreadPoolExecutor.submit = submit_carrying  # type: ignore[method-assign, assignment]
        self._undo = [
            lambda: setattr(BaseClient, _PATCHED, call),
            lambda: setattr(threading.Thread, "start", start),
            lambda: setattr(ThreadPoolExecutor, "submit", submit),
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
    for policy in template.properties(function).get("Policies", []):
        if not isinstance(policy, Mapping):
            continue
        for name, body in policy.items():
            if name in POLICY_TEMPLATES:
                parameter, service, actions = POLICY_TEMPLATES[name]
                for lid in _referenced(body.get(parameter)):
                    allowed |= {(service, action, lid) for action in actions}
            elif name == "Statement":
                for statement in body:
                    allowed |= _statement_grants(function, statement)
    return allowed


class UnreadablePolicyError(ValueError):
    """A statement the check cannot hold calls to without allowing too much."""


def _statement_grants(function: str, statement: Mapping[str, Any]) -> set[tuple[str, str, str]]:
    unread = {"Condition", "NotAction", "NotResource"} & set(statement)
    if statement.get("Effect") != "Allow" or unread:
        raise UnreadablePolicyError(
            f"{function}: a statement with {sorted(unread) or statement.get('Effect')}"
        )
    actions = statement.get("Action", [])
    allowed = set()
    for action in [actions] if isinstance(actions, str) else actions:
        service, _, verb = str(action).partition(":")
        for lid in _referenced(statement.get("Resource")):
            allowed.add((service, verb, lid))
    return allowed


def resource_ids(template: Template) -> dict[str, str]:
    """The name a call gives each table, bucket and secret of the template (as the local
    stack and the tests name them) -> its logical id."""
    names = {}
    for type_ in (TABLE, BUCKET, SECRET):
        for lid in template.resources_of(type_):
            names[physical_name(lid, type_)] = lid
    return names


def logical_id(resource: str, names: Mapping[str, str]) -> str | None:
    """The template resource a call named, by name or ARN (a table's ends in
    `table/<name>`, a secret's in its name and a six-character suffix)."""
    if resource in names:
        return names[resource]
    if not resource.startswith("arn:"):
        return None
    tail = resource.split(":", 5)[-1]
    if ":secret:" in resource:
        name, _, suffix = tail.removeprefix("secret:").rpartition("-")
        return names.get(name) if len(suffix) == 6 else None
    return names.get(tail.rpartition("/")[2])


def ungranted(template: Template, recorded: Iterable[Access]) -> list[str]:
    """What a function did that its policies do not allow, one line each."""
    names = resource_ids(template)
    functions = template.resources_of(FUNCTION)
    allowed_to: dict[str, set[tuple[str, str, str]]] = {}
    missing = []
    for access in sorted(recorded):
        lid = logical_id(access.resource, names)
        if lid is None and access.action != "PartiQL":
            continue  # not the template's (a test's own bucket or table)
        if access.function not in functions:
            missing.append(f"{access.function}: not a function of the template")
            continue
        if access.function not in allowed_to:
            allowed_to[access.function] = grants(template, access.function)
        if not any(
            service == access.service and lid == resource and fnmatchcase(access.action, action)
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
