"""Staff move a stored document to another compartment: same order, same codes, no notice (a faulty lock, or a
compartment the citizen can reach)."""

from __future__ import annotations

from locker.errors import DoorDidNotOpen, FlowError, NoFreeCompartment, StoreError
from locker.flows import handover
from locker.flows.common import FlowContext, choose_compartment, open_or_fault
from locker.flows.handover import Witness
from locker.model import AlarmKind, Compartment, CompartmentState, Content, OpenPurpose, Order, OrderState
from locker.staff import StaffAuth
from locker.store import Tx

# Where a stored document may lie when staff move it: in service, or taken out of it (a jammed lock, a disabled one).
_HOLDING = (CompartmentState.OCCUPIED, CompartmentState.FAULTY, CompartmentState.DISABLED)


def is_pending_target(c: Compartment) -> bool:
    """A move's target waiting for staff to open it (``Compartment.waits_for_move``)."""
    return c.waits_for_move


class MoveFlow:
    """The move, step by step (docs/operations.md, "Move a document"):

    1. ``start``: a free target that fits must exist (else nothing opens: hand over at the counter); the source opens
       for staff (purpose move; also a faulty or disabled one). It did not open: faulty, alarm, the order stays.
    2. The source closed: empty (sensor, or staff's word in ``source_answer``) -> in the same transaction the source
       is free (a faulty or disabled one stays so), the order points at the target (LOADING, ``move_from``);
       still inside -> back as it was.
    3. ``open_target``: the target opens. It did not open: faulty, alarm, and the order points at the next free
       target, or is returned when there is none (staff hand it over at the counter).
    4. The target closed: the envelope inside (sensor, or ``target_answer``) -> stored there, outbox ``moved``;
       not inside -> the target waits to be opened again. ``give_up`` ends a waiting move: returned, at the counter.
    """

    def __init__(self, ctx: FlowContext, staff: StaffAuth) -> None:
        self.ctx = ctx
        self.staff = staff

    def movable(self) -> list[Order]:
        """Stored orders whose document lies in a compartment no door cycle is using."""
        out = []
        for o in self.ctx.store.orders([OrderState.STORED]):
            c = self.ctx.store.compartment(o.compartment) if o.compartment is not None else None
            if c is not None and self._holds(c, o):
                out.append(o)
        return out

    def pending(self) -> list[Compartment]:
        """Targets waiting for staff to open them."""
        return [c for c in self.ctx.store.compartments() if is_pending_target(c)]

    @staticmethod
    def _holds(c: Compartment, o: Order) -> bool:
        return c.order_id == o.id and c.content == Content.DOCUMENT and c.state in _HOLDING and not o.code_used

    def start(self, session_id: str, order_id: str) -> int:
        """Open the order's compartment for staff to take the envelope out; returns its number."""
        session = self.staff.require(session_id, role="loader")
        actor = StaffAuth.actor(session)
        with self.ctx.store.change(actor) as tx:
            try:
                o = tx.order(order_id)
            except StoreError as exc:
                raise FlowError(f"no order {order_id}").keyed("staff.err.not_movable", order=order_id) from exc
            c = tx.compartment(o.compartment) if o.compartment is not None else None
            if o.state != OrderState.STORED or c is None or not self._holds(c, o):
                raise FlowError(f"order {order_id} is not in a compartment staff can move it from").keyed(
                    "staff.err.not_movable", order=order_id
                )
            free = [x for x in tx.compartments(CompartmentState.FREE) if x.number != c.number]
            try:
                choose_compartment(self.ctx.config, o, free)
            except NoFreeCompartment as exc:  # nothing opens: staff hand the document over at the counter instead
                raise exc.keyed("staff.err.no_move_target", order=order_id) from None
            tx.audit("move.started", order=o.id, compartment=c.number)
            tx.set_compartment(c, CompartmentState.OPENING, why="move", purpose=OpenPurpose.MOVE, resume_state=c.state)
            number = c.number

        def jammed(tx: Tx, src: Compartment) -> None:  # the order stays where it is; staff hand it over instead
            tx.set_compartment(
                src,
                CompartmentState.FAULTY,
                why="door.did_not_open",
                purpose=None,
                resume_state=None,
                reason="did not open",
            )

        try:
            open_or_fault(self.ctx, number, actor, jammed)
        except DoorDidNotOpen as exc:
            raise exc.keyed("staff.err.move_source_jammed", n=number) from None
        return number

    def source_answer(self, session_id: str, number: int, taken: bool) -> int | None:
        """Staff's answer after the source closed on a board without item sensor: taken out -> the order points at
        the target (returned; None when no target is left); still inside -> back as it was."""
        session = self.staff.require(session_id, role="loader")
        with self.ctx.store.change(StaffAuth.actor(session)) as tx:
            c = tx.compartment(number)
            checking = c.state == CompartmentState.CHECKING and c.purpose == OpenPurpose.MOVE
            if not checking or c.move_from is not None or c.order_id is None:
                raise FlowError(f"compartment {number} is not waiting for a move's answer").keyed(
                    "staff.err.not_checking", n=number
                )
            o = tx.order(c.order_id)
            if not taken:
                handover.not_handed_over(tx, c, o, Witness.STAFF)
                return number
            return handover.moved_out(tx, c, o, Witness.STAFF, self.ctx.config)

    def open_target(self, session_id: str, number: int) -> int:
        """Open a waiting target for staff to put the envelope in. Did not open: the order points at the next free
        target (DoorDidNotOpen names it in ``params["to"]``), or is returned when none is left."""
        session = self.staff.require(session_id, role="loader")
        actor = StaffAuth.actor(session)
        with self.ctx.store.change(actor) as tx:
            c = tx.compartment(number)
            if not is_pending_target(c) or c.order_id is None:
                raise FlowError(f"compartment {number} is not waiting for a moved document").keyed(
                    "staff.err.not_move_target", n=number
                )
            order_id, source = c.order_id, c.move_from
        nxt: list[int | None] = []

        def jammed(tx: Tx, t: Compartment) -> None:
            tx.set_compartment(
                t,
                CompartmentState.FAULTY,
                why="door.did_not_open",
                order_id=None,
                purpose=None,
                move_from=None,
                reason="did not open",
            )
            assert source is not None
            nxt.append(handover.retarget(tx, tx.order(order_id), source, self.ctx.config))

        try:
            open_or_fault(self.ctx, number, actor, jammed)
        except DoorDidNotOpen as exc:
            to = nxt[0] if nxt else None
            key = "staff.err.move_target_jammed" if to is not None else "staff.err.move_no_target"
            raise exc.keyed(key, n=number, to=to or 0) from None
        return number

    def target_answer(self, session_id: str, number: int, inside: bool) -> None:
        """Staff's answer after the target closed on a board without item sensor."""
        session = self.staff.require(session_id, role="loader")
        with self.ctx.store.change(StaffAuth.actor(session)) as tx:
            c = tx.compartment(number)
            if c.state != CompartmentState.CHECKING or c.move_from is None or c.order_id is None:
                raise FlowError(f"compartment {number} is not waiting for a move's answer").keyed(
                    "staff.err.not_checking", n=number
                )
            o = tx.order(c.order_id)
            if inside:
                handover.moved_in(tx, c, o, Witness.STAFF)
            else:
                handover.move_not_in(tx, c, o, Witness.STAFF)

    def give_up(self, session_id: str, number: int) -> str:
        """End a waiting move: staff keep the envelope and hand it over at the counter (the order is returned, the
        target free again). Returns the order id."""
        session = self.staff.require(session_id, role="loader")
        with self.ctx.store.change(StaffAuth.actor(session)) as tx:
            c = tx.compartment(number)
            if not is_pending_target(c) or c.order_id is None:
                raise FlowError(f"compartment {number} is not waiting for a moved document").keyed(
                    "staff.err.not_move_target", n=number
                )
            o = tx.order(c.order_id)
            tx.set_compartment(
                c, CompartmentState.FREE, why="move.gave_up", order_id=None, purpose=None, move_from=None
            )
            tx.clear_alarm(AlarmKind.INTERRUPTED_CYCLE, number)
            handover.gave_up(tx, o, c.move_from, "staff gave up")
            return o.id
