"""Reading template.yaml in tests: CloudFormation's short tags in their long form."""

from pathlib import Path
from typing import Any

import yaml


class CfnLoader(yaml.SafeLoader):
    """`!Ref X` -> `{"Ref": "X"}`, `!GetAtt A.B` -> `{"Fn::GetAtt": ["A", "B"]}`, and so on."""


def _long_form(tag: str):
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        if tag == "Ref":
            return {"Ref": value}
        if tag == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {f"Fn::{tag}": value}

    return construct


for _tag in ("Ref", "GetAtt", "Sub", "Equals", "If", "Not", "And", "Or", "Join", "Select", "Split"):
    CfnLoader.add_constructor(f"!{_tag}", _long_form(_tag))


def load_template(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=CfnLoader)  # noqa: S506 (a SafeLoader subclass)
