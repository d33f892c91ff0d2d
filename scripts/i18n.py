"""Update the landing pages' gettext catalogs from their templates, and compile them.

    python scripts/i18n.py           extract the messages, update every .po, compile the .mo
    python scripts/i18n.py --check   exit 1 when a .po misses or leaves a message
                                     untranslated, or a committed .mo differs from its .po

Babel (a development dependency) extracts and compiles; the Lambda package carries
the compiled .mo files, which the standard library's gettext reads. Translators edit
`functions/landing/locales/<lang>/LC_MESSAGES/messages.po`, then run this script.
"""

from __future__ import annotations

import argparse
import gettext
import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LANDING = ROOT / "functions" / "landing"
TEMPLATES = LANDING / "templates"
LOCALES = LANDING / "locales"
DOMAIN = "messages"
LANGUAGES = ("nl", "fr", "de")
"""Catalogs to keep; English is the source language and has none."""
_JINJA = "jinja2.ext:babel_extract"
_OPTIONS = {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true", "trimmed": "false"}


def extract() -> Catalog:
    """Every message of the templates (pages and mails)."""
    template = Catalog(project="consentry", fuzzy=False)
    method_map = [("**.html", _JINJA), ("**.txt", _JINJA)]
    options_map = {"**.html": _OPTIONS, "**.txt": _OPTIONS}
    for filename, lineno, message, comments, context in extract_from_dir(
        str(TEMPLATES), method_map, options_map, keywords=DEFAULT_KEYWORDS
    ):
        template.add(
            message,
            None,
            [(f"templates/{filename}", lineno)],
            auto_comments=comments,
            context=context,
        )
    return template


def po_path(language: str) -> Path:
    return LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(language: str) -> Catalog:
    path = po_path(language)
    if not path.exists():
        return Catalog(
            locale=language,
            project="consentry",
            header_comment=f"# Consentry recipient pages, {language} translations.\n#",
            fuzzy=False,
        )
    with path.open("rb") as file:
        return read_po(file, locale=language)


def problems(template: Catalog, catalog: Catalog) -> list[str]:
    """Messages the catalog misses, leaves untranslated or marks fuzzy, and format errors."""
    found = []
    for message in template:
        if not message.id:
            continue
        own = catalog.get(message.id, message.context)
        if own is None:
            found.append(f"missing: {message.id!r}")
        elif not own.string or own.fuzzy:
            found.append(f"untranslated: {message.id!r}")
    for message, errors in catalog.check():
        found.extend(f"format: {message.id!r}: {error}" for error in errors)
    return found


def compiled(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    return buffer.getvalue()


def stale_mo(language: str, catalog: Catalog) -> bool:
    """True when the committed .mo does not hold exactly the .po's translations."""
    path = po_path(language).with_suffix(".mo")
    if not path.exists():
        return True
    with path.open("rb") as file:
        committed = gettext.GNUTranslations(file)._catalog  # type: ignore[attr-defined]
    fresh = gettext.GNUTranslations(io.BytesIO(compiled(catalog)))._catalog  # type: ignore[attr-defined]
    return bool(committed != fresh)


def update() -> None:
    template = extract()
    for language in LANGUAGES:
        catalog = read(language)
        template.creation_date = catalog.creation_date  # no churn when nothing changed
        catalog.update(template, no_fuzzy_matching=True)
        path = po_path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as file:
            write_po(file, catalog, width=100, ignore_obsolete=True, sort_output=True)
        path.with_suffix(".mo").write_bytes(compiled(read(language)))
        missing = problems(template, read(language))
        print(f"{path.relative_to(ROOT)}: {len(template)} messages, {len(missing)} to translate")


def check() -> int:
    template = extract()
    status = 0
    for language in LANGUAGES:
        catalog = read(language)
        for problem in problems(template, catalog):
            print(f"{language}: {problem}", file=sys.stderr)
            status = 1
        if stale_mo(language, catalog):
            print(f"{language}: messages.mo is stale: run `make messages`", file=sys.stderr)
            status = 1
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail on a stale catalog")
    if parser.parse_args(argv).check:
        return check()
    update()
    return 0


if __name__ == "__main__":
    sys.exit(main())
