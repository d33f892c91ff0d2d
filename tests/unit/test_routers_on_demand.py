"""Routers included by the first request for their section of the path, once each."""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any, cast

import pytest
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver

from consentry.core.routing import RoutersOnDemand

SECTIONS = {"": "routes_home", "items": "routes_items", "search": "routes_items"}


class FakeResolver:
    def __init__(self) -> None:
        self.included: list[object] = []

    def include_router(self, router: object) -> None:
        self.included.append(router)


@pytest.fixture
def routers(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """Each fake route module's router, the modules put where importing finds them."""
    made: dict[str, object] = {}
    for name in set(SECTIONS.values()):
        module = ModuleType(name)
        module.router = made[name] = object()  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, name, module)
    return made


def on_demand(app: FakeResolver) -> RoutersOnDemand:
    return RoutersOnDemand(cast(ApiGatewayResolver, app), "/app", SECTIONS)


@pytest.mark.parametrize(
    ("path", "module"),
    [
        ("/app", "routes_home"),
        ("/app/", "routes_home"),
        ("/app/items", "routes_items"),
        ("/app/items/42/edit", "routes_items"),
        ("/app/search", "routes_items"),
    ],
)
def test_a_request_includes_the_router_of_its_section(
    routers: dict[str, Any], path: str, module: str
) -> None:
    app = FakeResolver()

    on_demand(app).include_for(path)

    assert app.included == [routers[module]]


@pytest.mark.parametrize("path", ["/elsewhere", "/application", "/app/unknown/1", ""])
def test_a_path_outside_every_section_includes_nothing(routers: dict[str, Any], path: str) -> None:
    app = FakeResolver()

    on_demand(app).include_for(path)

    assert app.included == []


def test_a_router_is_included_once(routers: dict[str, Any]) -> None:
    app = FakeResolver()
    lazy = on_demand(app)

    lazy.include_for("/app/items/1")
    lazy.include_for("/app/search")
    lazy.include_all()

    assert app.included == [routers["routes_items"], routers["routes_home"]]
