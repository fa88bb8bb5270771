"""One lock pulse and its confirmation by reading the board: the door must read open; never a second pulse."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from firmware_bridge.driver import BoardDriver, BoardStatus
from firmware_bridge.errors import BridgeError, LockMapError
from locker.model import DoorState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Confirmed:
    """Outcome of one pulse-and-confirm: whether the door read open, after how long, and the last status read."""

    opened: bool
    ms: float
    status: BoardStatus | None


def confirm_open(
    driver: BoardDriver,
    board: int,
    lock: int,
    confirm_s: float,
    *,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    poll_s: float = 0.02,
    on_status: Callable[[BoardStatus], None] | None = None,
) -> BoardStatus | None:
    """Read the board until ``lock`` reads open (returns that status) or ``confirm_s`` passes (returns None).

    Read errors are retried until the deadline; if no read succeeded at all the last error is raised.
    """
    deadline = monotonic() + confirm_s
    last_error: BridgeError | None = None
    read_once = False
    while True:
        try:
            status = driver.status(board)
        except BridgeError as exc:
            last_error = exc
            log.warning("%s: reading board %d after the unlock failed: %s", driver.name, board, exc)
        else:
            read_once = True
            if on_status is not None:
                on_status(status)
            if lock not in status.doors:
                raise LockMapError(f"{driver.name}: board {board} has no lock {lock} (has 1..{len(status.doors)})")
            if status.doors[lock] is DoorState.OPEN:
                return status
        remaining = deadline - monotonic()
        if remaining <= 0:
            break
        sleep(min(poll_s, remaining))
    if not read_once and last_error is not None:
        raise last_error
    return None


def pulse_and_confirm(
    driver: BoardDriver,
    board: int,
    lock: int,
    confirm_s: float,
    *,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    poll_s: float = 0.02,
) -> Confirmed:
    """Pulse once, then confirm by reading (never pulses again); ValueError from the driver becomes LockMapError."""
    t0 = monotonic()
    try:
        driver.pulse(board, lock)
    except ValueError as exc:
        raise LockMapError(f"{driver.name}: board {board} lock {lock}: {exc}") from exc
    status = confirm_open(driver, board, lock, confirm_s, monotonic=monotonic, sleep=sleep, poll_s=poll_s)
    return Confirmed(status is not None, (monotonic() - t0) * 1000, status)
