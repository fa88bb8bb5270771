"""The screens, fields, pages and actions of the kiosk, as enums shared by the state machines and templates."""

from __future__ import annotations

import enum


class Screen(enum.StrEnum):
    """Citizen screens (one server-side state machine per kiosk session)."""

    START = "start"
    OUT_OF_SERVICE = "out_of_service"
    MANUAL = "manual"
    DOB = "dob"
    CONFIRM = "confirm"
    OPEN = "open"
    OLD_ID = "old_id"
    CLOSE = "close"
    DONE = "done"
    ERROR = "error"


class Field(enum.StrEnum):
    """The keypad field being typed into."""

    NUMBER = "number"
    PIN = "pin"
    DOB = "dob"


class Page(enum.StrEnum):
    """Which page a kiosk browser should show (the server can send it elsewhere, e.g. after a badge scan)."""

    CITIZEN = "/"
    STAFF_LOGIN = "/staff/login"
    STAFF = "/staff"


class Action(enum.StrEnum):
    """What a citizen can do on a screen (the ``a`` field of POST /act)."""

    LANG = "lang"
    MANUAL = "manual"
    KEY = "key"
    DELETE = "delete"
    OK = "ok"
    FIELD = "field"
    CANCEL = "cancel"
    CONFIRM = "confirm"
    NEXT = "next"
    MORE_TIME = "more_time"
    SPEECH = "speech"
    LARGE = "large"
    CONTRAST = "contrast"
    START = "start"


class StaffScreen(enum.StrEnum):
    MENU = "menu"
    LOAD = "load"
    RETURNS = "returns"
    MAINTENANCE = "maintenance"
    FAULTS = "faults"


class StaffAction(enum.StrEnum):
    """What staff can do (the ``a`` field of POST /staff/act)."""

    GO = "go"
    LABEL = "label"
    TAKE_OUT = "take_out"
    MAINT_OPEN = "maint_open"
    DISABLE = "disable"
    ENABLE = "enable"
    LANG = "lang"


# Screens on which a door cycle runs: no inactivity reset there (the door-left-open alarm covers them).
DOOR_SCREENS = frozenset({Screen.OPEN, Screen.OLD_ID, Screen.CLOSE})
# Screens where a scanned pickup code starts a new attempt.
SCAN_SCREENS = frozenset({Screen.START, Screen.MANUAL, Screen.ERROR})
KEYPAD_KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", Action.DELETE.value, "0", Action.OK.value)
