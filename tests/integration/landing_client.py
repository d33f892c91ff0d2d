"""A small form-filling client for the landing handler in-process: it reads the pages'
forms and links the way a browser would, and posts them back."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode, urlsplit

from tests.integration.conftest import lambda_context, proxy_event

STAGE_PREFIX = "/prod"
"""The sample events come to API Gateway's own domain, stage `prod`."""


@dataclass
class Control:
    name: str
    type: str
    value: str
    checked: bool


@dataclass
class Form:
    action: str
    method: str
    controls: list[Control] = field(default_factory=list)

    def value(self, name: str) -> str | None:
        return next((c.value for c in self.controls if c.name == name), None)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.links: list[str] = []
        self.stylesheets: list[str] = []
        self.lang: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "html":
            self.lang = attributes.get("lang")
        elif tag == "form":
            self.forms.append(Form(attributes.get("action", ""), attributes.get("method", "get")))
        elif tag == "input" and self.forms:
            self.forms[-1].controls.append(
                Control(
                    name=attributes.get("name", ""),
                    type=attributes.get("type", "text"),
                    value=attributes.get("value", ""),
                    checked="checked" in attributes,
                )
            )
        elif tag == "a" and "href" in attributes:
            self.links.append(attributes["href"])
        elif tag == "link" and attributes.get("rel") == "stylesheet":
            self.stylesheets.append(attributes["href"])


@dataclass
class Page:
    status: int
    headers: dict[str, str]
    body: str
    forms: list[Form]
    links: list[str]
    stylesheets: list[str]
    lang: str | None

    @property
    def text(self) -> str:
        """The visible text, tags removed and whitespace folded."""
        return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", self.body)).strip()

    def form(self, action_part: str = "") -> Form:
        return next(f for f in self.forms if action_part in f.action)


def _page(response: dict[str, Any]) -> Page:
    reader = _Reader()
    reader.feed(response.get("body") or "")
    headers = {k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items()}
    headers |= response.get("headers") or {}
    return Page(
        status=response["statusCode"],
        headers=headers,
        body=response.get("body") or "",
        forms=reader.forms,
        links=reader.links,
        stylesheets=reader.stylesheets,
        lang=reader.lang,
    )


def path_of(url: str) -> str:
    """The handler's path of a page URL (the stage prefix and query removed)."""
    split = urlsplit(url)
    return split.path.removeprefix(STAGE_PREFIX) + (f"?{split.query}" if split.query else "")


class Client:
    def __init__(
        self, *, accept_language: str | None = None, source_ip: str = "203.0.113.7"
    ) -> None:
        self.accept_language = accept_language
        self.source_ip = source_ip

    def request(self, method: str, path: str, body: str | None = None) -> Page:
        from landing.handler import lambda_handler

        path, _, query = path.partition("?")
        event = proxy_event(
            "one_click_post",
            path=path,
            method=method,
            body=body,
            content_type="application/x-www-form-urlencoded",
        )
        event["resource"] = "/" + path.split("/")[1] + "/{proxy+}"
        event["headers"]["User-Agent"] = "Mozilla/5.0 (landing tests)"
        event["requestContext"]["identity"]["sourceIp"] = self.source_ip
        if self.accept_language:
            event["headers"]["Accept-Language"] = self.accept_language
            event["multiValueHeaders"]["Accept-Language"] = [self.accept_language]
        if query:
            pairs = dict(part.split("=", 1) for part in query.split("&"))
            event["queryStringParameters"] = pairs
            event["multiValueQueryStringParameters"] = {k: [v] for k, v in pairs.items()}
        return _page(lambda_handler(event, lambda_context("landing")))

    def get(self, path: str) -> Page:
        return self.request("GET", path)

    def head(self, path: str) -> Page:
        return self.request("HEAD", path)

    def submit(
        self,
        form: Form,
        *,
        check: dict[str, set[str]] | None = None,
        fill: dict[str, str] | None = None,
        radio: dict[str, str] | None = None,
    ) -> Page:
        """Post the form as a browser would: hidden and filled fields, ticked boxes.

        `check` gives, per checkbox name, the values to leave ticked (the others are
        unticked); `radio` the value to pick; `fill` the text fields' values.
        """
        fields: list[tuple[str, str]] = []
        for control in form.controls:
            if control.type == "checkbox":
                ticked = (
                    control.value in check[control.name]
                    if check and control.name in check
                    else control.checked
                )
                if ticked:
                    fields.append((control.name, control.value))
            elif control.type == "radio":
                chosen = radio.get(control.name) if radio else None
                if (chosen == control.value) if chosen else control.checked:
                    fields.append((control.name, control.value))
            elif control.name in (fill or {}):
                fields.append((control.name, (fill or {})[control.name]))
            else:
                fields.append((control.name, control.value))
        return self.request("POST", path_of(form.action), urlencode(fields))
