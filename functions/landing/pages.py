"""Rendering the recipient pages: Jinja2 templates with autoescape, one environment per
language with its gettext catalog, the security headers every page carries, the
stylesheet, and the version of the wording each page shows.

Every landing response carries the same security headers: no caching (the token is in
the URL), no referrer, no framing, and a Content-Security-Policy that allows no
script at all and styles only from this origin.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from aws_lambda_powertools.event_handler import Response

from consentry.consent.links import ASSETS_PATH
from landing.i18n import NAMES, SUPPORTED, translations

if TYPE_CHECKING:
    from jinja2 import Environment, FileSystemLoader

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
HSTS = {"Strict-Transport-Security": "max-age=31536000; includeSubDomains"}
"""Sent with every answer that came over HTTPS (API Gateway's are; the local stack's
plain HTTP ones are not, and a browser ignores the header there anyway)."""
_HTML = "text/html; charset=utf-8"
_HERE = Path(__file__).resolve().parent
_TEMPLATES = _HERE / "templates"
_STATIC = _HERE / "static"


@dataclass(frozen=True)
class Asset:
    body: str
    content_type: str
    version: str


class StaticFiles:
    """The files of one static/ folder (a stylesheet, an icon), each with a version for
    its URL; read once per execution environment."""

    TYPES: ClassVar[dict[str, str]] = {
        ".css": "text/css; charset=utf-8",
        ".svg": "image/svg+xml",
    }

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._read: dict[str, Asset] = {}
        """Only files found: a name from a URL that names none is not remembered."""

    def asset(self, name: str) -> Asset | None:
        if name not in self._read:
            found = self._load(name)
            if found is None:
                return None
            self._read[name] = found
        return self._read[name]

    def response(self, name: str, *, secure: bool) -> Response[str] | None:
        found = self.asset(name)
        if found is None:
            return None
        headers = {
            **SECURITY_HEADERS,
            **(HSTS if secure else {}),
            # Versioned URLs: a changed file gets a new URL, so caching it long is safe.
            "Cache-Control": "public, max-age=31536000, immutable",
        }
        return Response(200, found.content_type, found.body, headers=headers)

    def _load(self, name: str) -> Asset | None:
        path = self._directory / name
        if path.suffix not in self.TYPES or path.parent != self._directory or not path.is_file():
            return None
        body = path.read_text(encoding="utf-8")
        version = hashlib.sha256(body.encode()).hexdigest()[:12]
        return Asset(body=body, content_type=self.TYPES[path.suffix], version=version)


_FILES = StaticFiles(_STATIC)
asset = _FILES.asset
"""A file of static/ (the stylesheet, the icon) with a version for its URL."""
asset_response = _FILES.response


@lru_cache(maxsize=1)
def _loader() -> FileSystemLoader:
    # Jinja2 is imported by the first page rendered: the stylesheet and one-click need none.
    from jinja2 import FileSystemLoader  # noqa: PLC0415

    return FileSystemLoader(_TEMPLATES)


@lru_cache(maxsize=len(SUPPORTED))
def environment(language: str) -> Environment:
    """The templates in one language: autoescaped HTML, plain-text mail bodies."""
    from jinja2 import Environment, StrictUndefined, select_autoescape  # noqa: PLC0415

    env = Environment(
        loader=_loader(),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    return env


def _referenced(env: Environment, name: str) -> Iterator[str]:
    """`name` and every template it extends, includes or imports."""
    from jinja2 import meta  # noqa: PLC0415 (with the environment)

    seen: set[str] = set()
    pending = [name]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        yield current
        source = _loader().get_source(env, current)[0]
        pending.extend(t for t in meta.find_referenced_templates(env.parse(source)) if t)


@lru_cache(maxsize=256)
def wording_version(template: str, language: str) -> str:
    """The version of what a page says in a language: a hash of its templates and of
    the translations of their messages. The proof of consent records it."""
    env = environment(language)
    catalog = translations(language)
    digest = hashlib.sha256(language.encode())
    for name in sorted(_referenced(env, template)):
        source = _loader().get_source(env, name)[0]
        digest.update(b"\x00" + name.encode() + b"\x00" + source.encode())
        for _, _, message in env.extract_translations(source):  # type: ignore[attr-defined]
            for text in (message,) if isinstance(message, str) else message:
                if text:
                    digest.update(b"\x00" + catalog.gettext(text).encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Page:
    """Who a page is rendered for: its language, and where the page lives."""

    language: str
    prefix: str
    """The stage's path prefix (`/prod`), empty on a custom domain and locally."""
    path: str
    """The path of the page's GET form, without the prefix: the language switch's target."""
    secure: bool = True
    """Whether the request came over HTTPS (then the answer asks browsers to stay there)."""

    def url(self, path: str) -> str:
        """The page-relative URL of a path of this API (never one of another host)."""
        return self.prefix + "/" + path.lstrip("/")

    def switch_url(self, language: str) -> str:
        return f"{self.url(self.path)}?lang={language}"

    def asset_url(self, name: str) -> str:
        found = asset(name)
        version = f"?v={found.version}" if found else ""
        return f"{self.prefix}{ASSETS_PATH}/{name}{version}"

    def render(self, template: str, **context: Any) -> str:
        env = environment(self.language)
        return env.get_template(template).render(
            language=self.language,
            languages=[(code, NAMES[code]) for code in SUPPORTED],
            url=self.url,
            switch_url=self.switch_url,
            asset_url=self.asset_url,
            **context,
        )

    def respond(
        self, template: str, *, status: HTTPStatus = HTTPStatus.OK, **context: Any
    ) -> Response[str]:
        return Response(
            status_code=status.value,
            content_type=_HTML,
            body=self.render(template, **context),
            headers={**SECURITY_HEADERS, **(HSTS if self.secure else {})},
        )


def render_mail(language: str, name: str, context: Mapping[str, Any]) -> tuple[str, str, str]:
    """Subject, plain text and HTML of the mail `name` (mail/<name>.*) in a language."""
    env = environment(language)

    def render(suffix: str) -> str:
        return env.get_template(f"mail/{name}.{suffix}").render(language=language, **context)

    return render("subject.txt").strip(), render("txt"), render("html")


def error(page: Page, status: HTTPStatus, kind: str, *, detail: str | None = None) -> Response[str]:
    """A friendly error page; `kind` picks its wording (see templates/error.html)."""
    return page.respond("error.html", status=status, kind=kind, detail=detail)
