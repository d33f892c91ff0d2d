"""/console/imports: the bulk imports with their progress, and each one's report.

GET /console/imports                 the newest imports, with how far each has got
GET /console/imports/<importId>      one import, with the first rows of its report
                                     (`row,outcome,reason`; a bounded, ranged read)

On /v1's imports logic: nothing here starts or changes an import.
"""

from __future__ import annotations

import re

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from consent.logic import imports
from consentry.core.errors import NotFoundError
from consentry.core.types import IDENTIFIER_PATTERN
from console.pages import CONSOLE
from console.web import visit

router = APIGatewayRouter()
IMPORTS = f"{CONSOLE}/imports"
LISTED = 50
REPORT_BYTES = 64 * 1024
"""What a page reads of a report: its first rows, some thousand, whatever its size."""
_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)


def _known(import_id: str) -> str:
    """A path's import id; a path that cannot name an import names none (404)."""
    if len(import_id) > 64 or not _IDENTIFIER.fullmatch(import_id):
        raise NotFoundError("import", import_id[:64])
    return import_id


@router.get(IMPORTS)
def list_imports() -> Response[str]:
    page = visit(router).signed_in()
    return page.respond("imports.html", imports=imports.latest(LISTED))


@router.get(f"{IMPORTS}/<importId>")
def one_import(importId: str) -> Response[str]:
    here = visit(router)
    page = here.signed_in()
    import_id = _known(importId)
    found = imports.get(import_id)
    return page.respond(
        "import.html",
        found=found,
        report=imports.report_head(found, here.wiring.bucket, REPORT_BYTES),
    )
