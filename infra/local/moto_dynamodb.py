"""moto's TransactWriteItems without its leak: a rollback backup of the items a
transaction touches, and DynamoDB's models left out of moto's instance tracker.

moto (5.2) backs up every table a transaction names with `copy.deepcopy(table)`
before applying it, to restore on a cancelled transaction. Each deep copy re-creates
every item of the table, and every re-created model object appends itself to its
class's `instances_tracked` (`BaseModel.__new__`), a list that lives as long as the
process: the copies are never freed, and each transaction costs time in proportion
to the size of the tables it names. See docs/decisions.md, "moto's TransactWriteItems".

`install()` keeps moto's own transaction code and changes two things around it:
- the backup: while moto's method runs, `copy.deepcopy` of a table hands back the
  table itself (nothing copied, nothing restored by moto), and the rollback restores
  the items the transaction names, saved before as plain attribute maps;
- the tracker: DynamoDB's model classes get a tracker that keeps nothing (it only
  feeds moto's `/moto-api/data.json` dashboard, which the stack does not use), so an
  item replaced by a write is freed.

The stack calls moto one call at a time (see `aws`), which the shared switch relies on.
"""

from __future__ import annotations

import copy as _copy
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import moto.dynamodb.models as dynamodb_models
from moto.core.model_instances import model_data
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table

_state = threading.local()


def _deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
    if isinstance(value, Table) and getattr(_state, "tables_not_copied", False):
        return value
    return _copy.deepcopy(value, memo)


_COPY = SimpleNamespace(**{**vars(_copy), "deepcopy": _deepcopy})
"""Stands for the `copy` module in moto's DynamoDB backend."""


@contextmanager
def _tables_not_copied() -> Iterator[None]:
    _state.tables_not_copied = True
    try:
        yield
    finally:
        _state.tables_not_copied = False


@dataclass(frozen=True)
class _Saved:
    table_name: str
    key: dict[str, Any]
    attributes: dict[str, Any] | None
    """The item as DynamoDB JSON before the transaction; None when there was none."""


def _key(table: Table, op_type: str, op: dict[str, Any]) -> dict[str, Any] | None:
    if op_type != "Put":
        key = op.get("Key")
        return dict(key) if isinstance(key, dict) else None
    attributes = op.get("Item") or {}
    names = [table.hash_key_attr, *([table.range_key_attr] if table.range_key_attr else [])]
    if any(name not in attributes for name in names):
        return None  # moto refuses the operation itself
    return {name: attributes[name] for name in names}


def _save(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[_Saved]:
    saved = []
    for entry in transact_items:
        for op_type, op in entry.items():
            table_name = op.get("TableName") if isinstance(op, dict) else None
            table = backend.tables.get(table_name) if isinstance(table_name, str) else None
            if table is None or op_type == "ConditionCheck":
                continue
            key = _key(table, op_type, op)
            if key is None:
                continue
            try:
                item = backend.get_item(table_name, key)  # type: ignore[arg-type]
            except Exception:  # noqa: S112 (a bad key: moto refuses the operation itself)
                continue
            attributes = None if item is None else item.to_json()["Attributes"]
            saved.append(_Saved(table_name, key, attributes))  # type: ignore[arg-type]
    return saved


def _restore(backend: DynamoDBBackend, saved: list[_Saved]) -> None:
    for entry in reversed(saved):
        if entry.table_name not in backend.tables:
            continue
        if entry.attributes is None:
            backend.delete_item(entry.table_name, entry.key)
        else:
            backend.put_item(entry.table_name, entry.attributes)


class _Untracked(list[Any]):
    """An `instances_tracked` that keeps nothing."""

    def append(self, _instance: Any) -> None:
        return None


def install() -> Callable[[], None]:
    """Patch moto's DynamoDB backend in this process; returns the undo."""
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        saved = _save(self, transact_items)
        try:
            with _tables_not_copied():
                original(self, transact_items)
        except Exception:
            _restore(self, saved)
            raise

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    dynamodb_models.copy = _COPY  # type: ignore[attr-defined,assignment]
    models = list(model_data["dynamodb"].values())
    trackers = {model: model.instances_tracked for model in models}  # type: ignore[attr-defined]
    for model in models:
        model.instances_tracked = _Untracked()  # type: ignore[attr-defined]

    def undo() -> None:
        DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]
        dynamodb_models.copy = _copy  # type: ignore[attr-defined]
        for model, tracker in trackers.items():
            model.instances_tracked = tracker  # type: ignore[attr-defined]

    return undo
