"""Citizen flows in real Chromium with touch: QR and keypad pickup, wrong code and throttle, a door that does not
open and the retry with the same code, a document left behind and opened again, timeout."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from kiosk_ui.citizen_session import CitizenSession
from locker.config import ThrottleConfig
from locker.model import OrderState
from tests.ui.rig import Kiosk


def tap_digits(page: Page, digits: str) -> None:
    for d in digits:
        page.get_by_role("button", name=d, exact=True).tap()


def scan(page: Page, kiosk: Kiosk, text: str) -> None:
    r = page.request.post(f"{kiosk.url}/sim/api/scan", data={"text": text})
    assert r.ok


def h1(page: Page) -> str:
    return page.locator("h1").inner_text()


def test_qr_pickup(kiosk: Kiosk, page: Page) -> None:
    c = kiosk.station.announce("ORDER-QR1")
    n = kiosk.station.load(kiosk.station.staff_session(), c)
    page.goto(kiosk.url + "/")
    expect(page.locator("h1")).to_have_text("Holen Sie Ihr Dokument ab")
    scan(page, kiosk, c.qr)
    expect(page.locator("h1")).to_have_text("Empfang bestätigen")
    expect(
        page.get_by_text("Ich bestätige, dass ich meinen Personalausweis und das zugehörige Schreiben erhalten habe.")
    ).to_be_visible()
    page.get_by_role("button", name="Empfang bestätigen").tap()
    expect(page.locator("h1")).to_have_text(f"Fach {n} ist offen")
    expect(page.get_by_role("img", name=f"Schließfachwand, Fach {n} ist markiert")).to_be_visible()
    page.get_by_role("button", name="Weiter").tap()
    expect(page.locator("h1")).to_have_text("Bitte schließen Sie die Tür")
    assert page.request.post(f"{kiosk.url}/sim/api/doors/{n}/item", data={"present": False}).ok
    assert page.request.post(f"{kiosk.url}/sim/api/doors/{n}/close").ok
    expect(page.locator("h1")).to_have_text("Vielen Dank")
    order = kiosk.station.store.order(c.order_id)
    assert order is not None and order.state == OrderState.COLLECTED


def test_manual_pickup_on_keypad(kiosk: Kiosk, page: Page) -> None:
    c = kiosk.station.announce("ORDER-MAN1")
    n = kiosk.station.load(kiosk.station.staff_session(), c)
    page.goto(kiosk.url + "/")
    page.get_by_role("button", name="Abholnummer und PIN eingeben").tap()
    expect(page.locator("h1")).to_have_text("Code eingeben")
    tap_digits(page, c.pickup_number)
    expect(page.locator(".codefield.active")).to_contain_text("PIN")
    tap_digits(page, c.pin)
    expect(page.locator(".codefield.active .digit").last).to_have_text("•")
    assert c.pin not in page.content()
    page.get_by_role("button", name="OK", exact=True).tap()
    expect(page.locator("h1")).to_have_text("Empfang bestätigen")
    page.get_by_role("button", name="Empfang bestätigen").tap()
    expect(page.locator("h1")).to_have_text(f"Fach {n} ist offen")


def test_a_physical_keypad_drives_the_pickup(kiosk: Kiosk, page: Page) -> None:
    """Without looking at the screen: digits, Backspace, Enter and Escape from a USB keypad (issue 16)."""
    c = kiosk.station.announce("ORDER-KEYS")
    n = kiosk.station.load(kiosk.station.staff_session(), c)
    page.goto(kiosk.url + "/")
    expect(page.locator("h1")).to_have_text("Holen Sie Ihr Dokument ab")
    page.keyboard.press(c.pickup_number[0])  # the first digit starts the manual entry
    expect(page.locator("h1")).to_have_text("Code eingeben")
    page.keyboard.type(c.pickup_number[1:] + "9")  # the number is full: the 9 goes to the PIN
    page.keyboard.press("Backspace")  # and is deleted again
    for d in c.pin:
        page.keyboard.press(d)
    expect(page.locator(".codefield.active .digit").last).to_have_text("•")
    page.keyboard.press("Enter")  # OK
    expect(page.locator("h1")).to_have_text("Empfang bestätigen")
    page.keyboard.press("Escape")  # cancel: back to the start, nothing opened
    expect(page.locator("h1")).to_have_text("Holen Sie Ihr Dokument ab")
    page.keyboard.type(c.pickup_number + c.pin)
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Empfang bestätigen")
    page.keyboard.press("Enter")  # confirm receipt
    expect(page.locator("h1")).to_have_text(f"Fach {n} ist offen")
    page.keyboard.press("+")  # speech on, for the rest of the visit
    expect(page.locator("body")).to_have_attribute("data-speech", "1")


def test_wrong_code_then_throttle(kiosk_factory: Callable[..., Kiosk], page: Page) -> None:
    kiosk = kiosk_factory(throttle=ThrottleConfig(free_failures=1, base_delay_s=30))
    page.goto(kiosk.url + "/")
    page.get_by_role("button", name="Abholnummer und PIN eingeben").tap()
    tap_digits(page, "12345678")
    tap_digits(page, "999999")
    page.get_by_role("button", name="OK", exact=True).tap()
    expect(page.locator("h1")).to_have_text("Code nicht akzeptiert")
    page.get_by_role("button", name="Erneut versuchen").tap()
    tap_digits(page, "12345678999999")
    page.get_by_role("button", name="OK", exact=True).tap()
    expect(page.locator("h1")).to_have_text("Bitte warten")
    expect(page.get_by_role("alert")).to_contain_text("Wartezeit: 30 s")


def test_door_that_does_not_open_then_the_retry(kiosk: Kiosk, page: Page) -> None:
    c = kiosk.station.announce("ORDER-JAM1")
    n = kiosk.station.load(kiosk.station.staff_session(), c)
    assert page.request.post(f"{kiosk.url}/sim/api/doors/{n}/jam", data={"jammed": True}).ok
    page.goto(kiosk.url + "/?lang=en")
    scan(page, kiosk, c.qr)
    page.get_by_role("button", name="I confirm receipt").tap()
    expect(page.locator("h1")).to_have_text("The door did not open")
    expect(page.get_by_role("alert")).to_contain_text(f"Compartment {n} did not open")
    state = page.request.get(f"{kiosk.url}/sim/api/state").json()
    assert state["compartments"][n - 1]["compartment_state"] == "faulty"
    # staff free the lock and put the compartment back in service: the citizen's same code opens it (not spent)
    assert page.request.post(f"{kiosk.url}/sim/api/doors/{n}/jam", data={"jammed": False}).ok
    sid = kiosk.station.staff_session()
    with kiosk.station.lock:
        kiosk.station.flows.staffwork.enable(sid, n)
    scan(page, kiosk, c.qr)
    page.get_by_role("button", name="I confirm receipt").tap()
    expect(page.locator("h1")).to_have_text(f"Compartment {n} is open")


def test_document_left_behind_then_opened_again(kiosk: Kiosk, page: Page) -> None:
    c = kiosk.station.announce("ORDER-LEFT1")
    n = kiosk.station.load(kiosk.station.staff_session(), c)
    page.goto(kiosk.url + "/?lang=en")
    scan(page, kiosk, c.qr)
    page.get_by_role("button", name="I confirm receipt").tap()
    expect(page.locator("h1")).to_have_text(f"Compartment {n} is open")
    assert page.request.post(f"{kiosk.url}/sim/api/doors/{n}/close").ok  # closed with the document still inside
    expect(page.locator("h1")).to_have_text("Your document is still in the compartment")
    expect(page.get_by_role("alert")).to_contain_text(f"The door of compartment {n} is closed")
    order = kiosk.station.store.order(c.order_id)
    assert order is not None and order.state == OrderState.STORED and not order.code_used
    alarms = {(kind.value, comp) for kind, comp, _b, _t in kiosk.station.store.open_alarms()}
    assert ("document_left_behind", n) in alarms
    page.get_by_role("button", name="Open the compartment again").tap()
    expect(page.locator("h1")).to_have_text(f"Compartment {n} is open")
    assert page.request.post(f"{kiosk.url}/sim/api/doors/{n}/item", data={"present": False}).ok
    assert page.request.post(f"{kiosk.url}/sim/api/doors/{n}/close").ok
    expect(page.locator("h1")).to_have_text("Thank you")
    order = kiosk.station.store.order(c.order_id)
    assert order is not None and order.state == OrderState.COLLECTED
    alarms = {(kind.value, comp) for kind, comp, _b, _t in kiosk.station.store.open_alarms()}
    assert ("document_left_behind", n) not in alarms


def test_timeout_warning_extension_and_reset(kiosk: Kiosk, page: Page) -> None:
    page.goto(kiosk.url + "/")
    page.get_by_role("button", name="Abholnummer und PIN eingeben").tap()
    tap_digits(page, "42")
    expect(page.locator(".codefield.active .digit").nth(1)).to_have_text("2")
    cfg = kiosk.station.config.display
    s: CitizenSession = kiosk.session()
    for i in range(10):  # at least ten extensions (WCAG 2.2.1)
        kiosk.station.clock.advance(cfg.idle_timeout_s - cfg.idle_warning_s + 1)
        dialog = page.get_by_role("alertdialog")
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text("Brauchen Sie mehr Zeit?")
        if i == 0:  # the countdown ticks in the page (the server's clock, stopped here, still decides the reset)
            shown = int(dialog.locator(".countdown").inner_text())
            expect(dialog.locator(".countdown")).to_have_text(str(shown - 2), timeout=5000)
        dialog.get_by_role("button", name="Mehr Zeit").tap()
        expect(dialog).to_be_hidden()
    assert s.extensions == 10
    expect(page.locator(".codefield.active .digit").nth(1)).to_have_text("2")
    kiosk.station.clock.advance(cfg.idle_timeout_s + 1)
    expect(page.locator("h1")).to_have_text("Holen Sie Ihr Dokument ab")
    assert s.number == ""


def test_language_switch(kiosk: Kiosk, page: Page) -> None:
    page.goto(kiosk.url + "/")
    assert page.locator("html").get_attribute("lang") == "de"
    for button in page.locator(".langs button").all():
        assert button.get_attribute("lang")
    page.get_by_role("button", name="English").tap()
    expect(page.locator("h1")).to_have_text("Collect your document")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("button", name="العربية").tap()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("h1")).to_have_text("استلم وثيقتك")
    page.goto(kiosk.url + "/?lang=tr")
    expect(page.locator("h1")).to_have_text("Belgenizi teslim alın")  # noqa: RUF001
    expect(page.locator("html")).to_have_attribute("dir", "ltr")


def test_keypad_order_is_the_same_in_arabic_and_german(kiosk: Kiosk, page: Page) -> None:
    def layout(lang: str) -> list[tuple[str, int, int]]:
        page.goto(f"{kiosk.url}/?lang={lang}")
        page.locator(".screen button.primary").tap()
        expect(page.locator("body")).to_have_attribute("data-screen", "manual")
        # Query and measure in one script run: nothing can re-render the page in between. (eval_on_selector_all
        # queries first and calls the function in a second step: a re-render between the two, which the event stream
        # may start at any time, leaves it measuring detached keys, all at 0, 0.)
        out: list[tuple[str, int, int]] = page.evaluate(
            """() => [...document.querySelectorAll(".keypad .key")].map(k => {
                const r = k.getBoundingClientRect();
                return [k.getAttribute("value") || "", Math.round(r.x), Math.round(r.y)];
            })"""
        )
        page.get_by_role("button", name={"de": "Abbrechen", "ar": "إلغاء"}[lang]).tap()
        # the cancel must have reached the server before the next page load, or it would cancel that page's entry
        expect(page.locator("body")).to_have_attribute("data-screen", "start")
        return [(v, x, y) for v, x, y in out]

    de, ar = layout("de"), layout("ar")

    def order(keys: list[tuple[str, int, int]]) -> list[str]:
        return [v for v, _x, _y in sorted(keys, key=lambda k: (k[2], k[1]))]

    assert order(de) == order(ar) == [f"key:{d}" for d in "123456789"] + ["delete:", "key:0", "ok:"]
    xs = {v: x for v, x, _y in ar}
    assert xs["key:1"] < xs["key:2"] < xs["key:3"]


def test_keys_are_at_least_15_mm(kiosk: Kiosk, page: Page) -> None:
    page.goto(kiosk.url + "/")
    page.get_by_role("button", name="Abholnummer und PIN eingeben").tap()
    ppm = kiosk.ui.sizing.px_per_mm
    for key in page.locator(".keypad .key").all():
        box = key.bounding_box()
        assert box is not None
        assert box["width"] / ppm >= 15 and box["height"] / ppm >= 15
