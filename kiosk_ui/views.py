"""Template contexts for the citizen and staff pages, and the spoken text of each citizen screen."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiosk_ui.citizen import DOB_DIGITS, NUMBER_DIGITS, Citizens
from kiosk_ui.citizen_session import CitizenSession
from kiosk_ui.display import Sizing
from kiosk_ui.i18n import LANGUAGES, Catalogs, language
from kiosk_ui.screens import KEYPAD_KEYS, Field, Screen
from kiosk_ui.speech import spell_digits, spell_secret
from kiosk_ui.wall import Box, box_of, layout, width_mm
from locker.config import StationConfig


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
    )
    return ctx


def spoken(s: CitizenSession, citizens: Citizens, catalogs: Catalogs, timeout_s: float) -> str:
    """The text of the screen as shown, for speech output; secrets are spoken as one "star" per digit."""
    t: Callable[..., str] = Texts(catalogs, s.lang)
    config = citizens.station.config
    screen = citizens.screen_of_start(s)
    star, empty = t("speech.star"), t("speech.empty")
    n = s.compartment or 0
    parts: list[str] = []
    if s.warning:
        parts += [t("idle.title"), t("idle.body", s=citizens.remaining(s, timeout_s)), t("idle.more")]
    if screen == Screen.START:
        parts += [t("start.title"), t("start.scan"), t("start.or"), t("start.type_code")]
        if s.message:
            parts.append(t(s.message))
    elif screen == Screen.OUT_OF_SERVICE:
        parts += [t("oos.title"), t("oos.body")]
    elif screen == Screen.MANUAL:
        parts += [
            t("manual.title"),
            t("manual.number") + ": " + spell_digits(s.number, empty),
            t("manual.pin", n=config.policy.pin_length) + ": " + spell_secret(len(s.pin), star, empty),
        ]
    elif screen == Screen.DOB:
        parts += [t("dob.title"), t("dob.body"), spell_secret(len(s.dob), star, empty)]
    elif screen == Screen.CONFIRM:
        parts += [t("confirm.title"), t("confirm.body"), t("confirm.statement"), t("confirm.button")]
    elif screen == Screen.OPEN:
        box = _where(config, s.compartment)
        parts += [t("open.title", n=n)]
        if box:
            parts.append(t("open.where", row=box.row, col=box.column))
        parts.append(t("open.take"))
    elif screen == Screen.OLD_ID:
        parts += [t("oldid.title"), t("oldid.body", n=n), t("oldid.open"), t("oldid.none")]
    elif screen == Screen.OLD_ID_OPEN:
        box = _where(config, s.compartment)
        parts += [t("oldid_open.title", n=n)]
        if box:
            parts.append(t("open.where", row=box.row, col=box.column))
        parts.append(t("oldid_open.body"))
    elif screen == Screen.OLD_ID_CHECK:
        parts += [t("oldid_check.title"), t("oldid_check.body", n=n), t("oldid_check.yes"), t("oldid_check.no")]
    elif screen == Screen.TAKEN:
        parts += [t("taken.title"), t("taken.body", n=n), t("taken.yes"), t("taken.no")]
    elif screen == Screen.LEFT_BEHIND:
        parts += [t("left.title"), t("left.body", n=n), t("left.later"), t("left.again")]
    elif screen == Screen.CLOSE:
        parts += [t("close.title"), t("close.body", n=n)]
    elif screen == Screen.DONE:
        parts += [t("done.title"), t("done.body")]
    elif screen == Screen.ERROR and s.error is not None:
        parts += [t(f"err.{s.error}.title"), t(f"err.{s.error}.body", n=n, s=s.wait_s)]
    if screen == Screen.MANUAL and s.message:
        parts.append(t(s.message))
    return ". ".join(p.rstrip(".") for p in parts) + "."
