"""Template contexts for the citizen and staff pages, and the spoken text of each citizen screen."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiosk_ui.citizen import DOB_DIGITS, NUMBER_DIGITS, Citizens
from kiosk_ui.citizen_session import CitizenSession
from kiosk_ui.display import Sizing
from kiosk_ui.errors import RETRYABLE, TO_THE_OFFICE
from kiosk_ui.i18n import LANGUAGES, RECEIPT_STATEMENT, Catalogs, language
from kiosk_ui.screens import KEYPAD_KEYS, Field, Screen
from kiosk_ui.speech import spell_digits, spell_secret
from kiosk_ui.wall import Box, box_of, layout, width_mm
from locker.config import OfficeConfig, StationConfig


@dataclass(frozen=True)
class Texts:
    """Catalog lookups bound to one language, for templates: ``t("key", n=3)``."""

    catalogs: Catalogs
    lang: str

    def __call__(self, key: str, **params: Any) -> str:
        return self.catalogs.text(self.lang, key, **params)


def common(lang: str, catalogs: Catalogs, sizing: Sizing, large: bool, contrast: bool) -> dict[str, Any]:
    return {
        "lang": language(lang),
        "languages": LANGUAGES,
        "t": Texts(catalogs, lang),
        "sizing": sizing,
        "large": large,
        "contrast": contrast,
    }


def _where(config: StationConfig, number: int | None) -> Box | None:
    if number is None:
        return None
    return box_of(layout(config.compartments), number)


def citizen_context(
    s: CitizenSession, citizens: Citizens, catalogs: Catalogs, sizing: Sizing, timeout_s: float
) -> dict[str, Any]:
    config = citizens.station.config
    screen = citizens.screen_of_start(s)
    boxes = layout(config.compartments)
    ctx = common(s.lang, catalogs, sizing, s.large, s.contrast)
    ctx.update(
        s=s,
        version=str(s.version),
        screen=screen,
        Screen=Screen,
        Field=Field,
        keys=KEYPAD_KEYS,
        pin_length=config.policy.pin_length,
        number_digits=NUMBER_DIGITS,
        dob_digits=DOB_DIGITS,
        camera_failed=screen == Screen.START and citizens.station.camera_failed(),
        enrollment_code=citizens.station.enrollment_code if screen == Screen.START else None,
        box=_where(config, s.compartment),
        boxes=boxes,
        wall_w=width_mm(boxes),
        remaining=citizens.remaining(s, timeout_s),
        can_extend=citizens.extensions_left(s),
        retryable=s.error in RETRYABLE,
        tries_left=citizens.tries_left(s),
        office=office_lines(ctx["t"], config.office) if _shows_office(s, screen) else [],
        statement=citizens.statement_of(s).id,  # the catalog key of the receipt statement shown
        take=take_key(s),
    )
    return ctx


def take_key(s: CitizenSession) -> str:
    """The open door's instruction naming the verified order's document type ("Please take your passport.")."""
    return f"open.take.{s.verified.document_type.value}" if s.verified is not None else "open.take"


def _shows_office(s: CitizenSession, screen: Screen) -> bool:
    return screen == Screen.LEFT_BEHIND or (screen == Screen.ERROR and s.error in TO_THE_OFFICE)


def office_lines(t: Callable[..., str], office: OfficeConfig) -> list[str]:
    """The citizens' office as the screens show and say it: name, address, opening hours, phone (where set)."""
    if not office.name:
        return []
    lines = [t("office.title", name=office.name)]
    if office.address:
        lines.append(office.address)
    if office.hours:
        lines.append(t("office.hours", hours=office.hours))
    if office.phone:
        lines.append(t("office.phone", phone=office.phone))
    return lines


# The texts of screens that need no parameters beyond the compartment number, in the order they are shown.
_FIXED: dict[Screen, tuple[str, ...]] = {
    Screen.OUT_OF_SERVICE: ("oos.title", "oos.body"),
    Screen.CONFIRM: ("confirm.title", "confirm.body", "confirm.statement", "confirm.button"),
    Screen.OLD_ID: ("oldid.title", "oldid.body", "oldid.open", "oldid.none"),
    Screen.OLD_ID_CHECK: ("oldid_check.title", "oldid_check.body", "oldid_check.yes", "oldid_check.no"),
    Screen.TAKEN: ("taken.title", "taken.body", "taken.yes", "taken.no"),
    Screen.LEFT_BEHIND: ("left.title", "left.body", "left.later", "left.again"),
    Screen.CLOSE: ("close.title", "close.body"),
    Screen.DONE: ("done.title", "done.body"),
}
# Door screens: title, then where the compartment is, then what to do.
_DOORS: dict[Screen, tuple[str, str]] = {
    Screen.OPEN: ("open.title", "open.take"),
    Screen.OLD_ID_OPEN: ("oldid_open.title", "oldid_open.body"),
}


def spoken(
    s: CitizenSession, citizens: Citizens, catalogs: Catalogs, timeout_s: float, *, keys_help: bool = False
) -> str:
    """The text of the screen as shown, for speech output; secrets are spoken as one "star" per digit. With
    ``keys_help`` the keypad's keys are explained first."""
    t: Callable[..., str] = Texts(catalogs, s.lang)
    config = citizens.station.config
    screen = citizens.screen_of_start(s)
    star, empty = t("speech.star"), t("speech.empty")
    n = s.compartment or 0
    parts: list[str] = [t("speech.keys")] if keys_help else []
    if s.warning:
        parts += [t("idle.title"), t("idle.body", s=citizens.remaining(s, timeout_s)), t("idle.more")]
    if screen in _FIXED:
        statement = citizens.statement_of(s).id
        parts += [t(statement if key == RECEIPT_STATEMENT else key, n=n) for key in _FIXED[screen]]
    elif screen in _DOORS:
        title, then = _DOORS[screen]
        box = _where(config, s.compartment)
        then = take_key(s) if screen == Screen.OPEN else then
        parts += [t(title, n=n), *([t("open.where", row=box.row, col=box.column)] if box else []), t(then)]
    elif screen == Screen.START:
        parts += [t("start.title"), t("start.scan"), t("start.or"), t("start.type_code")]
        if s.message:
            parts.append(t(s.message))
    elif screen == Screen.MANUAL:
        parts += [
            t("manual.title"),
            t("manual.number") + ": " + spell_digits(s.number, empty),
            t("manual.pin", n=config.policy.pin_length) + ": " + spell_secret(len(s.pin), star, empty),
        ]
        if s.message:
            parts.append(t(s.message))
    elif screen == Screen.DOB:
        parts += [t("dob.title"), t("dob.body"), spell_secret(len(s.dob), star, empty)]
    elif screen == Screen.ERROR and s.error is not None:
        parts += [t(f"err.{s.error}.title"), t(f"err.{s.error}.body", n=n, s=s.wait_s)]
        tries = citizens.tries_left(s)
        if tries:
            parts.append(t("err.tries_left", n=tries))
    if _shows_office(s, screen):
        parts += office_lines(t, config.office)
    return ". ".join(p.rstrip(".") for p in parts) + "."
