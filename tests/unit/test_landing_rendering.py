"""Rendering the pages: escaping, wording versions, assets, URLs."""

from consentry.consent.rules import Scope
from consentry.core.types import Channel, ProfileId
from landing.pages import Page, asset, wording_version
from landing.preferences import ChannelChoice, Preferences


def test_the_wording_version_is_stable_and_differs_by_page_and_language() -> None:
    assert wording_version("preferences.html", "en") == wording_version("preferences.html", "en")
    assert wording_version("preferences.html", "en") != wording_version("preferences.html", "nl")
    assert wording_version("preferences.html", "en") != wording_version("never.html", "en")


def test_what_comes_from_data_is_escaped() -> None:
    page = Page(language="en", prefix="/prod", path="/p/t")
    view = Preferences(
        profile_id=ProfileId("p"),
        locale=None,
        stop_all=False,
        channels=(ChannelChoice(channel=Channel.EMAIL, allowed=True, address="<b>x</b>"),),
        services=(),
        addresses=(),
    )
    form = {"csrf": "c", "wording": "w", "lang": "en"}

    html = page.render("preferences.html", view=view, token="t", form=form)

    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert "<b>x</b>" not in html


def test_urls_stay_on_this_api() -> None:
    page = Page(language="en", prefix="", path="//evil.example/x")

    assert page.switch_url("de") == "/evil.example/x?lang=de"
    assert Page(language="en", prefix="/prod", path="/p/t").url("/p/t/never") == "/prod/p/t/never"


def test_only_the_files_of_static_are_served() -> None:
    css, icon = asset("site.css"), asset("icon.svg")
    assert css is not None
    assert icon is not None
    assert css.content_type.startswith("text/css")
    assert icon.content_type == "image/svg+xml"
    assert asset("..") is None
    assert asset("handler.py") is None
    assert asset("nothing.css") is None


def test_an_unsubscribe_page_names_the_links_channel() -> None:
    page = Page(language="fr", prefix="", path="/u/t")
    form = {"csrf": "c", "wording": "w", "lang": "fr"}

    html = page.render(
        "unsubscribe.html",
        scope=Scope.channel(Channel.SMS),
        service_label=None,
        action_url="/p/t/unsubscribe",
        token="t",
        form=form,
    )

    assert "Uniquement\u00a0: SMS" in html
