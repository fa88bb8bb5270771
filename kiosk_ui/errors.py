"""The kiosk UI's errors and the one table that maps domain errors to screens and HTTP status codes."""

from __future__ import annotations

import enum

from locker.errors import (
    BadInput,
    CodeError,
    DoorDidNotOpen,
    FlowError,
    HardwareError,
    LockerError,
    ManualPathLocked,
    NotCollectable,
    SecondFactorLocked,
    SessionError,
    Throttled,
    WrongCode,
)


class KioskUIError(Exception):
    """Base of errors raised by the kiosk UI itself."""


class CatalogError(KioskUIError):
    """A message catalog is missing, malformed or lacks a key."""


class SpeechError(KioskUIError):
    """espeak-ng is missing or failed to speak a text."""


class ErrorKind(enum.StrEnum):
    """What the citizen is told; each has a title and a text in every catalog."""

    WRONG_CODE = "wrong_code"
    THROTTLED = "throttled"
    DOOR = "door"
    NOT_COLLECTABLE = "not_collectable"
    MANUAL_LOCKED = "manual_locked"
    FACTOR_LOCKED = "factor_locked"
    BAD_INPUT = "bad_input"
    OUT_OF_ORDER = "out_of_order"


# Errors after which typing the code again can help; the others send the citizen elsewhere (QR code, the office).
RETRYABLE = frozenset({ErrorKind.WRONG_CODE, ErrorKind.THROTTLED, ErrorKind.BAD_INPUT})
# Errors that send the citizen to the office: the screen shows where it is, when it is open, its phone.
TO_THE_OFFICE = frozenset(
    {
        ErrorKind.DOOR,
        ErrorKind.NOT_COLLECTABLE,
        ErrorKind.MANUAL_LOCKED,
        ErrorKind.FACTOR_LOCKED,
        ErrorKind.OUT_OF_ORDER,
    }
)


def citizen_error(exc: LockerError) -> ErrorKind:
    """The screen a domain error leads to on the citizen side (WrongCode never says which part was wrong)."""
    if isinstance(exc, Throttled):
        return ErrorKind.THROTTLED
    if isinstance(exc, ManualPathLocked):
        return ErrorKind.MANUAL_LOCKED
    if isinstance(exc, SecondFactorLocked):
        return ErrorKind.FACTOR_LOCKED
    if isinstance(exc, WrongCode):
        return ErrorKind.WRONG_CODE
    if isinstance(exc, NotCollectable):
        return ErrorKind.NOT_COLLECTABLE
    if isinstance(exc, DoorDidNotOpen):
        return ErrorKind.DOOR
    if isinstance(exc, BadInput):
        return ErrorKind.BAD_INPUT
    return ErrorKind.OUT_OF_ORDER


def http_status(exc: LockerError) -> int:
    """HTTP status of a domain error on the JSON API and staff routes."""
    if isinstance(exc, SessionError):
        return 403  # a live session lacking a role or the second person; no session at all is 401 (staff_auth)
    if isinstance(exc, BadInput):
        return 400
    if isinstance(exc, Throttled):
        return 429
    if isinstance(exc, CodeError):
        return 403
    if isinstance(exc, DoorDidNotOpen | HardwareError):
        return 503
    if isinstance(exc, FlowError):
        return 409
    return 500


def staff_refusal(exc: LockerError, fallback: str = "staff.refused") -> tuple[str, dict[str, object]]:
    """The catalog key and parameters a staff screen shows a refusal with: the error's own key in the screen's
    language where the core gave one, else ``fallback`` with the English message as ``detail``."""
    if exc.key:
        return exc.key, dict(exc.params)
    return fallback, {"detail": str(exc)}
