"""Staff loading: scan an order label, choose a fitting free compartment, open it; door closed = stored."""

from __future__ import annotations

from dataclasses import dataclass

from locker import codes
from locker.errors import BadInput, DoorDidNotOpen, FlowError, NoFreeCompartment, StoreError
from locker.flows.common import FlowContext, open_door
from locker.model import AlarmKind, Compartment, CompartmentState, Order, OrderState
from locker.staff import StaffAuth


@dataclass(frozen=True)
class LoadAssignment:
    order_id: str
    compartment: int
    reachable: bool  # the chosen compartment's handle is within the reachable band


class LoadingFlow:
    def __init__(self, ctx: FlowContext, staff: StaffAuth) -> None:
        self.ctx = ctx
        self.staff = staff

    def choose(self, order: Order, free: list[Compartment]) -> Compartment:
        """Pick a free compartment that fits: reachable ones first when the order asks for it, otherwise
        keep reachable ones for those who need them; then the smallest fitting size; then the lowest number."""
        cfg = self.ctx.config
        fitting = [c for c in free if order.size.fits_into(c.size)]
        if not fitting:
            raise NoFreeCompartment(f"no free compartment of size {order.size} or larger").keyed("staff.err.no_free")

        def key(c: Compartment) -> tuple[int, int, int]:
            reach = cfg.is_reachable(c.number)
            reach_rank = (0 if reach else 1) if order.reachable else (1 if reach else 0)
            return (reach_rank, c.size.rank, c.number)

        return min(fitting, key=key)

    def scan_label(self, session_id: str, label_text: str) -> LoadAssignment:
        cfg = self.ctx.config
        session = self.staff.require(session_id, four_eyes=cfg.policy.four_eyes_loading, role="loader")
        order_id = codes.parse_label(label_text)
        store = self.ctx.store
        actor = StaffAuth.actor(session)
        with store.change(actor) as tx:
            try:
                order = tx.order(order_id)
            except StoreError as exc:
                raise BadInput("this label belongs to no order known at this station").keyed(
                    "staff.err.unknown_label"
                ) from exc
            if order.state != OrderState.ANNOUNCED or order.compartment is not None:
                raise FlowError(f"order {order_id} is {order.state}; it cannot be loaded").keyed(
                    "staff.err.not_loadable", order=order_id
                )
            if order.valid_until <= tx.now:
                raise FlowError(f"order {order_id} has expired; take it back to the office").keyed(
                    "staff.err.expired", order=order_id
                )
            free = [c for c in store.compartments() if c.state == CompartmentState.FREE]
            comp = self.choose(order, free)
            tx.set_compartment(
                comp,
                CompartmentState.LOADING,
                why="load",
                order_id=order.id,
                content="none",
                door_confirmed_at=None,
            )
            tx.set_order(order, why="load.assigned", compartment=comp.number)
        if open_door(self.ctx, comp.number):
            with store.change(actor) as tx:
                c = tx.compartment(comp.number)
                if c.door_confirmed_at is None:
                    tx.set_compartment(c, why="door.opened", door_confirmed_at=tx.now)
            return LoadAssignment(order_id, comp.number, cfg.is_reachable(comp.number))
        with store.change("system") as tx:
            c = tx.compartment(comp.number)
            tx.set_compartment(
                c, CompartmentState.FAULTY, why="door.did_not_open", order_id=None, reason="did not open"
            )
            tx.set_order(tx.order(order_id), why="load.unassigned", compartment=None)
            tx.raise_alarm(AlarmKind.DOOR_DID_NOT_OPEN, comp.number)
        raise DoorDidNotOpen(comp.number)
