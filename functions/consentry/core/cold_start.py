"""A handler's init: the cyclic garbage collector held while the handler's modules load,
and two of Powertools' package inits left out.

**The collector.** Importing a handler makes 75,000-95,000 objects the collector tracks
(modules, classes, functions, compiled patterns, models), which live as long as the
process. The collector, counting allocations, ran over a hundred collections during
the import (8-10 of the middle generation, and a full one for the web functions) and
freed next to nothing: 15-35 ms of a cold start (bench.coldstart). So every handler
module imports this module before anything else, which pauses the collector, and calls
`loaded()` at its end, which sets those objects aside and starts it again.

**Package inits.** `aws_lambda_powertools.event_handler/__init__.py` imports every
resolver Powertools has (AppSync's loads asyncio, Bedrock's their event classes), and
`aws_lambda_powertools.utilities.data_classes/__init__.py` every event source's class
(forty modules); Python runs a package's `__init__` before any module in it, so the
REST resolver, or one event class, loads them all: 20-25 ms of a web function's cold
start, for classes no handler of ours uses. From here on, those two packages load
without running their `__init__`; each name it would have imported is imported at its
first use, from the module the `__init__` names (`_InitSkipped`, `_NamesOnDemand`), so every import
of them still works as Powertools documents it.

`tests/contract/test_cold_start.py` checks that each handler of the template imports
this module first and calls `loaded()`: no collection during its import or due right
after it, the collector on, and none of the resolvers and event classes it does not
use loaded.
"""

import gc

_WAS_ENABLED = gc.isenabled()
gc.disable()  # before anything else, this module's own imports too

import importlib  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from importlib.abc import Loader, MetaPathFinder  # noqa: E402
from importlib.machinery import ModuleSpec, PathFinder  # noqa: E402
from types import ModuleType  # noqa: E402
from typing import Any  # noqa: E402

NAMES_ON_DEMAND = frozenset(
    {"aws_lambda_powertools.event_handler", "aws_lambda_powertools.utilities.data_classes"}
)
"""Packages whose `__init__` only imports names from their modules, loaded without it."""


def loaded() -> None:
    """The handler's modules are in: set what they made aside, then collect as before.

    Paused, the collector still counts allocations, so the first one after `enable`
    would start a collection of everything the import made, in the first request.
    `gc.freeze` moves those objects out of the collector's generations for good
    (they live as long as the process anyway) and starts the count again."""
    gc.freeze()
    if _WAS_ENABLED:
        gc.enable()


class _InitSkipped(MetaPathFinder):
    """Finds a package of NAMES_ON_DEMAND where the path finder would, to be loaded by
    `_NamesOnDemand` instead of its `__init__`."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in NAMES_ON_DEMAND:
            return None
        found = PathFinder.find_spec(fullname, path, target)
        if found is None or found.origin is None or found.submodule_search_locations is None:
            return None
        spec = ModuleSpec(fullname, _NamesOnDemand(found.origin), origin=found.origin)
        spec.submodule_search_locations = found.submodule_search_locations
        spec.has_location = True
        return spec


class _NamesOnDemand(Loader):
    """Loads a package without its `__init__`: the module has the package's `__path__`
    (so its modules import as before) and a module `__getattr__` (PEP 562) that imports
    a name at its first use from where the `__init__`'s `from ... import` statements
    say it lives. Any other name runs the whole `__init__` once, as the package would
    have run it: nothing is missing, only later."""

    def __init__(self, init: str) -> None:
        self._init = init

    def exec_module(self, module: ModuleType) -> None:
        import ast  # noqa: PLC0415 (loaded by then: pydantic and inspect use it)

        with open(self._init, "rb") as init:
            source = init.read()
        sources: dict[str, tuple[str, str]] = {}
        for statement in ast.parse(source, self._init).body:
            if isinstance(statement, ast.ImportFrom) and statement.module:
                relative = "." * statement.level + statement.module
                for alias in statement.names:
                    sources[alias.asname or alias.name] = (relative, alias.name)
        package = module.__name__
        whole_init: list[bool] = []

        def on_demand(name: str) -> Any:
            if name in sources:
                relative, original = sources[name]
                value = getattr(importlib.import_module(relative, package), original)
            elif PathFinder.find_spec(f"{package}.{name}", module.__path__) is not None:
                value = importlib.import_module(f"{package}.{name}")  # a module of it
            else:
                if whole_init or name.startswith("__"):
                    raise AttributeError(f"module {package!r} has no attribute {name!r}")
                whole_init.append(True)
                exec(compile(source, self._init, "exec"), module.__dict__)  # noqa: S102
                if name not in module.__dict__:
                    raise AttributeError(f"module {package!r} has no attribute {name!r}")
                value = module.__dict__[name]
            setattr(module, name, value)
            return value

        module.__dict__["__getattr__"] = on_demand
        module.__dict__["__all__"] = list(sources)


if not any(isinstance(finder, _InitSkipped) for finder in sys.meta_path):
    sys.meta_path.insert(0, _InitSkipped())
