"""What every flow shares: its dependencies and the confirmed door opening (with one checked retry)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from locker.config import StationConfig
from locker.errors import HardwareError
from locker.model import DoorState
from locker.ports import Clock, LockBank
from locker.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FlowContext:
    store: Store
    bank: LockBank
    clock: Clock
    config: StationConfig


def open_door(ctx: FlowContext, compartment: int) -> bool:
    """Pulse the lock and confirm by the door sensor; on failure re-read the state, then retry once.

    Never retries blindly: if the re-read shows the door open, the first pulse worked. Hardware errors count as
    "did not open" and are logged (the caller turns that into a fault and an alarm).
    """
    confirm_s = ctx.config.timing.unlock_confirm_s
    for attempt in (1, 2):
        try:
            if ctx.bank.unlock(compartment, confirm_s).opened:
                return True
        except HardwareError as exc:
            log.warning("unlock of compartment %s failed (attempt %s): %s", compartment, attempt, exc)
        try:
            if ctx.bank.read(compartment).door == DoorState.OPEN:
                return True
        except HardwareError as exc:
            log.warning("cannot read compartment %s after unlock: %s", compartment, exc)
    return False
