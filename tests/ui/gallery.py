"""Every citizen and staff screen put in place directly on the server side, for axe checks and screenshots."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from playwright.sync_api import Page

from kiosk_ui.citizen_session import CitizenSession
from kiosk_ui.errors import ErrorKind
from kiosk_ui.screens import Field, Screen, StaffScreen
from tests.ui.rig import Kiosk

PIN = "246810"


def _set(screen: Screen, **attrs: object) -> Callable[[CitizenSession], None]:
    def apply(s: CitizenSession) -> None:
        s.screen = screen
        s.warning = False
        for k, v in attrs.items():
            setattr(s, k, v)
        s.version += 1

    return apply


CITIZEN: dict[str, Callable[[CitizenSession], None]] = {
    "start": _set(Screen.START, error=None),
    "manual": _set(Screen.MANUAL, number="1234", pin="12", active_field=Field.PIN),
    "dob": _set(Screen.DOB, dob="0103", active_field=Field.DOB),
    "confirm": _set(Screen.CONFIRM),
    "open": _set(Screen.OPEN, compartment=2),
    "close": _set(Screen.CLOSE, compartment=2),
    "taken": _set(Screen.TAKEN, compartment=2),
    "left_behind": _set(Screen.LEFT_BEHIND, compartment=2),
    "old_id": _set(Screen.OLD_ID, compartment=2),
    "old_id_open": _set(Screen.OLD_ID_OPEN, compartment=2),
    "old_id_check": _set(Screen.OLD_ID_CHECK, compartment=2),
    "done": _set(Screen.DONE),
    "error_wrong_code": _set(Screen.ERROR, error=ErrorKind.WRONG_CODE, manual_failures=1),
    "error_throttled": _set(Screen.ERROR, error=ErrorKind.THROTTLED, wait_s=40),
    "error_door": _set(Screen.ERROR, error=ErrorKind.DOOR, compartment=2),
    "error_not_collectable": _set(Screen.ERROR, error=ErrorKind.NOT_COLLECTABLE),
    "error_manual_locked": _set(Screen.ERROR, error=ErrorKind.MANUAL_LOCKED),
    "error_factor_locked": _set(Screen.ERROR, error=ErrorKind.FACTOR_LOCKED),
    "timeout_warning": _set(Screen.MANUAL, number="12", warning=True),
    "large_text": _set(Screen.MANUAL, number="12", large=True),
    "high_contrast": _set(Screen.OPEN, compartment=2, contrast=True),
}


def citizen_screens(page: Page, kiosk: Kiosk, lang: str) -> Iterator[str]:
    """Show each citizen screen in ``lang`` in turn; yields its name while it is on the page."""
    flows = kiosk.station.flows
    with kiosk.station.lock:  # the kiosk's ticker runs flows too
        if flows.ctx.store.compartment(2).state.value != "opening":  # door screens follow a real open door
            flows.staffwork.maintenance_open(kiosk.station.staff_session("GALLERY-1"), 2, "screenshots")
    page.goto(f"{kiosk.url}/?lang={lang}")
    s = kiosk.session()
    for name, apply in CITIZEN.items():
        s.large = s.contrast = False
        apply(s)
        s.lang = lang
        page.reload()
        page.wait_for_selector("h1")
        yield name
    s.screen = Screen.START
    s.version += 1


def staff_screens(page: Page, kiosk: Kiosk, lang: str) -> Iterator[str]:
    """Log in (badge + PIN) and show every staff screen in ``lang``."""
    badge = kiosk.station.add_staff(f"STAFF-{lang.upper()}", PIN, ("loader", "maintenance"))
    page.goto(f"{kiosk.url}/?lang={lang}")
    page.goto(f"{kiosk.url}/staff/login")
    yield "staff_login"
    page.locator("#badge").fill(badge.payload)
    page.locator("#pin").fill(PIN)
    page.locator("button[type=submit].primary").click()
    page.wait_for_url(f"{kiosk.url}/staff")
    for screen in StaffScreen:
        if screen == StaffScreen.MENU:
            continue
        page.locator(f'button[value="go:{screen}"]').click()
        page.wait_for_selector(f'[data-screen="staff-{screen}"]')
        yield f"staff_{screen}"
    page.locator("form[action='/staff/logout'] button").first.click()
    page.wait_for_url(f"{kiosk.url}/")
