"""What every flow shares: its dependencies, the choice of a free compartment, and the confirmed door opening."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from locker.config import StationConfig
from locker.errors import DoorDidNotOpen, HardwareError, NoFreeCompartment
from locker.model import AlarmKind, Compartment, DoorState, Order
from locker.ports import Clock, LockBank
from locker.store import Store, Tx

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FlowContext:
    store: Store
    bank: LockBank
    clock: Clock
    config: StationConfig


def choose_compartment(config: StationConfig, order: Order, free: list[Compartment]) -> Compartment:
    """Pick a free compartment that fits: reachable ones first when the order asks for it, otherwise keep reachable
    ones for those who need them; then the smallest fitting size; then the lowest number."""
    fitting = [c for c in free if order.size.fits_into(c.size)]
    if not fitting:
        raise NoFreeCompartment(f"no free compartment of size {order.size} or larger").keyed("staff.err.no_free")

    def key(c: Compartment) -> tuple[int, int, int]:
        reach = config.is_reachable(c.number)
        reach_rank = (0 if reach else 1) if order.reachable else (1 if reach else 0)
        return (reach_rank, c.size.rank, c.number)

    return min(fitting, key=key)


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


def open_or_fault(
    ctx: FlowContext,
    number: int,
    actor: str,
    fault: Callable[[Tx, Compartment], None],
    opened: Callable[[Tx], None] | None = None,
) -> None:
    """The door of a cycle already committed: pulse and confirm (``open_door``), then record the confirmed opening
    (and ``opened``, in the same transaction). A door that stayed shut: ``fault`` turns the compartment faulty (and
    undoes what the cycle began) and a DOOR_DID_NOT_OPEN alarm is raised, in one transaction; then DoorDidNotOpen."""
    if open_door(ctx, number):
        with ctx.store.change(actor) as tx:
            c = tx.compartment(number)
            if c.door_confirmed_at is None:
                tx.set_compartment(c, why="door.opened", door_confirmed_at=tx.now)
            if opened is not None:
                opened(tx)
        return
    with ctx.store.change("system") as tx:
        fault(tx, tx.compartment(number))
        tx.raise_alarm(AlarmKind.DOOR_DID_NOT_OPEN, number)
    raise DoorDidNotOpen(number)
