"""Which language a visitor gets."""

import pytest

from landing.i18n import from_accept_language, negotiate, supported, translations


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("nl-BE,nl;q=0.9,en;q=0.8", "nl"),
        ("es, de;q=0.5, fr;q=0.6", "fr"),
        ("de;q=0, en;q=0.1", "en"),
        ("*", None),
        ("ja, zh", None),
        ("fr;q=not-a-number, de", "de"),
        ("", None),
        (None, None),
    ],
)
def test_the_most_preferred_supported_language_of_the_browser(
    header: str | None, language: str | None
) -> None:
    assert from_accept_language(header) == language


def test_the_switch_comes_first_then_the_profile_then_the_browser() -> None:
    assert negotiate(chosen="de", profile="nl", accept_language="fr") == "de"
    assert negotiate(chosen=None, profile="nl-BE", accept_language="fr") == "nl"
    assert negotiate(chosen="xx", profile="es", accept_language="fr-CA") == "fr"
    assert negotiate(chosen=None, profile=None, accept_language=None) == "en"


def test_tags_are_read_in_either_spelling() -> None:
    assert [supported(t) for t in ("fr_CA", "DE-at", "en", "pt")] == ["fr", "de", "en", None]


def test_each_catalog_translates_a_page_title() -> None:
    assert translations("nl").gettext("Your preferences") == "Uw voorkeuren"
    assert translations("de").gettext("Your preferences") == "Ihre Einstellungen"
    assert translations("en").gettext("Your preferences") == "Your preferences"
