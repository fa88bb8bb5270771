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
    CLOSE = "close"
    TAKEN = "taken"  # no item sensor: "have you taken your document?"
    LEFT_BEHIND = "left_behind"  # the door closed on the document: open again, or it stays for later
    OLD_ID = "old_id"  # the city asks for the old ID card: open the door for it, or "I do not have it"
    OLD_ID_OPEN = "old_id_open"  # the door is open for the old ID card
    OLD_ID_CHECK = "old_id_check"  # no item sensor: "is your old ID card inside?"
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
    OPEN_AGAIN = "open_again"
    TAKEN = "taken"
    OLD_ID_OPEN = "old_id_open"
    INSIDE = "inside"
    NOT_INSIDE = "not_inside"
    MORE_TIME = "more_time"
    SPEECH = "speech"
    LARGE = "large"
    CONTRAST = "contrast"
    START = "start"


class StaffScreen(enum.StrEnum):
    MENU = "menu"
    LOAD = "load"
    RETURNS = "returns"
    COUNTER = "counter"  # hand a document over in person
    MOVE = "move"  # move a stored document to another compartment
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
    INSIDE = "inside"  # a loading without item sensor: the envelope is inside
    EMPTY = "empty"  # ... it is not: undo the assignment
    REOPEN = "reopen"  # ... open the door again
    CHOOSE = "choose"  # counter: pick the order to hand over (the statement is shown next)
    HAND_OVER = "hand_over"  # counter: the citizen confirmed receipt on this screen; open the door (or record it)
    TAKEN_OUT = "taken_out"  # counter, no item sensor: staff took the document out
    NOT_TAKEN = "not_taken"  # ... it is still inside
    MOVE = "move"  # move: open the chosen order's compartment for staff to take the envelope out
    MOVED_OUT = "moved_out"  # move, no item sensor: the envelope is out of the source (the target opens next)
    MOVE_KEPT = "move_kept"  # ... it is still inside the source
    MOVE_OPEN = "move_open"  # move: open the waiting target
    MOVED_IN = "moved_in"  # move, no item sensor: the envelope is inside the target
    MOVE_NOT_IN = "move_not_in"  # ... staff still hold it
    MOVE_GIVE_UP = "move_give_up"  # move: give up, staff keep the envelope and hand it over at the counter


# Screens on which a door cycle runs: no inactivity reset there (the door-left-open alarm covers them).
DOOR_SCREENS = frozenset({Screen.OPEN, Screen.CLOSE, Screen.OLD_ID_OPEN})
# Screens that wait for the citizen's answer about a closed compartment (boards without item sensor): leaving them
# unanswered settles the compartment on the safe side (``PickupFlow.walked_away``).
ANSWER_SCREENS = frozenset({Screen.TAKEN, Screen.OLD_ID_CHECK})
# Screens where a scanned pickup code starts a new attempt.
SCAN_SCREENS = frozenset({Screen.START, Screen.MANUAL, Screen.ERROR})
KEYPAD_KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", Action.DELETE.value, "0", Action.OK.value)
