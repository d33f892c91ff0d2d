"""The pages' languages: which one a visitor gets, and its gettext catalog.

Catalogs are compiled gettext files (`locales/<lang>/LC_MESSAGES/messages.mo`), read
with the standard library: Babel extracts and compiles them at development time and
is not part of the Lambda package. English is the source language and needs none.
"""

from __future__ import annotations

import gettext
from functools import lru_cache
from pathlib import Path

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "messages"
DEFAULT = "en"
SUPPORTED = ("en", "nl", "fr", "de")
NAMES = {"en": "English", "nl": "Nederlands", "fr": "Français", "de": "Deutsch"}
"""Each language's name in that language, as the switch shows it."""


def supported(tag: str | None) -> str | None:
    """The supported language of a tag such as `nl`, `nl-BE` or `fr_CA`, if any."""
    if not tag:
        return None
    primary = tag.strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in SUPPORTED else None


def from_accept_language(header: str | None) -> str | None:
    """The supported language the visitor's browser prefers most (RFC 9110 12.5.4)."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        language = supported(tag)
        if language and quality > 0:
            ranked.append((-quality, position, language))
    return min(ranked)[2] if ranked else None


def negotiate(*, chosen: str | None, profile: str | None, accept_language: str | None) -> str:
    """The visitor's own choice (the switch), else the profile's locale, else the
    browser's languages, else English."""
    return (
        supported(chosen) or supported(profile) or from_accept_language(accept_language) or DEFAULT
    )


@lru_cache(maxsize=len(SUPPORTED))
def translations(language: str) -> gettext.NullTranslations:
    """The catalog of a supported language; English reads the source strings."""
    if language == DEFAULT:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, localedir=LOCALES_DIR, languages=[language])
