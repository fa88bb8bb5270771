"""Keyboard layouts for wedge scanners: which character a key code gives, plain, with Shift or AltGr."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from firmware_bridge.linux_input import codes as e
from firmware_bridge.scanners.errors import ScannerConfigError


@dataclass(frozen=True)
class Keymap:
    """Characters per key code (``KEY_*``): ``keys[code] = (plain, shifted)``; ``altgr[code]`` for AltGr."""

    name: str
    keys: Mapping[int, tuple[str, str]]
    altgr: Mapping[int, str] = field(default_factory=dict)
    # Letters whose case Caps Lock flips (all letters on both layouts here).
    letters: frozenset[int] = frozenset()

    def char(self, code: int, *, shift: bool, altgr: bool, caps: bool) -> str | None:
        if altgr:
            return self.altgr.get(code)
        pair = self.keys.get(code)
        if pair is None:
            return None
        upper = shift != (caps and code in self.letters)
        return pair[1] if upper else pair[0]


_QWERTY_ROWS = (
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
)
_LETTER_CODES = {
    ch: getattr(e, f"KEY_{ch.upper()}") for row in _QWERTY_ROWS for ch in row
}  # the key cap names are the US (QWERTY) positions
_DIGIT_CODES = [e.KEY_1, e.KEY_2, e.KEY_3, e.KEY_4, e.KEY_5, e.KEY_6, e.KEY_7, e.KEY_8, e.KEY_9, e.KEY_0]
_KEYPAD = {
    e.KEY_KP0: ("0", "0"),
    e.KEY_KP1: ("1", "1"),
    e.KEY_KP2: ("2", "2"),
    e.KEY_KP3: ("3", "3"),
    e.KEY_KP4: ("4", "4"),
    e.KEY_KP5: ("5", "5"),
    e.KEY_KP6: ("6", "6"),
    e.KEY_KP7: ("7", "7"),
    e.KEY_KP8: ("8", "8"),
    e.KEY_KP9: ("9", "9"),
    e.KEY_KPDOT: (".", "."),
    e.KEY_KPSLASH: ("/", "/"),
    e.KEY_KPASTERISK: ("*", "*"),
    e.KEY_KPMINUS: ("-", "-"),
    e.KEY_KPPLUS: ("+", "+"),
    e.KEY_SPACE: (" ", " "),
    e.KEY_TAB: ("\t", "\t"),
}


def _us() -> Keymap:
    keys: dict[int, tuple[str, str]] = {code: (ch, ch.upper()) for ch, code in _LETTER_CODES.items()}
    keys.update({code: (d, s) for code, d, s in zip(_DIGIT_CODES, "1234567890", "!@#$%^&*()", strict=True)})
    keys.update(
        {
            e.KEY_MINUS: ("-", "_"),
            e.KEY_EQUAL: ("=", "+"),
            e.KEY_LEFTBRACE: ("[", "{"),
            e.KEY_RIGHTBRACE: ("]", "}"),
            e.KEY_BACKSLASH: ("\\", "|"),
            e.KEY_SEMICOLON: (";", ":"),
            e.KEY_APOSTROPHE: ("'", '"'),
            e.KEY_GRAVE: ("`", "~"),
            e.KEY_COMMA: (",", "<"),
            e.KEY_DOT: (".", ">"),
            e.KEY_SLASH: ("/", "?"),
        }
    )
    keys.update(_KEYPAD)
    return Keymap("us", keys, {}, frozenset(_LETTER_CODES.values()))


def _de() -> Keymap:
    """German QWERTZ (T1): Y and Z swapped, ':' is Shift+'.', '-' is the key right of '.'."""
    keys: dict[int, tuple[str, str]] = {code: (ch, ch.upper()) for ch, code in _LETTER_CODES.items()}
    keys[e.KEY_Y] = ("z", "Z")
    keys[e.KEY_Z] = ("y", "Y")
    keys.update({code: (d, s) for code, d, s in zip(_DIGIT_CODES, "1234567890", '!"§$%&/()=', strict=True)})
    keys.update(
        {
            e.KEY_MINUS: ("ß", "?"),
            e.KEY_EQUAL: ("\u00b4", "`"),  # dead keys on a real keyboard; scanners send them as plain characters
            e.KEY_LEFTBRACE: ("ü", "Ü"),
            e.KEY_RIGHTBRACE: ("+", "*"),
            e.KEY_BACKSLASH: ("#", "'"),
            e.KEY_SEMICOLON: ("ö", "Ö"),
            e.KEY_APOSTROPHE: ("ä", "Ä"),
            e.KEY_GRAVE: ("^", "°"),
            e.KEY_102ND: ("<", ">"),
            e.KEY_COMMA: (",", ";"),
            e.KEY_DOT: (".", ":"),
            e.KEY_SLASH: ("-", "_"),
        }
    )
    keys.update(_KEYPAD)
    altgr = {
        e.KEY_Q: "@",
        e.KEY_E: "€",
        e.KEY_2: "²",
        e.KEY_3: "³",
        e.KEY_7: "{",
        e.KEY_8: "[",
        e.KEY_9: "]",
        e.KEY_0: "}",
        e.KEY_MINUS: "\\",
        e.KEY_RIGHTBRACE: "~",
        e.KEY_102ND: "|",
        e.KEY_M: "µ",
    }
    letters = frozenset(_LETTER_CODES.values()) | {e.KEY_LEFTBRACE, e.KEY_SEMICOLON, e.KEY_APOSTROPHE}
    return Keymap("de", keys, altgr, letters)


KEYMAPS: dict[str, Keymap] = {"us": _us(), "de": _de()}


def keymap_named(name: str) -> Keymap:
    """The keymap for a config name (``us`` or ``de``)."""
    try:
        return KEYMAPS[name]
    except KeyError:
        raise ScannerConfigError(f"unknown keymap {name!r} (choose from {', '.join(KEYMAPS)})") from None
