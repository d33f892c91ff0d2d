"""Creating template.yaml's resources in moto, through the AWS APIs, in dependency order.

Each supported type has one creator; a resource that refers to one not created yet is
tried again after the others. Properties that change nothing locally (encryption,
point-in-time recovery, lifecycle rules, tracing, log delivery) are not applied.
Physical names derive from logical ids (`consentry-ProfilesTable`) unless the template
names the resource itself.
"""

from __future__ import annotations

import io
import json
import secrets
import string
import zipfile
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import boto3

from infra.local.template import (
    FUNCTION,
    STACK_NAME,
    NotCreatedError,
    Physical,
    Resolver,
    Template,
    UnsupportedError,
)

TABLE = "AWS::DynamoDB::Table"
BUCKET = "AWS::S3::Bucket"
TOPIC = "AWS::SNS::Topic"
QUEUE = "AWS::SQS::Queue"
SUBSCRIPTION = "AWS::SNS::Subscription"
SECRET = "AWS::SecretsManager::Secret"  # noqa: S105 (a resource type)
STATE_MACHINE = "AWS::Serverless::StateMachine"
EVENT_BUS = "AWS::Events::EventBus"
USER_POOL = "AWS::Cognito::UserPool"
USER_POOL_CLIENT = "AWS::Cognito::UserPoolClient"
USER_POOL_GROUP = "AWS::Cognito::UserPoolGroup"

LOCAL_ROLE = "consentry-local"
"""The one role every local function and state machine names (moto wants one to exist)."""

_SQS_ATTRIBUTES = (
    "ContentBasedDeduplication",
    "DelaySeconds",
    "FifoQueue",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "VisibilityTimeout",
)
_USER_POOL_KEYS = (
    "Policies",
    "AdminCreateUserConfig",
    "UsernameConfiguration",
    "MfaConfiguration",
    "AccountRecoverySetting",
    "UsernameAttributes",
    "AliasAttributes",
    "AutoVerifiedAttributes",
)
_USER_POOL_CLIENT_KEYS = (
    "ClientName",
    "GenerateSecret",
    "ExplicitAuthFlows",
    "PreventUserExistenceErrors",
    "AccessTokenValidity",
    "IdTokenValidity",
    "RefreshTokenValidity",
    "TokenValidityUnits",
)
_GSI_KEYS = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")
_URLSAFE = frozenset(string.ascii_letters + string.digits + "-_")


def physical_name(logical_id: str, type_: str, stack_name: str = STACK_NAME) -> str:
    name = f"{stack_name}-{logical_id}"
    return name.lower() if type_ == BUCKET else name


def generate_secret_string(spec: Mapping[str, Any]) -> str:
    """What `GenerateSecretString` asks for, from `secrets.token_urlsafe` characters."""
    length = int(spec.get("PasswordLength", 32))
    excluded = set(spec.get("ExcludeCharacters", ""))
    for flag, characters in (
        ("ExcludePunctuation", string.punctuation),
        ("ExcludeUppercase", string.ascii_uppercase),
        ("ExcludeLowercase", string.ascii_lowercase),
        ("ExcludeNumbers", string.digits),
    ):
        if spec.get(flag):
            excluded |= set(characters)
    if not _URLSAFE - excluded:
        raise UnsupportedError("GenerateSecretString excludes every character it could use")
    password = ""
    while len(password) < length:
        password += "".join(c for c in secrets.token_urlsafe(length) if c not in excluded)
    password = password[:length]
    template = spec.get("SecretStringTemplate")
    if template is None:
        return password
    document = json.loads(template)
    document[spec["GenerateStringKey"]] = password
    return json.dumps(document)


def _flag(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (Mapping, list)):
        return json.dumps(value)
    return str(value)


@dataclass
class _Stack:
    template: Template
    resolver: Resolver
    clients: Mapping[str, Any]
    role_arn: str = ""

    def props(self, logical_id: str, *keys: str) -> dict[str, Any]:
        """The resolved properties; only `keys` when given (the others may refer onwards)."""
        properties = self.template.properties(logical_id)
        if keys:
            properties = {key: properties[key] for key in keys if key in properties}
        resolved: dict[str, Any] = self.resolver.resolve(properties)
        return resolved

    def name(self, logical_id: str, properties: Mapping[str, Any], key: str) -> str:
        type_ = self.template.resources[logical_id]["Type"]
        return str(properties.get(key) or physical_name(logical_id, type_))

    def local_role(self) -> str:
        if not self.role_arn:
            trust = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
            role = self.clients["iam"].create_role(
                RoleName=LOCAL_ROLE, AssumeRolePolicyDocument=json.dumps(trust)
            )
            self.role_arn = role["Role"]["Arn"]
        return self.role_arn


def _table(stack: _Stack, logical_id: str) -> Physical:
    props = stack.props(logical_id)
    name = stack.name(logical_id, props, "TableName")
    request: dict[str, Any] = {
        key: props[key]
        for key in ("KeySchema", "AttributeDefinitions", "BillingMode", "ProvisionedThroughput")
        if key in props
    }
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if key in props:
            request[key] = [{k: v for k, v in i.items() if k in _GSI_KEYS} for i in props[key]]
    if "StreamSpecification" in props:
        request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    client = stack.clients["dynamodb"]
    table = client.create_table(TableName=name, **request)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={
                "Enabled": bool(ttl.get("Enabled", True)),
                "AttributeName": ttl["AttributeName"],
            },
        )
    attributes = {"Arn": table["TableArn"]}
    if "LatestStreamArn" in table:
        attributes["StreamArn"] = table["LatestStreamArn"]
    return Physical(ref=name, attributes=attributes)


def _bucket(stack: _Stack, logical_id: str) -> Physical:
    name = stack.name(logical_id, stack.props(logical_id, "BucketName"), "BucketName")
    region = stack.resolver.pseudo["AWS::Region"]
    location = {} if region == "us-east-1" else {"LocationConstraint": region}
    stack.clients["s3"].create_bucket(Bucket=name, CreateBucketConfiguration=location)
    return Physical(
        ref=name,
        attributes={
            "Arn": f"arn:aws:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
        },
    )


def _topic(stack: _Stack, logical_id: str) -> Physical:
    props = stack.props(logical_id, "TopicName", "FifoTopic")
    name = stack.name(logical_id, props, "TopicName")
    attributes = {"FifoTopic": _flag(props["FifoTopic"])} if "FifoTopic" in props else {}
    arn = stack.clients["sns"].create_topic(Name=name, Attributes=attributes)["TopicArn"]
    return Physical(ref=arn, attributes={"TopicArn": arn, "TopicName": name})


def _queue(stack: _Stack, logical_id: str) -> Physical:
    props = stack.props(logical_id)
    name = stack.name(logical_id, props, "QueueName")
    attributes = {key: _flag(props[key]) for key in _SQS_ATTRIBUTES if key in props}
    client = stack.clients["sqs"]
    url = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return Physical(
        ref=url,
        attributes={"Arn": arn["Attributes"]["QueueArn"], "QueueName": name, "QueueUrl": url},
    )


def _subscription(stack: _Stack, logical_id: str) -> Physical:
    props = stack.props(logical_id)
    attributes = {
        key: _flag(props[key])
        for key in ("RawMessageDelivery", "FilterPolicy", "FilterPolicyScope", "RedrivePolicy")
        if key in props
    }
    arn = stack.clients["sns"].subscribe(
        TopicArn=props["TopicArn"],
        Protocol=props["Protocol"],
        Endpoint=props["Endpoint"],
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    return Physical(ref=arn)


def _secret(stack: _Stack, logical_id: str) -> Physical:
    props = stack.props(logical_id)
    name = stack.name(logical_id, props, "Name")
    if "SecretString" in props:
        value = props["SecretString"]
    else:
        value = generate_secret_string(props.get("GenerateSecretString", {}))
    request = {"Description": props["Description"]} if "Description" in props else {}
    arn = stack.clients["secretsmanager"].create_secret(Name=name, SecretString=value, **request)
    return Physical(ref=arn["ARN"])


def _event_bus(stack: _Stack, logical_id: str) -> Physical:
    props = stack.props(logical_id, "Name")
    name = stack.name(logical_id, props, "Name")
    arn = stack.clients["events"].create_event_bus(Name=name)["EventBusArn"]
    return Physical(ref=name, attributes={"Arn": arn, "Name": name})


def _user_pool(stack: _Stack, logical_id: str) -> Physical:
    props = stack.props(logical_id)
    name = stack.name(logical_id, props, "UserPoolName")
    request = {key: props[key] for key in _USER_POOL_KEYS if key in props}
    pool = stack.clients["cognito-idp"].create_user_pool(PoolName=name, **request)["UserPool"]
    region = stack.resolver.pseudo["AWS::Region"]
    provider = f"cognito-idp.{region}.amazonaws.com/{pool['Id']}"
    return Physical(
        ref=pool["Id"],
        attributes={
            "Arn": pool["Arn"],
            "UserPoolId": pool["Id"],
            "ProviderName": provider,
            "ProviderURL": f"https://{provider}",
        },
    )


def _user_pool_client(stack: _Stack, logical_id: str) -> Physical:
    props = stack.props(logical_id)
    request = {key: props[key] for key in _USER_POOL_CLIENT_KEYS if key in props}
    client = stack.clients["cognito-idp"].create_user_pool_client(
        UserPoolId=props["UserPoolId"], **request
    )["UserPoolClient"]
    return Physical(ref=client["ClientId"], attributes={"ClientId": client["ClientId"]})


def _user_pool_group(stack: _Stack, logical_id: str) -> Physical:
    props = stack.props(logical_id)
    name = stack.name(logical_id, props, "GroupName")
    request = {key: props[key] for key in ("Description", "Precedence") if key in props}
    stack.clients["cognito-idp"].create_group(
        GroupName=name, UserPoolId=props["UserPoolId"], **request
    )
    return Physical(ref=name)


def _dummy_zip() -> bytes:
    """moto wants code; the local stack runs the handler from functions/ instead."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "Run in-process by the local stack (infra/local).\n")
    return buffer.getvalue()


def _function(stack: _Stack, logical_id: str) -> Physical:
    # Environment is left out: it refers onwards (to the state machine that invokes
    # these functions), and the handlers read it from the stack's process anyway.
    props = stack.props(
        logical_id, "FunctionName", "Handler", "Runtime", "MemorySize", "Timeout", "Architectures"
    )
    name = stack.name(logical_id, props, "FunctionName")
    request = {
        key: props[key] for key in ("MemorySize", "Timeout", "Architectures") if key in props
    }
    arn = stack.clients["lambda"].create_function(
        FunctionName=name,
        Runtime=props.get("Runtime", "python3.13"),
        Role=stack.local_role(),
        Handler=props["Handler"],
        Code={"ZipFile": _dummy_zip()},
        **request,
    )["FunctionArn"]
    return Physical(ref=name, attributes={"Arn": arn})


def state_machine_definition(stack_template: Template, resolver: Resolver, logical_id: str) -> str:
    """The ASL text: `DefinitionUri`'s file (or the inline `Definition`), substituted."""
    properties = stack_template.properties(logical_id)
    if "Definition" in properties:
        definition = json.dumps(resolver.resolve(properties["Definition"]))
    else:
        uri = resolver.resolve(properties["DefinitionUri"])
        if not isinstance(uri, str):
            raise UnsupportedError(f"{logical_id}: DefinitionUri must be a local file")
        definition = (stack_template.directory / uri).read_text()
    substitutions = properties.get("DefinitionSubstitutions", {})
    values = {key: resolver.resolve_str(value) for key, value in substitutions.items()}
    for key, value in values.items():
        definition = definition.replace("${" + key + "}", value)
    return definition


def _state_machine(stack: _Stack, logical_id: str) -> Physical:
    props = stack.props(logical_id, "Name", "Type")
    definition = state_machine_definition(stack.template, stack.resolver, logical_id)
    name = stack.name(logical_id, props, "Name")
    arn = stack.clients["stepfunctions"].create_state_machine(
        name=name,
        definition=definition,
        roleArn=stack.local_role(),
        type=props.get("Type", "STANDARD"),
    )["stateMachineArn"]
    return Physical(ref=arn, attributes={"Arn": arn, "Name": name})


CREATORS: Mapping[str, Callable[[_Stack, str], Physical]] = {
    TABLE: _table,
    BUCKET: _bucket,
    TOPIC: _topic,
    QUEUE: _queue,
    SUBSCRIPTION: _subscription,
    SECRET: _secret,
    FUNCTION: _function,
    STATE_MACHINE: _state_machine,
    EVENT_BUS: _event_bus,
    USER_POOL: _user_pool,
    USER_POOL_CLIENT: _user_pool_client,
    USER_POOL_GROUP: _user_pool_group,
}

CLIENTS = (
    "cognito-idp",
    "dynamodb",
    "events",
    "iam",
    "lambda",
    "s3",
    "secretsmanager",
    "sns",
    "sqs",
    "stepfunctions",
)


def create_resources(
    template: Template, region: str, only: Collection[str] | None = None
) -> dict[str, Physical]:
    """Create every supported resource of the template, or those of `only` (which must
    name whatever they refer to); the physical ids by logical id.

    Clients come from the environment (AWS_ENDPOINT_URL points them at moto).
    """
    physical: dict[str, Physical] = {}
    resolver = Resolver(template, region=region, physical=physical)
    clients = {name: boto3.client(name, region_name=region) for name in CLIENTS}  # type: ignore[call-overload]
    stack = _Stack(template=template, resolver=resolver, clients=clients)
    pending = [
        lid
        for lid, resource in template.resources.items()
        if resource["Type"] in CREATORS and resolver.active(lid) and (only is None or lid in only)
    ]
    creatable = set(pending)
    while pending:
        deferred = []
        for logical_id in pending:
            creator = CREATORS[template.resources[logical_id]["Type"]]
            try:
                physical[logical_id] = creator(stack, logical_id)
            except NotCreatedError as error:
                if error.logical_id not in creatable:
                    raise UnsupportedError(f"{logical_id} refers to {error}") from error
                deferred.append(logical_id)
        if len(deferred) == len(pending):
            raise UnsupportedError(f"circular references between {', '.join(deferred)}")
        pending = deferred
    return physical


def not_created(template: Template) -> Counter[str]:
    """Resource types the local stack has no use for, and how many of each."""
    return Counter(
        resource["Type"]
        for resource in template.resources.values()
        if resource["Type"] not in CREATORS
    )
