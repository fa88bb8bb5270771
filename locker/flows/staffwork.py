"""Staff work on compartments: take out expired/cancelled orders and old IDs, hand over at the counter,
maintenance, disable/enable."""

from __future__ import annotations

import json

from locker.errors import BadInput, FlowError, StoreError
from locker.flows import handover
from locker.flows.common import FlowContext, open_or_fault
from locker.flows.handover import Witness
from locker.flows.statements import check_statement
from locker.model import AlarmKind, Compartment, CompartmentState, Content, OpenPurpose, Order, OrderState, Statement
from locker.remote import Receipt
from locker.staff import StaffAuth
from locker.store import Tx

# In a door cycle, or waiting for the answer of the person who just closed the door: not for staff to act on.
_BUSY = (CompartmentState.LOADING, CompartmentState.OPENING, CompartmentState.CHECKING)


def _begin(tx: Tx, c: Compartment, purpose: OpenPurpose) -> None:
    """A staff door cycle starts: the compartment opens for ``purpose`` and goes back to its state afterwards."""
    tx.set_compartment(
        c, CompartmentState.OPENING, why=purpose.value, purpose=purpose, resume_state=c.state, door_confirmed_at=None
    )


def _reason(text: str) -> str:
    r = " ".join(text.split())
    if len(r) < 3 or len(r) > 200:
        raise BadInput("give a reason (3 to 200 characters)").keyed("staff.err.reason")
    return r


class StaffWorkFlow:
    def __init__(self, ctx: FlowContext, staff: StaffAuth) -> None:
        self.ctx = ctx
        self.staff = staff

    def returnable(self) -> list[Compartment]:
        """Compartments staff should empty: expired or cancelled orders, failed handovers, old IDs."""
        out = []
        for c in self.ctx.store.compartments():
            if c.order_id is None or c.state in _BUSY:
                continue
            o = self.ctx.store.order(c.order_id)
            if o is None:
                continue
            if self._is_returnable(c, o):
                out.append(c)
        return out

    @staticmethod
    def _is_returnable(c: Compartment, o: Order) -> bool:
        if c.content == Content.OLD_ID:
            return True
        if o.state in (OrderState.EXPIRED, OrderState.CANCELLED):
            return True
        # a handover that failed (a door that did not open, a cycle cut short): staff may hand it over at the office
        return o.state == OrderState.STORED and (o.code_used or c.state == CompartmentState.FAULTY)

    def take_out(self, session_id: str, number: int) -> int:
        session = self.staff.require(session_id, role="loader")
        actor = StaffAuth.actor(session)
        with self.ctx.store.change(actor) as tx:
            c = tx.compartment(number)
            o = tx.order(c.order_id) if c.order_id else None
            if o is None or c.state in _BUSY or not self._is_returnable(c, o):
                raise FlowError(f"compartment {number} holds nothing to take back").keyed(
                    "staff.err.nothing_to_take", n=number
                )
            _begin(tx, c, OpenPurpose.RETURN)
        return self._open(number, actor)

    # -- hand over at the counter -------------------------------------------------------------------------------
    def counter_orders(self) -> list[Order]:
        """Orders staff may hand over in person: stored or expired in a compartment, or returned to the office."""
        out = []
        for o in self.ctx.store.orders([OrderState.STORED, OrderState.EXPIRED, OrderState.RETURNED]):
            if o.state == OrderState.RETURNED:
                out.append(o)
                continue
            c = self.ctx.store.compartment(o.compartment) if o.compartment is not None else None
            if c is not None and c.order_id == o.id and c.content == Content.DOCUMENT and c.state not in _BUSY:
                out.append(o)
        return out

    def counter_hand_over(self, session_id: str, order_id: str, statement: Statement) -> int | None:
        """Hand a document over in person, the citizen having confirmed receipt on the staff screen (``statement``,
        in the screen's language). A document in a compartment: the door opens for staff to take it out, and the
        handover is recorded when it has closed on an empty compartment (sensor, or staff's word). A returned
        document (already at the office): recorded at once. Returns the compartment opened, or None."""
        check_statement(statement)
        session = self.staff.require(session_id, role="loader")
        actor = StaffAuth.actor(session)
        receipt = json.dumps(
            {"method": "counter", "statement": statement.as_dict(), "staff": list(session.staff)}, sort_keys=True
        )
        with self.ctx.store.change(actor) as tx:
            try:
                o = tx.order(order_id)
            except StoreError as exc:  # an order id the staff screen never offered
                raise FlowError(f"no order {order_id}").keyed("staff.err.not_handable", order=order_id) from exc
            if o.state not in (OrderState.STORED, OrderState.EXPIRED, OrderState.RETURNED):
                raise FlowError(f"order {order_id} is {o.state}; it cannot be handed over").keyed(
                    "staff.err.not_handable", order=order_id
                )
            tx.audit("counter.receipt_confirmed", order=o.id, statement=statement.as_dict(), staff=session.staff)
            o = tx.set_order(o, why="counter.receipt_confirmed", receipt=receipt)
            if o.state == OrderState.RETURNED:
                handover.handed_over(tx, o, None, Witness.STAFF)
                return None
            c = tx.compartment(o.compartment) if o.compartment is not None else None
            if c is None or c.order_id != o.id or c.content != Content.DOCUMENT or c.state in _BUSY:
                raise FlowError(f"order {order_id} is not in a compartment staff can open now").keyed(
                    "staff.err.not_handable", order=order_id
                )
            _begin(tx, c, OpenPurpose.COUNTER)
            number = c.number
        return self._open(number, actor)

    def counter_taken(self, session_id: str, number: int, taken: bool) -> None:
        """Staff's answer after a counter handover's door closed on a board without item sensor."""
        session = self.staff.require(session_id, role="loader")
        with self.ctx.store.change(StaffAuth.actor(session)) as tx:
            c = tx.compartment(number)
            if c.state != CompartmentState.CHECKING or c.purpose != OpenPurpose.COUNTER or c.order_id is None:
                raise FlowError(f"compartment {number} is not waiting for a handover's answer").keyed(
                    "staff.err.not_checking", n=number
                )
            o = tx.order(c.order_id)
            if taken:
                handover.collected(tx, c, o, Witness.STAFF)
            else:
                handover.not_handed_over(tx, c, o, Witness.STAFF)

    def maintenance_open(self, session_id: str, number: int, reason: str) -> int:
        session = self.staff.require(session_id, role="maintenance")
        return self._maintenance_open(StaffAuth.actor(session), number, reason)

    def remote_open(self, issued_by: str, number: int, reason: str, receipt: Receipt | None = None) -> int:
        """A maintenance opening commanded by the hub (signed command): audited as ``remote:<issuer>``.

        ``receipt`` records the command in the flow's transactions: started with the door cycle, before the pulse;
        done with the confirmed opening, failed with the fault when the door did not open.
        """
        return self._maintenance_open(f"remote:{issued_by}", number, f"remote: {reason}"[:200], receipt)

    def _maintenance_open(self, actor: str, number: int, reason: str, receipt: Receipt | None = None) -> int:
        why = _reason(reason)
        with self.ctx.store.change(actor) as tx:
            c = tx.compartment(number)
            if c.state in _BUSY:
                raise FlowError(f"compartment {number} is in a door cycle").keyed("staff.err.in_cycle", n=number)
            _begin(tx, c, OpenPurpose.MAINTENANCE)
            tx.audit("maintenance.reason", compartment=number, reason=why)
            if receipt is not None:
                receipt.started(tx)
        return self._open(number, actor, receipt)

    def _open(self, number: int, actor: str, receipt: Receipt | None = None) -> int:
        def fault(tx: Tx, c: Compartment) -> None:
            tx.set_compartment(
                c,
                CompartmentState.FAULTY,
                why="door.did_not_open",
                purpose=None,
                resume_state=None,
                reason="did not open",
            )
            if receipt is not None:
                receipt.failed(tx, f"compartment {number} did not open")

        open_or_fault(self.ctx, number, actor, fault, receipt.done if receipt is not None else None)
        return number

    def disable(self, session_id: str, number: int, reason: str) -> None:
        session = self.staff.require(session_id, role="maintenance")
        self._disable(StaffAuth.actor(session), number, reason)

    def remote_disable(self, issued_by: str, number: int, reason: str, receipt: Receipt | None = None) -> None:
        """Disabling commanded by the hub; ``receipt`` records the command done in the same transaction."""
        self._disable(f"remote:{issued_by}", number, f"remote: {reason}"[:200], receipt)

    def _disable(self, actor: str, number: int, reason: str, receipt: Receipt | None = None) -> None:
        why = _reason(reason)
        with self.ctx.store.change(actor) as tx:
            c = tx.compartment(number)
            if c.state in _BUSY:
                raise FlowError(f"compartment {number} is in a door cycle").keyed("staff.err.in_cycle", n=number)
            if c.state != CompartmentState.DISABLED:
                tx.set_compartment(c, CompartmentState.DISABLED, why="disabled", reason=why)
            if receipt is not None:
                receipt.done(tx)

    def enable(self, session_id: str, number: int) -> None:
        """Put a disabled or faulty compartment back in service (staff checked it); clears its alarms."""
        session = self.staff.require(session_id, role="maintenance")
        self._enable(StaffAuth.actor(session), number)

    def remote_enable(self, issued_by: str, number: int, receipt: Receipt | None = None) -> None:
        """Enabling commanded by the hub; ``receipt`` records the command done in the same transaction."""
        self._enable(f"remote:{issued_by}", number, receipt)

    def _enable(self, actor: str, number: int, receipt: Receipt | None = None) -> None:
        with self.ctx.store.change(actor) as tx:
            c = tx.compartment(number)
            if c.state not in (CompartmentState.DISABLED, CompartmentState.FAULTY):
                raise FlowError(f"compartment {number} is {c.state}, not disabled or faulty").keyed(
                    "staff.err.not_disabled", n=number
                )
            target = CompartmentState.OCCUPIED if c.order_id else CompartmentState.FREE
            tx.set_compartment(c, target, why="enabled", reason="")
            for kind in (
                AlarmKind.DOOR_FORCED,
                AlarmKind.DOOR_DID_NOT_OPEN,
                AlarmKind.SENSOR_DISAGREES,
                AlarmKind.INTERRUPTED_CYCLE,
                AlarmKind.DOOR_LEFT_OPEN,
                AlarmKind.DOCUMENT_LEFT_BEHIND,
            ):
                tx.clear_alarm(kind, number)
            if receipt is not None:
                receipt.done(tx)

    def reset_manual_path(self, session_id: str, order_id: str) -> None:
        session = self.staff.require(session_id)
        with self.ctx.store.change(StaffAuth.actor(session)) as tx:
            o = tx.order(order_id)
            tx.set_order(o, why="manual.reset", manual_failures=0, factor_failures=0)
            if o.manual_failures >= self.ctx.config.policy.manual_max_failures:
                tx.outbox("manual_path", order=o.id, locked=False)
