"""template.yaml as the local stack reads it.

CloudFormation's short tags (`!Ref`, `!GetAtt`, `!Sub`, ...) load in their long form;
SAM's `Globals.Function` merges into each function; intrinsic functions resolve against
the template's parameter defaults, the pseudo parameters and what the stack has created
so far (`Physical`: each resource's `Ref` value and its `Fn::GetAtt` attributes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACCOUNT_ID = "123456789012"
"""moto's default account: ARNs the stack builds must match the ones moto returns."""
STACK_NAME = "consentry"

FUNCTION = "AWS::Serverless::Function"

_SHORT_TAGS = (
    "Base64",
    "Cidr",
    "FindInMap",
    "GetAtt",
    "GetAZs",
    "ImportValue",
    "Join",
    "Select",
    "Split",
    "Sub",
    "Transform",
    "And",
    "Equals",
    "If",
    "Not",
    "Or",
)


class CfnLoader(yaml.SafeLoader):
    """`!Ref X` -> `{"Ref": "X"}`, `!GetAtt A.B` -> `{"Fn::GetAtt": ["A", "B"]}`, and so on."""


def _long_form(key: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        if key == "Fn::GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {key: value}

    return construct


CfnLoader.add_constructor("!Ref", _long_form("Ref"))
CfnLoader.add_constructor("!Condition", _long_form("Condition"))
for _tag in _SHORT_TAGS:
    CfnLoader.add_constructor(f"!{_tag}", _long_form(f"Fn::{_tag}"))


@dataclass(frozen=True)
class FunctionEvent:
    """One entry of a function's `Events`, its properties still unresolved."""

    function: str
    name: str
    type: str
    properties: Mapping[str, Any]


@dataclass(frozen=True)
class Template:
    path: Path
    body: Mapping[str, Any]

    @property
    def directory(self) -> Path:
        """Where relative paths of the template (CodeUri, DefinitionUri) start."""
        return self.path.parent

    @property
    def resources(self) -> Mapping[str, Mapping[str, Any]]:
        resources: Mapping[str, Mapping[str, Any]] = self.body.get("Resources", {})
        return resources

    def parameter_defaults(self) -> dict[str, Any]:
        return {
            name: spec["Default"]
            for name, spec in self.body.get("Parameters", {}).items()
            if "Default" in spec
        }

    def resources_of(self, type_: str) -> dict[str, Mapping[str, Any]]:
        return {lid: res for lid, res in self.resources.items() if res["Type"] == type_}

    def properties(self, logical_id: str) -> dict[str, Any]:
        """A resource's properties; a function's with `Globals.Function` merged in as SAM does."""
        resource = self.resources[logical_id]
        own = dict(resource.get("Properties", {}))
        if resource["Type"] != FUNCTION:
            return own
        merged: dict[str, Any] = merge_globals(
            self.body.get("Globals", {}).get("Function", {}), own
        )
        return merged

    def function_events(self, type_: str) -> list[FunctionEvent]:
        return [
            FunctionEvent(function=lid, name=name, type=type_, properties=event["Properties"])
            for lid in self.resources_of(FUNCTION)
            for name, event in self.properties(lid).get("Events", {}).items()
            if event["Type"] == type_
        ]


def load_template(path: Path) -> Template:
    body = yaml.load(path.read_text(), Loader=CfnLoader)  # noqa: S506 (a SafeLoader subclass)
    return Template(path=path.resolve(), body=body)


def merge_globals(global_value: Any, own: Any) -> Any:
    """SAM's rule: maps merge key by key, lists concatenate (globals first), scalars override."""
    if isinstance(global_value, Mapping) and isinstance(own, Mapping):
        merged = dict(global_value)
        for key, value in own.items():
            merged[key] = merge_globals(global_value[key], value) if key in global_value else value
        return merged
    if isinstance(global_value, list) and isinstance(own, list):
        return [*global_value, *own]
    return own


@dataclass(frozen=True)
class Physical:
    """What the stack created for a logical id: its `Ref` value and `Fn::GetAtt` attributes."""

    ref: str
    attributes: Mapping[str, str] = field(default_factory=dict)


class NotCreatedError(LookupError):
    """A reference to a resource the stack has not created (yet, or at all)."""

    def __init__(self, logical_id: str) -> None:
        super().__init__(f"{logical_id} is not created locally")
        self.logical_id = logical_id


class UnsupportedError(ValueError):
    """An intrinsic function or reference the local stack does not resolve."""


_NO_VALUE = object()
SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class Resolver:
    """Resolves intrinsic functions to plain values."""

    def __init__(
        self,
        template: Template,
        *,
        region: str,
        physical: Mapping[str, Physical],
        account_id: str = ACCOUNT_ID,
        stack_name: str = STACK_NAME,
    ) -> None:
        self.template = template
        self.physical = physical
        self.pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": account_id,
            "AWS::Partition": "aws",
            "AWS::StackName": stack_name,
            "AWS::StackId": (
                f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/local"
            ),
            "AWS::URLSuffix": "amazonaws.com",
        }
        self.parameters = template.parameter_defaults()

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(value, Mapping):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self.ref(argument)
            if key.startswith("Fn::") or (key == "Condition" and isinstance(argument, str)):
                return self._function(key, argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    def resolve_str(self, value: Any) -> str:
        """A resolved value as an environment variable or a substitution holds it."""
        resolved = self.resolve(value)
        if isinstance(resolved, bool):
            return "true" if resolved else "false"
        if isinstance(resolved, (Mapping, list)):
            raise UnsupportedError(f"{value!r} does not resolve to a scalar")
        return str(resolved)

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.template.body.get("Parameters", {}):
            raise UnsupportedError(f"parameter {name} has no Default to run with locally")
        if name not in self.template.resources:
            raise UnsupportedError(f"!Ref {name}: no such parameter or resource")
        return self._physical(name).ref

    def get_att(self, logical_id: str, attribute: str) -> str:
        if logical_id not in self.template.resources:
            raise UnsupportedError(f"!GetAtt {logical_id}.{attribute}: no such resource")
        physical = self._physical(logical_id)
        try:
            return physical.attributes[attribute]
        except KeyError:
            raise UnsupportedError(
                f"!GetAtt {logical_id}.{attribute}: attribute not known locally"
            ) from None

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template.body["Conditions"][name]))

    def active(self, logical_id: str) -> bool:
        """False for a resource whose `Condition` does not hold with the parameter defaults."""
        condition = self.template.resources[logical_id].get("Condition")
        return condition is None or self.condition(condition)

    def outputs(self) -> dict[str, str]:
        """The template's Outputs that name something the stack created."""
        values = {}
        for name, output in self.template.body.get("Outputs", {}).items():
            try:
                values[name] = self.resolve_str(output["Value"])
            except NotCreatedError:
                continue
        return values

    def _physical(self, logical_id: str) -> Physical:
        try:
            return self.physical[logical_id]
        except KeyError:
            raise NotCreatedError(logical_id) from None

    def _function(self, key: str, argument: Any) -> Any:  # noqa: PLR0911 (one return per function)
        if key == "Fn::GetAtt":
            logical_id, attribute = argument
            return self.get_att(logical_id, self.resolve(attribute))
        if key == "Fn::Sub":
            return self._sub(argument)
        if key == "Condition":
            return self.condition(argument)
        if key == "Fn::If":
            name, if_true, if_false = argument
            return self.resolve(if_true if self.condition(name) else if_false)
        args = self.resolve(argument)
        if key == "Fn::Equals":
            left, right = args
            return str(left) == str(right)
        if key == "Fn::Not":
            return not args[0]
        if key == "Fn::And":
            return all(args)
        if key == "Fn::Or":
            return any(args)
        if key == "Fn::Join":
            delimiter, items = args
            return delimiter.join(str(item) for item in items)
        if key == "Fn::Select":
            index, items = args
            return items[int(index)]
        if key == "Fn::Split":
            delimiter, text = args
            return text.split(delimiter)
        raise UnsupportedError(f"{key} is not resolved by the local stack")

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, str):
            text, variables = argument, {}
        else:
            text, variables = argument[0], self.resolve(argument[1])

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return self.get_att(logical_id, attribute)
            return str(self.ref(name))

        return SUB_VARIABLE.sub(replace, text)
