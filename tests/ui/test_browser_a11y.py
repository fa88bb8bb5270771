"""axe-core (WCAG 2.2 A/AA rules) on every screen in every language, no button whose text overflows, and no English
catalog text on a German screen."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import Page

from kiosk_ui.i18n import LANGUAGES, Catalogs
from tests.ui.gallery import citizen_screens, staff_screens
from tests.ui.rig import Kiosk

AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
    "resultTypes": ["violations"],
}
OVERFLOW_JS = """() => [...document.querySelectorAll('button')]
  .filter(b => b.offsetParent !== null && (b.scrollWidth > b.clientWidth + 1 || b.scrollHeight > b.clientHeight + 1))
  .map(b => b.textContent.trim())"""


def check(page: Page, axe: Axe, where: str) -> list[str]:
    problems = []
    result = axe.run(page, options=AXE_OPTIONS)
    for v in result.response["violations"]:
        targets = [n["target"] for n in v["nodes"]][:3]
        problems.append(f"{where}: {v['id']} ({v['impact']}) {targets}")
    for text in page.evaluate(OVERFLOW_JS):
        problems.append(f"{where}: button text overflows: {text!r}")
    return problems


def _english_only() -> list[str]:
    """English catalog texts with no placeholder that German says differently (the words a German page must not
    show)."""
    c = Catalogs.load()
    return sorted(
        {c.raw("en", k) for k in c.keys("en") if "{" not in c.raw("en", k) and c.raw("en", k) != c.raw("de", k)}
    )


ENGLISH = _english_only()


def english_left(page: Page, where: str) -> list[str]:
    text = page.evaluate("() => document.body.innerText")
    return [f"{where}: English text on a German screen: {e!r}" for e in ENGLISH if len(e) >= 4 and e in text]


@pytest.mark.parametrize("lang", [lang.code for lang in LANGUAGES])
def test_every_screen_passes_axe_and_nothing_overflows(kiosk: Kiosk, page: Page, lang: str) -> None:
    axe = Axe()
    c = kiosk.station.announce("ORDER-A11Y")
    kiosk.station.load(kiosk.station.staff_session(), c)
    problems: list[str] = []
    for name in citizen_screens(page, kiosk, lang):
        problems += check(page, axe, f"{lang}/{name}")
        if lang == "de":
            problems += english_left(page, f"{lang}/{name}")
    for name in staff_screens(page, kiosk, lang):
        problems += check(page, axe, f"{lang}/{name}")
        if lang == "de":
            problems += english_left(page, f"{lang}/{name}")
    assert not problems, "\n".join(problems)


def test_sim_panel_passes_axe(kiosk: Kiosk, page: Page) -> None:
    page.goto(kiosk.url + "/sim")
    page.wait_for_selector("#sim-table tbody tr")
    assert not check(page, Axe(), "sim")


def test_the_english_words_looked_for_are_the_catalogs() -> None:
    assert "Please close the door" in ENGLISH and "Your document is still in the compartment" in ENGLISH
    assert len(ENGLISH) > 100  # every text German says differently, not a hand-picked few
