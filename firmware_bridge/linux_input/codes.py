"""Event types and codes the station reads, copied from the kernel's include/uapi/linux/input-event-codes.h.

Only what the project uses; tests/unit/test_linux_input.py checks every value against the header where it is
installed (Debian's linux-libc-dev: /usr/include/linux/input-event-codes.h).
"""

from __future__ import annotations

from typing import Final

# Event types
EV_SYN: Final = 0x00
EV_KEY: Final = 0x01
EV_MSC: Final = 0x04
EV_SW: Final = 0x05

# Synchronization events (EV_SYN)
SYN_REPORT: Final = 0

# Misc events (EV_MSC): the scan code a keyboard sends before the key event
MSC_SCAN: Final = 0x04

# Switch events (EV_SW): a headset plugged into the jack
SW_HEADPHONE_INSERT: Final = 0x02
SW_MAX: Final = 0x10

# Keys (EV_KEY), named by their place on a US keyboard: the letters, digits and punctuation of the main block and
# the keypad, Enter, Tab, Space and the modifiers. KEY_102ND is the key between left Shift and Z on ISO keyboards.
KEY_1: Final = 2
KEY_2: Final = 3
KEY_3: Final = 4
KEY_4: Final = 5
KEY_5: Final = 6
KEY_6: Final = 7
KEY_7: Final = 8
KEY_8: Final = 9
KEY_9: Final = 10
KEY_0: Final = 11
KEY_MINUS: Final = 12
KEY_EQUAL: Final = 13
KEY_TAB: Final = 15
KEY_Q: Final = 16
KEY_W: Final = 17
KEY_E: Final = 18
KEY_R: Final = 19
KEY_T: Final = 20
KEY_Y: Final = 21
KEY_U: Final = 22
KEY_I: Final = 23
KEY_O: Final = 24
KEY_P: Final = 25
KEY_LEFTBRACE: Final = 26
KEY_RIGHTBRACE: Final = 27
KEY_ENTER: Final = 28
KEY_LEFTCTRL: Final = 29
KEY_A: Final = 30
KEY_S: Final = 31
KEY_D: Final = 32
KEY_F: Final = 33
KEY_G: Final = 34
KEY_H: Final = 35
KEY_J: Final = 36
KEY_K: Final = 37
KEY_L: Final = 38
KEY_SEMICOLON: Final = 39
KEY_APOSTROPHE: Final = 40
KEY_GRAVE: Final = 41
KEY_LEFTSHIFT: Final = 42
KEY_BACKSLASH: Final = 43
KEY_Z: Final = 44
KEY_X: Final = 45
KEY_C: Final = 46
KEY_V: Final = 47
KEY_B: Final = 48
KEY_N: Final = 49
KEY_M: Final = 50
KEY_COMMA: Final = 51
KEY_DOT: Final = 52
KEY_SLASH: Final = 53
KEY_RIGHTSHIFT: Final = 54
KEY_KPASTERISK: Final = 55
KEY_LEFTALT: Final = 56
KEY_SPACE: Final = 57
KEY_CAPSLOCK: Final = 58
KEY_KP7: Final = 71
KEY_KP8: Final = 72
KEY_KP9: Final = 73
KEY_KPMINUS: Final = 74
KEY_KP4: Final = 75
KEY_KP5: Final = 76
KEY_KP6: Final = 77
KEY_KPPLUS: Final = 78
KEY_KP1: Final = 79
KEY_KP2: Final = 80
KEY_KP3: Final = 81
KEY_KP0: Final = 82
KEY_KPDOT: Final = 83
KEY_102ND: Final = 86
KEY_KPENTER: Final = 96
KEY_RIGHTCTRL: Final = 97
KEY_KPSLASH: Final = 98
KEY_RIGHTALT: Final = 100

_KEY_NAMES: dict[int, str] = {value: name for name, value in globals().items() if name.startswith("KEY_")}


def key_name(code: int) -> str:
    """The header's name of a key code (``KEY_A``), or the number for a key this module does not list."""
    return _KEY_NAMES.get(code, str(code))
