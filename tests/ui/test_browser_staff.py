"""Staff flows in Chromium: badge + PIN login with the four-eyes rule, loading by scanned label, returns, a
handover at the counter after a door that did not open, moving a document out of a jammed compartment."""

from __future__ import annotations

import time
from collections.abc import Callable

from playwright.sync_api import Page, Route, expect

from locker import codes
from locker.model import OrderState
from tests.harness import Codes
from tests.ui.rig import Kiosk

PIN = "246810"


def login(page: Page, kiosk: Kiosk, badge: str) -> None:
    page.goto(kiosk.url + "/staff/login")
    page.locator("#badge").fill(badge)
    page.locator("#pin").fill(PIN)
    page.get_by_role("button", name="Anmelden").tap()


def load_by_scan(page: Page, kiosk: Kiosk, order_id: str) -> int:
    """On the staff screen: the load tab, the envelope's label scanned, the envelope put in, the door closed."""
    page.get_by_role("button", name="Befüllen").tap()
    # the tap returns before its post is done: a label scanned before the load screen is the server's goes elsewhere
    expect(page.locator('[data-screen="staff-load"]')).to_be_visible()
    assert page.request.post(f"{kiosk.url}/sim/api/scan", data={"text": codes.label_payload(order_id)}).ok
    expect(page.locator(".message")).to_contain_text("ist offen")
    order = kiosk.station.store.order(order_id)
    assert order is not None and order.compartment is not None
    n = order.compartment
    assert page.request.post(f"{kiosk.url}/sim/api/doors/{n}/item", data={"present": True}).ok
    assert page.request.post(f"{kiosk.url}/sim/api/doors/{n}/close").ok
    expect(page.locator(".message")).to_have_text(f"Fach {n}: eingelagert. Die Person wird benachrichtigt.")
    return n


def jammed_pickup(kiosk: Kiosk, page: Page, order_id: str) -> tuple[Codes, int]:
    """An order loaded, the citizen's door did not open, and staff have freed the lock since: its codes and
    compartment."""
    c = kiosk.station.announce(order_id)
    n = kiosk.station.load(kiosk.station.staff_session(), c)
    assert page.request.post(f"{kiosk.url}/sim/api/doors/{n}/jam", data={"jammed": True}).ok
    page.goto(kiosk.url + "/")
    assert page.request.post(f"{kiosk.url}/sim/api/scan", data={"text": c.qr}).ok
    page.get_by_role("button", name="Empfang bestätigen").tap()
    expect(page.locator("h1")).to_have_text("Die Tür hat sich nicht geöffnet")
    assert page.request.post(f"{kiosk.url}/sim/api/doors/{n}/jam", data={"jammed": False}).ok
    return c, n


def test_staff_loading_with_four_eyes(kiosk_factory: Callable[..., Kiosk], page: Page) -> None:
    kiosk = kiosk_factory(four_eyes_loading=True)
    anna = kiosk.station.add_staff("ANNA-01", PIN, ("loader", "maintenance"))
    ben = kiosk.station.add_staff("BEN-02", PIN, ("loader",))
    c = kiosk.station.announce("ORDER-LOAD1")
    assert page.request.get(kiosk.url + "/staff/api/state").status == 401
    login(page, kiosk, anna.payload)
    expect(page.get_by_text("Angemeldet: ANNA-01")).to_be_visible()
    expect(page.get_by_text("Vier-Augen-Prinzip")).to_be_visible()
    page.get_by_role("button", name="Befüllen").tap()
    expect(page.locator('[data-screen="staff-load"]')).to_be_visible()
    page.locator("#label").fill(codes.label_payload(c.order_id))
    page.get_by_role("button", name="Etikett verwenden").tap()
    expect(page.locator(".message")).to_contain_text(
        "Eine zweite Mitarbeiterin oder ein zweiter Mitarbeiter muss sich anmelden"
    )
    assert page.request.post(kiosk.url + "/staff/act", form={"op": "label:", "label": "x"}).status == 403
    page.get_by_role("link", name="Zweite Person").tap()
    expect(page.locator("h1")).to_have_text("Zweite Person")
    page.locator("#badge").fill(ben.payload)
    page.locator("#pin").fill(PIN)
    page.get_by_role("button", name="Anmelden").tap()
    expect(page.get_by_text("Angemeldet: ANNA-01 + BEN-02")).to_be_visible()
    load_by_scan(page, kiosk, c.order_id)
    order = kiosk.station.store.order(c.order_id)
    assert order is not None and order.state == OrderState.STORED


def test_badge_scan_on_start_screen_opens_staff_login(kiosk: Kiosk, page: Page) -> None:
    anna = kiosk.station.add_staff("ANNA-01", PIN, ("loader",))
    page.goto(kiosk.url + "/")
    assert page.request.post(f"{kiosk.url}/sim/api/scan", data={"text": anna.payload}).ok
    expect(page).to_have_url(kiosk.url + "/staff/login")
    expect(page.get_by_text("Ausweis gelesen: ANNA-01")).to_be_visible()
    page.locator("#pin").fill(PIN)
    page.get_by_role("button", name="Anmelden").tap()
    expect(page.get_by_text("Angemeldet: ANNA-01")).to_be_visible()


def test_returns_one_compartment_at_a_time(kiosk: Kiosk, page: Page) -> None:
    st = kiosk.station
    anna = st.add_staff("ANNA-01", PIN, ("loader", "maintenance"))
    c = st.announce("ORDER-RET1")
    n = st.load(st.staff_session("CARL-03"), c)
    with st.lock:
        st.flows.orders.cancel(c.order_id)
    login(page, kiosk, anna.payload)
    page.get_by_role("button", name="Rücknahmen").tap()
    page.get_by_role("button", name=f"Fach {n} öffnen").tap()
    expect(page.locator(".message")).to_have_text(f"Fach {n} ist offen: alles entnehmen und Tür schließen.")
    assert page.request.post(f"{kiosk.url}/sim/api/doors/{n}/item", data={"present": False}).ok
    assert page.request.post(f"{kiosk.url}/sim/api/doors/{n}/close").ok
    expect(page.locator(".message")).to_have_text(f"Fach {n}: Tür geschlossen.")
    expect(page.get_by_text("Nichts zurückzunehmen.")).to_be_visible()
    order = st.store.order(c.order_id)
    assert order is not None and order.state == OrderState.RETURNED


def test_a_page_being_left_navigates_only_once(kiosk: Kiosk, page: Page) -> None:
    """The page being left closes its event stream when the navigation starts: the server recording the next
    page's load ("page": staff_login) must not send the old page there a second time, over the first navigation."""
    page.goto(kiosk.url + "/")
    expect(page.locator("h1")).to_have_text("Holen Sie Ihr Dokument ab")
    s = kiosk.session()
    wait_until(page, lambda: kiosk.ui.citizens.showing(s), "the start page's event stream opens")
    navigations: list[str] = []
    page.on("request", lambda r: navigations.append(r.url) if r.is_navigation_request() else None)
    held: list[Route] = []
    page.route("**/staff/login", lambda route: held.append(route) if not held else route.continue_())
    page.evaluate("() => setTimeout(() => location.assign('/staff/login'))")  # as a link would
    wait_until(page, lambda: len(held) == 1, "the navigation's request is sent")
    wait_until(page, lambda: not kiosk.ui.citizens.showing(s), "the page being left closes its event stream")
    held[0].continue_()
    expect(page.locator("#badge")).to_be_visible()
    wait_until(page, lambda: kiosk.ui.citizens.showing(s), "the login page's event stream opens")
    assert navigations == [kiosk.url + "/staff/login"]
    expect(page).to_have_url(kiosk.url + "/staff/login")


def wait_until(page: Page, done: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    """Let Playwright dispatch events (route handlers run then) until ``done()``; generous, it is about order."""
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, f"not seen within {timeout_s} s: {what}"
        page.wait_for_timeout(20)


def test_counter_handover_after_a_jammed_door(kiosk: Kiosk, page: Page) -> None:
    """The citizen's door did not open; staff free the lock and hand the document over in person, the citizen
    confirming receipt on the staff screen."""
    c, n = jammed_pickup(kiosk, page, "ORDER-DESK1")
    bea = kiosk.station.add_staff("BEA-03", PIN, ("loader",))
    login(page, kiosk, bea.payload)
    expect(page.get_by_text("Angemeldet: BEA-03")).to_be_visible()
    page.get_by_role("button", name="Am Schalter übergeben").tap()
    page.get_by_role("button", name=f"Auftrag {c.order_id} (Fach {n})").tap()
    expect(
        page.get_by_text("Ich bestätige, dass ich meinen Personalausweis und das zugehörige Schreiben erhalten habe.")
    ).to_be_visible()
    page.get_by_role("button", name="Empfang bestätigt, jetzt übergeben").tap()
    expect(page.locator(".message")).to_contain_text(f"Fach {n} ist offen")
    assert page.request.post(f"{kiosk.url}/sim/api/doors/{n}/item", data={"present": False}).ok
    assert page.request.post(f"{kiosk.url}/sim/api/doors/{n}/close").ok
    expect(page.locator(".message")).to_have_text(f"Fach {n}: Dokument am Schalter übergeben.")
    order = kiosk.station.store.order(c.order_id)
    assert order is not None and order.state == OrderState.COLLECTED
    body = kiosk.station.database.query_one("SELECT body FROM outbox WHERE kind = 'collected'")
    assert body is not None and '"method":"counter"' in body["body"] and '"BEA-03"' in body["body"]
    expect(page.get_by_text("Kein Dokument zur Übergabe.")).to_be_visible()


def test_staff_log_in_and_load_by_touch_only(kiosk: Kiosk, page: Page) -> None:
    """No keyboard: the badge is scanned, the PIN tapped on the on-screen keypad, the label scanned, the door
    closed; every step a tap or a scan."""
    carl = kiosk.station.add_staff("CARL-04", PIN, ("loader",))
    c = kiosk.station.announce("ORDER-TOUCH1")
    page.goto(kiosk.url + "/")
    assert page.request.post(f"{kiosk.url}/sim/api/scan", data={"text": carl.payload}).ok
    expect(page.get_by_text("Ausweis gelesen: CARL-04")).to_be_visible()
    keypad = page.get_by_role("group", name="Zifferntastatur")
    for d in PIN + "9":
        keypad.get_by_role("button", name=d, exact=True).tap()
    keypad.get_by_role("button", name="Löschen").tap()  # the extra 9 again
    assert page.locator("#pin").input_value() == PIN
    keypad.get_by_role("button", name="OK").tap()
    expect(page.get_by_text("Angemeldet: CARL-04")).to_be_visible()
    load_by_scan(page, kiosk, c.order_id)


def test_move_a_document_out_of_a_jammed_compartment_by_touch(kiosk: Kiosk, page: Page) -> None:
    """The citizen's door did not open; staff free the lock, move the document into another compartment by touch
    alone, and the citizen's unchanged QR code opens the new compartment (no new notice)."""
    c, n = jammed_pickup(kiosk, page, "ORDER-MOVE1")
    dora = kiosk.station.add_staff("DORA-05", PIN, ("loader",))
    login(page, kiosk, dora.payload)
    page.get_by_role("button", name="Umlagern").tap()
    expect(page.locator("h1")).to_have_text("Umlagern")
    assert "Move" not in page.locator("main").inner_text()  # German screen, German words
    page.get_by_role("button", name=f"Auftrag {c.order_id} (Fach {n})").tap()
    expect(page.locator(".message")).to_have_text(f"Fach {n} ist offen: Umschlag entnehmen und die Tür schließen.")
    assert page.request.post(f"{kiosk.url}/sim/api/doors/{n}/item", data={"present": False}).ok
    assert page.request.post(f"{kiosk.url}/sim/api/doors/{n}/close").ok
    expect(page.locator(".message")).to_contain_text("Umschlag entnommen: jetzt Fach")
    order = kiosk.station.store.order(c.order_id)
    assert order is not None and order.compartment is not None and order.compartment != n
    t = order.compartment
    page.get_by_role("button", name=f"Fach {t} öffnen und einlegen").tap()
    expect(page.locator(".message")).to_have_text(f"Fach {t} ist offen: Umschlag einlegen und die Tür schließen.")
    assert page.request.post(f"{kiosk.url}/sim/api/doors/{t}/item", data={"present": True}).ok
    assert page.request.post(f"{kiosk.url}/sim/api/doors/{t}/close").ok
    expect(page.locator(".message")).to_have_text(
        f"Umgelagert: Das Dokument liegt jetzt in Fach {t}. Die Codes bleiben gültig."
    )
    assert kiosk.station.store.compartment(n).state == "faulty"  # the jammed lock still wants a look
    stored = kiosk.station.database.query("SELECT id FROM outbox WHERE kind = 'stored'")
    assert len(stored) == 1  # no second notice
    page.get_by_role("button", name="Abmelden").tap()
    assert page.request.post(f"{kiosk.url}/sim/api/scan", data={"text": c.qr}).ok
    page.get_by_role("button", name="Empfang bestätigen").tap()
    expect(page.locator("h1")).to_contain_text(str(t))
    order = kiosk.station.store.order(c.order_id)
    assert order is not None and order.state == OrderState.COLLECTING and order.compartment == t


def test_a_maintenance_reason_typed_on_the_on_screen_keyboard(kiosk: Kiosk, page: Page) -> None:
    """No keyboard: the reason's own text is tapped on the staff screen's keyboard (shift for one capital, a wrong
    letter deleted), then the compartment is taken out of service with it."""
    mia = kiosk.station.add_staff("MIA-05", PIN, ("maintenance",))
    page.goto(kiosk.url + "/")
    assert page.request.post(f"{kiosk.url}/sim/api/scan", data={"text": mia.payload}).ok
    keypad = page.get_by_role("group", name="Zifferntastatur")
    for d in PIN:
        keypad.get_by_role("button", name=d, exact=True).tap()
    keypad.get_by_role("button", name="OK").tap()
    page.get_by_role("button", name="Wartung").tap()
    field = page.get_by_role("textbox", name="Grund 3")
    field.tap()
    osk = page.get_by_role("group", name="Bildschirmtastatur")
    osk.get_by_role("button", name="⇧ Groß").tap()
    for ch in "scharnierx":
        osk.get_by_role("button", name=ch, exact=True).tap()
    osk.get_by_role("button", name="⌫ Löschen").tap()
    for ch in [" ", "l", "o", "s", "e"]:
        osk.get_by_role("button", name="Leerzeichen" if ch == " " else ch, exact=True).tap()
    expect(field).to_have_value("Scharnier lose")
    page.get_by_role("row", name="3").get_by_role("button", name="Sperren").tap()
    expect(page.get_by_role("row", name="3").get_by_role("button", name="Freigeben")).to_be_visible()
    assert kiosk.station.store.compartment(3).reason == "Scharnier lose"
