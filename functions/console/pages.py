"""Rendering the console's pages: Jinja2 templates with autoescape, the same security
headers as the recipient pages (no script at all, styles only from this origin, no
framing, no caching, no referrer), and the stylesheet, served by the console itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.shared.cookies import Cookie

from landing.pages import HSTS, SECURITY_HEADERS, StaticFiles

if TYPE_CHECKING:
    from jinja2 import Environment

    from console.session import Session

CONSOLE = "/console"
ASSETS = f"{CONSOLE}/assets"
HTML = "text/html; charset=utf-8"
_HERE = Path(__file__).resolve().parent
_STATIC = _HERE / "static"


_FILES = StaticFiles(_STATIC)
asset = _FILES.asset
asset_response = _FILES.response


@lru_cache(maxsize=1)
def environment() -> Environment:
    # Imported by the first page: the stylesheet needs none.
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape  # noqa: PLC0415

    return Environment(
        loader=FileSystemLoader(_HERE / "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )


@dataclass(frozen=True)
class Page:
    """Where a page lives and who it is shown to."""

    prefix: str
    """The stage's path prefix (`/prod`), empty on a custom domain and locally."""
    secure: bool
    session: Session | None = None
    csrf: str | None = None
    """This session's CSRF token, for the page's forms."""
    cookies: list[Cookie] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.prefix + "/" + path.lstrip("/")

    @property
    def cookie_path(self) -> str:
        return self.url(CONSOLE)

    def asset_url(self, name: str) -> str:
        found = asset(name)
        return self.url(f"{ASSETS}/{name}") + (f"?v={found.version}" if found else "")

    def headers(self) -> dict[str, str]:
        return {**SECURITY_HEADERS, **(HSTS if self.secure else {})}

    def respond(
        self, template: str, *, status: HTTPStatus = HTTPStatus.OK, **context: Any
    ) -> Response[str]:
        body = (
            environment()
            .get_template(template)
            .render(
                url=self.url,
                asset_url=self.asset_url,
                session=self.session,
                csrf=self.csrf,
                **context,
            )
        )
        return Response(status.value, HTML, body, headers=self.headers(), cookies=self.cookies)

    def redirect(self, path: str) -> Response[str]:
        """303 See Other: after a POST, the browser GETs the page that shows the result."""
        headers = {**self.headers(), "Location": self.url(path)}
        return Response(HTTPStatus.SEE_OTHER.value, HTML, "", headers=headers, cookies=self.cookies)

    def download(self, body: str, content_type: str, filename: str) -> Response[str]:
        headers = {**self.headers(), "Content-Disposition": f'attachment; filename="{filename}"'}
        return Response(HTTPStatus.OK.value, content_type, body, headers=headers)


def error(page: Page, status: HTTPStatus, kind: str, *, detail: str | None = None) -> Response[str]:
    """A friendly error page; `kind` picks its wording (templates/error.html)."""
    return page.respond("error.html", status=status, kind=kind, detail=detail)
