"""Every message of the landing templates is translated in every catalog, and the
compiled catalogs the Lambda package carries are those of the .po files."""

import importlib.util
import re

import pytest

from landing.i18n import SUPPORTED, translations
from landing.pages import environment
from tests.conftest import ROOT

spec = importlib.util.spec_from_file_location("i18n_script", ROOT / "scripts" / "i18n.py")
assert spec is not None
assert spec.loader is not None
i18n = importlib.util.module_from_spec(spec)
spec.loader.exec_module(i18n)
TEMPLATE = i18n.extract()
LANGUAGES = [language for language in SUPPORTED if language != "en"]


def test_every_supported_language_but_the_source_has_a_catalog() -> None:
    assert set(i18n.LANGUAGES) == set(LANGUAGES)
    assert len(TEMPLATE) > 50


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_catalog_misses_or_leaves_a_message_untranslated(language: str) -> None:
    assert i18n.problems(TEMPLATE, i18n.read(language)) == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalog_is_the_po_file_compiled(language: str) -> None:
    assert not i18n.stale_mo(language, i18n.read(language))


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_missing_entry_is_reported(language: str) -> None:
    catalog = i18n.read(language)
    first = next(message for message in catalog if message.id)
    catalog.delete(first.id)

    assert i18n.problems(TEMPLATE, catalog) == [f"missing: {first.id!r}"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_translation_keeps_its_placeholders(language: str) -> None:
    catalog = translations(language)
    for message in TEMPLATE:
        if not message.id:
            continue
        names = set(re.findall(r"%\((\w+)\)s", message.id))
        assert set(re.findall(r"%\((\w+)\)s", catalog.gettext(message.id))) == names


def test_every_template_compiles_in_every_language() -> None:
    for language in SUPPORTED:
        env = environment(language)
        for name in env.list_templates():
            env.get_template(name)
