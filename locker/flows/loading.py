"""Staff loading: scan an order label, choose a fitting free compartment, open it; door closed = stored."""

from __future__ import annotations

from dataclasses import dataclass

from locker import codes
from locker.errors import BadInput, FlowError, StoreError
from locker.flows import handover
from locker.flows.common import FlowContext, choose_compartment, open_or_fault
from locker.flows.handover import Witness
from locker.model import Compartment, CompartmentState, Order, OrderState
from locker.staff import StaffAuth
from locker.store import Tx


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
        """Pick a free compartment that fits the order (``common.choose_compartment``)."""
        return choose_compartment(self.ctx.config, order, free)

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
        return self._open(actor, order_id, comp.number)

    def envelope_inside(self, session_id: str, number: int, inside: bool) -> None:
        """Staff answer after a loading's door closed on a board without item sensor: inside -> stored (and the
        citizen is notified); not inside -> the assignment is undone."""
        session = self.staff.require(session_id, role="loader")
        with self.ctx.store.change(StaffAuth.actor(session)) as tx:
            c = self._checking(tx, number)
            assert c.order_id is not None
            order = tx.order(c.order_id)
            if inside:
                handover.stored(tx, c, order, Witness.STAFF)
            else:
                handover.not_loaded(tx, c, order, Witness.STAFF)

    def reopen(self, session_id: str, number: int) -> LoadAssignment:
        """Open a loading's compartment again before staff answered (e.g. to put the envelope in after all)."""
        session = self.staff.require(session_id, role="loader")
        actor = StaffAuth.actor(session)
        with self.ctx.store.change(actor) as tx:
            c = self._checking(tx, number)
            assert c.order_id is not None
            order_id = c.order_id
            tx.set_compartment(c, CompartmentState.LOADING, why="load.reopened", door_confirmed_at=None)
        return self._open(actor, order_id, number)

    @staticmethod
    def _checking(tx: Tx, number: int) -> Compartment:
        c = tx.compartment(number)
        if c.state != CompartmentState.CHECKING or c.purpose is not None or c.order_id is None:
            raise FlowError(f"compartment {number} is not waiting for a loading's answer").keyed(
                "staff.err.not_checking", n=number
            )
        return c

    def _open(self, actor: str, order_id: str, number: int) -> LoadAssignment:
        def fault(tx: Tx, c: Compartment) -> None:
            tx.set_compartment(
                c, CompartmentState.FAULTY, why="door.did_not_open", order_id=None, reason="did not open"
            )
            tx.set_order(tx.order(order_id), why="load.unassigned", compartment=None)

        open_or_fault(self.ctx, number, actor, fault)
        return LoadAssignment(order_id, number, self.ctx.config.is_reachable(number))
