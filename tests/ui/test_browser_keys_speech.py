"""A blind citizen's visit in real Chromium: a QR pickup and a manual pickup by keyboard alone (no pointer, no
touch), in German and in Arabic, with the page asking for speech of every screen it comes to, in that language."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from kiosk_ui.i18n import Catalogs
from locker.config import KeyConfig, KeypadKey
from locker.model import OrderState
from tests.ui.rig import Kiosk

# Every call of an audio element's play(), recorded before the page's own script runs.
RECORD_PLAYS = """
window.__plays = [];
const realPlay = HTMLMediaElement.prototype.play;
HTMLMediaElement.prototype.play = function () {
  window.__plays.push(this.src);
  return realPlay.call(this);
};
"""
LANGUAGE_BUTTON = {"de": "Deutsch", "ar": "العربية"}


class Listener:
    """What the station said (its speaker, the real espeak-ng behind it) and what the page played."""

    def __init__(self, kiosk: Kiosk, page: Page, lang: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.kiosk, self.page, self.lang = kiosk, page, lang
        self.t = Catalogs.load()
        self.heard: list[tuple[str, str]] = []
        real = kiosk.ui.speaker.wav

        def wav(code: str, text: str) -> bytes:
            self.heard.append((code, text))
            return real(code, text)

        monkeypatch.setattr(kiosk.ui.speaker, "wav", wav)
        self.plays = 0
        self.said = 0

    def text(self, key: str, **params: object) -> str:
        return self.t.text(self.lang, key, **params)

    def step(self, title_key: str, *, keys_help: bool = False, **params: object) -> None:
        """The screen titled ``title_key`` is shown, the page played its speech, and the speech was of this screen,
        in this language (and began with the key help when the help key asked for it)."""
        title = self.text(title_key, **params)
        expect(self.page.locator("h1")).to_have_text(title)
        self.page.wait_for_function("n => window.__plays.length > n", arg=self.plays)
        plays: list[str] = self.page.evaluate("window.__plays")
        self.plays = len(plays)
        assert "/speech.wav?keys=" + ("1" if keys_help else "0") in plays[-1], plays[-1]
        # the audio element's request reaches the station a moment after play(); a screen passed through quickly
        # may have asked first, so look for this screen's among what was said since the last step
        deadline = time.monotonic() + 20
        while not (match := self._said(title)) and time.monotonic() < deadline:
            self.page.wait_for_timeout(25)
        assert match, f"no speech of {title!r} in {self.lang}; said since the last step: {self.heard[self.said :]}"
        code, spoken = match
        self.said = len(self.heard)
        assert code == self.lang, (code, spoken)
        if keys_help:
            assert spoken.startswith(self.text("speech.keys")), spoken

    def _said(self, title: str) -> tuple[str, str] | None:
        return next((h for h in reversed(self.heard[self.said :]) if title in h[1]), None)


def _choose_language(page: Page, lang: str) -> None:
    """Tab to the language's button and press it with the space bar: the keyboard alone."""
    for _ in range(30):
        page.keyboard.press("Tab")
        if (
            page.evaluate("document.activeElement && document.activeElement.textContent.trim()")
            == LANGUAGE_BUTTON[lang]
        ):
            page.keyboard.press(" ")
            expect(page.locator("html")).to_have_attribute("lang", lang)
            return
    raise AssertionError(f"no {LANGUAGE_BUTTON[lang]} button in the tab order")


@pytest.mark.parametrize("lang", ["de", "ar"])
def test_qr_and_manual_pickup_by_keyboard_alone_with_speech(
    kiosk: Kiosk, page: Page, lang: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    st = kiosk.station
    qr_order = st.announce(f"KEYS-QR-{lang.upper()}")
    n_qr = st.load(st.staff_session(), qr_order)
    manual_order = st.announce(f"KEYS-PIN-{lang.upper()}")
    n_manual = st.load(st.staff_session(), manual_order)
    page.add_init_script(RECORD_PLAYS)
    ear = Listener(kiosk, page, lang, monkeypatch)
    page.goto(kiosk.url + "/")
    _choose_language(page, lang)

    page.keyboard.press("+")  # the help key: speech on, the keys explained, then the screen
    ear.step("start.title", keys_help=True)

    # QR: the scanner reads the letter's code; the rest by keys
    assert page.request.post(f"{kiosk.url}/sim/api/scan", data={"text": qr_order.qr}).ok
    ear.step("confirm.title")
    page.keyboard.press("Enter")  # confirm receipt
    ear.step("open.title", n=n_qr)
    page.keyboard.press("Enter")  # next
    ear.step("close.title")
    assert page.request.post(f"{kiosk.url}/sim/api/doors/{n_qr}/item", data={"present": False}).ok
    assert page.request.post(f"{kiosk.url}/sim/api/doors/{n_qr}/close").ok
    ear.step("done.title")
    page.keyboard.press("Escape")  # start over
    ear.step("start.title")

    # manual: pickup number and PIN on the keys
    page.keyboard.press(manual_order.pickup_number[0])  # a digit on the start screen begins the manual entry
    ear.step("manual.title")
    page.keyboard.type(manual_order.pickup_number[1:] + manual_order.pin)
    expect(page.locator(".codefield.active .digit").last).to_have_text("•")
    page.keyboard.press("Enter")  # OK
    ear.step("confirm.title")
    page.keyboard.press("+")  # the help key again, on any screen: the keys, then this screen
    ear.step("confirm.title", keys_help=True)
    page.keyboard.press("Enter")
    ear.step("open.title", n=n_manual)
    page.keyboard.press("Enter")
    ear.step("close.title")
    assert page.request.post(f"{kiosk.url}/sim/api/doors/{n_manual}/item", data={"present": False}).ok
    assert page.request.post(f"{kiosk.url}/sim/api/doors/{n_manual}/close").ok
    ear.step("done.title")
    for order in (qr_order, manual_order):
        stored = st.store.order(order.order_id)
        assert stored is not None and stored.state == OrderState.COLLECTED


def test_the_stations_own_keys_are_read_through_its_key_map(
    kiosk_factory: Callable[..., Kiosk], page: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A keypad built into the station that sends F1 for help, PageDown for OK and * for delete (display.keys)."""
    kiosk = kiosk_factory(
        keys=(
            KeyConfig("F1", KeypadKey.HELP),
            KeyConfig("PageDown", KeypadKey.OK),
            KeyConfig("*", KeypadKey.DELETE),
        )
    )
    st = kiosk.station
    order = st.announce("KEYS-MAP-1")
    n = st.load(st.staff_session(), order)
    page.add_init_script(RECORD_PLAYS)
    ear = Listener(kiosk, page, "de", monkeypatch)
    page.goto(kiosk.url + "/")
    page.keyboard.press("F1")
    ear.step("start.title", keys_help=True)
    page.keyboard.type(order.pickup_number + "7")  # the number is full: the 7 goes to the PIN
    ear.step("manual.title")
    page.keyboard.press("*")  # and is deleted again
    page.keyboard.type(order.pin)
    page.keyboard.press("PageDown")  # OK
    ear.step("confirm.title")
    page.keyboard.press("Enter")  # the default map still works
    ear.step("open.title", n=n)
