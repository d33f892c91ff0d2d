"""Route modules a resolver includes at the first request for one of their paths."""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver


class RoutersOnDemand:
    """A resolver's route modules by the section of the path they serve (the first
    segment under `root`, "" for `root` itself), each module holding a `router`; a
    section served by several names them in the order they are to be included.

    A module is imported and its router included by the first request for its section,
    so a request loads its own routes with their logic and models, not every route's.
    Sections are disjoint, so the order sections come in decides nothing; a section's
    own modules are included in the order given, which decides between their routes
    as Powertools does (the first added of two that match)."""

    def __init__(
        self, app: ApiGatewayResolver, root: str, sections: Mapping[str, str | tuple[str, ...]]
    ) -> None:
        self._app = app
        self._root = root
        self._sections = {
            section: (modules,) if isinstance(modules, str) else modules
            for section, modules in sections.items()
        }
        self._included: set[str] = set()

    def include_for(self, path: str) -> None:
        """Include the router that serves `path`, if one does and it is not yet."""
        if path != self._root and not path.startswith(f"{self._root}/"):
            return
        section = path[len(self._root) :].lstrip("/").partition("/")[0]
        for module in self._sections.get(section, ()):
            self._include(module)

    def section_paths(self) -> dict[str, str]:
        """A path in each section, by section: what `include_for` takes to include it."""
        return {section: f"{self._root}/{section}" for section in self._sections}

    def include_all(self) -> None:
        """Include every router (what the whole API's OpenAPI document describes)."""
        for modules in self._sections.values():
            for module in modules:
                self._include(module)

    def _include(self, module: str) -> None:
        if module not in self._included:
            self._app.include_router(importlib.import_module(module).router)
            self._included.add(module)
