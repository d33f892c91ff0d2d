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
first use, from the module the `__init__` names (`_InitSkipped`, `_NamesOnDemand`), so
every import of them still works as Powertools documents it.

`tests/contract/test_cold_start.py` checks that each handler of the template imports
this module first and calls `loaded()`: no collection during its import or due right
after it, the collector on, and none of the resolvers and event classes it does not
use loaded.
"""

import gc

_WAS_ENABLED = gc.isenabled()
gc.disable()  # before anything else, this module's own imports too

import ast  # noqa: E402
import importlib  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from importlib.abc import MetaPathFinder  # noqa: E402
from importlib.machinery import ModuleSpec, PathFinder, SourceFileLoader  # noqa: E402
from types import ModuleType  # noqa: E402
from typing import Any, cast  # noqa: E402

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
        spec = ModuleSpec(fullname, _NamesOnDemand(fullname, found.origin), origin=found.origin)
        spec.submodule_search_locations = found.submodule_search_locations
        spec.cached = found.cached
        spec.has_location = True
        return spec


class _NamesOnDemand(SourceFileLoader):
    """Loads a package from its `__init__.py` without running it: the module has the
    package's `__path__`, docstring and `__all__`, and the names the `__init__`'s
    `from ... import` statements bind are imported at their first use, from where
    those statements say (`_Package`). Should the `__init__` do more than import names
    and declare `__all__`, any other name runs it whole, once, as the package would
    have; an unknown name is an AttributeError, as before. As a source file loader it
    answers for the package's files (`importlib.resources`) as the path finder's
    would."""

    def exec_module(self, module: ModuleType) -> None:
        self.source = self.get_data(self.path)
        tree = ast.parse(self.source, self.path)
        self.names: dict[str, tuple[str, str]] = {}
        """What each name the `__init__` imports is: (module, name in it)."""
        self.defines_more = False
        declared: list[str] | None = None
        for statement in tree.body:
            if isinstance(statement, ast.ImportFrom) and statement.module:
                relative = "." * statement.level + statement.module
                for alias in statement.names:
                    self.names[alias.asname or alias.name] = (relative, alias.name)
            elif _declares_all(statement):
                try:
                    declared = list(ast.literal_eval(cast(ast.Assign, statement).value))
                except ValueError:  # built, not written out: the `__init__` must run
                    self.defines_more = True
            elif not _is_docstring(statement):
                self.defines_more = True
        self.whole_init = "not run"
        self.lock = threading.RLock()
        module.__doc__ = ast.get_docstring(tree, clean=False)
        module.__all__ = declared if declared is not None else list(self.names)  # type: ignore[attr-defined]
        module.__class__ = _Package

    def resolve(self, package: ModuleType, name: str) -> Any:
        """`name` of `package`, at its first use."""
        if name in self.names:
            relative, original = self.names[name]
            value = getattr(importlib.import_module(relative, package.__name__), original)
        elif PathFinder.find_spec(f"{package.__name__}.{name}", package.__path__) is not None:
            value = importlib.import_module(f"{package.__name__}.{name}")  # a module of it
        elif self.defines_more and not name.startswith("__"):
            return self._from_whole_init(package, name)
        else:
            raise AttributeError(f"module {package.__name__!r} has no attribute {name!r}")
        ModuleType.__setattr__(package, name, value)
        return value

    def shadows(self, package: ModuleType, name: str) -> bool:
        """Whether the `__init__` binds `name` to what the package's module `name`
        holds (data classes' `event_source`, a decorator in a module of that name), not
        to the module, which the import system binds when it loads it."""
        relative, _ = self.names.get(name, ("", ""))
        return relative in (f".{name}", f"{package.__name__}.{name}")

    def _from_whole_init(self, package: ModuleType, name: str) -> Any:
        with self.lock:  # one thread runs it; another waits for the names it defines
            if self.whole_init == "not run":
                self.whole_init = "running"
                try:
                    exec(compile(self.source, self.path, "exec"), package.__dict__)  # noqa: S102
                except BaseException:
                    self.whole_init = "not run"
                    raise
                self.whole_init = "ran"
        # While it runs, this thread sees what it has defined so far, as in any package.
        if name not in package.__dict__:
            raise AttributeError(f"module {package.__name__!r} has no attribute {name!r}")
        return package.__dict__[name]


class _Package(ModuleType):
    """A package loaded by `_NamesOnDemand`: a name not yet bound is its loader's to
    find (PEP 562's `__getattr__`, as a method), and `dir()` lists them all."""

    def _loader(self) -> _NamesOnDemand:
        return cast("_NamesOnDemand", self.__dict__["__spec__"].loader)

    def __getattr__(self, name: str) -> Any:
        if name == "__spec__":
            raise AttributeError(name)
        return self._loader().resolve(self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, ModuleType) and self._loader().shadows(self, name):
            return  # the import system binding the module: the name keeps its meaning
        super().__setattr__(name, value)

    def __dir__(self) -> list[str]:
        return sorted(set(self.__dict__) | set(self._loader().names))


def _declares_all(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Assign)
        and [getattr(target, "id", None) for target in statement.targets] == ["__all__"]
        and isinstance(statement.value, (ast.List, ast.Tuple))
    )


def _is_docstring(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)


if not any(isinstance(finder, _InitSkipped) for finder in sys.meta_path):
    sys.meta_path.insert(0, _InitSkipped())
