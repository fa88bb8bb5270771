"""Door and board events: finishing door cycles on close, forced doors, sensor disagreement, timers."""

from __future__ import annotations

import logging
from collections.abc import Callable

from locker.errors import HardwareError, StoreError
from locker.flows import handover
from locker.flows.common import FlowContext
from locker.flows.handover import Witness
from locker.model import AlarmKind, Compartment, CompartmentState, Content, OpenPurpose, Order, OrderState
from locker.ports import DoorEvent, DoorEventKind
from locker.store import Tx

log = logging.getLogger(__name__)

IN_CYCLE = (CompartmentState.LOADING, CompartmentState.OPENING)
# What a closed door means for one door cycle, given what is inside (``handover``).
_Outcome = Callable[[Tx, Compartment, Order, Witness], object]


class DoorFlow:
    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx
        # Door cycles begun before this start (continued by recovery): no screen remembers the citizen who began
        # them, so nobody can answer a question about them when the door closes.
        self.orphaned: set[int] = set()

    def handle(self, event: DoorEvent) -> None:
        """Apply one lock-bank event to the station state."""
        k = event.kind
        if k in (DoorEventKind.BOARD_OFFLINE, DoorEventKind.BOARD_ONLINE):
            with self.ctx.store.change("system") as tx:
                if k == DoorEventKind.BOARD_OFFLINE:
                    tx.raise_alarm(AlarmKind.BOARD_OFFLINE, board=event.board)
                else:
                    tx.clear_alarm(AlarmKind.BOARD_OFFLINE, board=event.board)
            return
        if event.compartment is None:
            return
        try:
            self.ctx.store.compartment(event.compartment)
        except StoreError:
            log.warning("event %s for unknown compartment %s", k, event.compartment)
            return
        if k in (DoorEventKind.OPENED, DoorEventKind.OPENED_UNCOMMANDED):
            self.opened(event.compartment, uncommanded=k == DoorEventKind.OPENED_UNCOMMANDED)
        elif k == DoorEventKind.CLOSED:
            self.closed(event.compartment)
        elif k in (DoorEventKind.ITEM_PRESENT, DoorEventKind.ITEM_ABSENT):
            self.item(event.compartment, k == DoorEventKind.ITEM_PRESENT)

    def opened(self, number: int, uncommanded: bool = False) -> None:
        with self.ctx.store.change("door") as tx:
            c = tx.compartment(number)
            if c.state in IN_CYCLE and not uncommanded:
                if c.door_confirmed_at is None:
                    tx.set_compartment(c, why="door.opened", door_confirmed_at=tx.now)
                return
            if c.state in IN_CYCLE and c.door_confirmed_at is not None:
                return  # already open in a cycle: the bank's "uncommanded" guess is stale
            if c.state == CompartmentState.LOADING and c.move_from is not None:
                # A move's empty target opened before staff asked (the envelope is in their hands): the cycle goes
                # on from here (the close finishes it), and the forced door is reported.
                tx.set_compartment(c, why="door.forced", door_confirmed_at=tx.now)
                tx.raise_alarm(AlarmKind.DOOR_FORCED, number)
                return
            if c.state != CompartmentState.FAULTY:
                tx.set_compartment(
                    c,
                    CompartmentState.FAULTY,
                    why="door.forced",
                    purpose=None,
                    resume_state=None,
                    reason="forced open",
                )
                order = tx.order(c.order_id) if c.order_id else None
                if order is not None and order.state == OrderState.COLLECTING:  # no handover was seen to happen
                    tx.set_order(order, OrderState.STORED, why="door.forced", code_used=False)
            else:
                tx.audit("door.opened", compartment=number, why="door.forced")
            tx.raise_alarm(AlarmKind.DOOR_FORCED, number)

    def closed(self, number: int) -> None:
        reading_item = self._item_reading(number)
        with self.ctx.store.change("door") as tx:
            c = tx.compartment(number)
            if c.state not in IN_CYCLE or c.door_confirmed_at is None:
                if c.state == CompartmentState.FAULTY:
                    tx.audit("door.closed", compartment=number)
                return
            if c.door_alarmed:
                tx.clear_alarm(AlarmKind.DOOR_LEFT_OPEN, number)
            orphan = number in self.orphaned
            staff_cycle = self._staff_cycle(c)
            if staff_cycle is not None:
                self._finish_staff_cycle(tx, c, reading_item, *staff_cycle)
            elif c.purpose == OpenPurpose.PICKUP:
                self._finish_pickup(tx, c, reading_item)
            elif c.purpose == OpenPurpose.OLD_ID:
                self._finish_old_id(tx, c, reading_item)
            elif c.purpose == OpenPurpose.RETURN:
                self._finish_return(tx, c)
            else:
                resume = c.resume_state or CompartmentState.FREE
                tx.set_compartment(
                    c,
                    resume,
                    why="maintenance.closed",
                    purpose=None,
                    resume_state=None,
                    door_confirmed_at=None,
                    door_alarmed=False,
                )
        if orphan:
            self.orphaned.discard(number)

    def _item_reading(self, number: int) -> bool | None:
        try:
            return self.ctx.bank.read(number).item
        except HardwareError as exc:
            log.warning("cannot read item sensor of compartment %s: %s", number, exc)
            return None

    def _staff_cycle(self, c: Compartment) -> tuple[_Outcome, _Outcome] | None:
        """For door cycles whose outcome staff say on a board without item sensor: what an item present, and what
        none, means when the door has closed (a loading, a counter handover, a move's source and target)."""
        if c.state == CompartmentState.LOADING and c.move_from is not None:
            return handover.moved_in, handover.move_not_in
        if c.state == CompartmentState.LOADING:
            return handover.stored, handover.not_loaded
        if c.purpose == OpenPurpose.MOVE:
            return handover.not_handed_over, self._moved_out
        if c.purpose == OpenPurpose.COUNTER:
            return handover.not_handed_over, handover.collected
        return None

    def _moved_out(self, tx: Tx, c: Compartment, order: Order, by: Witness) -> None:
        handover.moved_out(tx, c, order, by, self.ctx.config)

    @staticmethod
    def _finish_staff_cycle(tx: Tx, c: Compartment, item: bool | None, present: _Outcome, absent: _Outcome) -> None:
        assert c.order_id is not None
        order = tx.order(c.order_id)
        if item is None:  # no item sensor: staff answer on the staff screen (no notice, no proof before that)
            handover.checking(tx, c)
        elif item:
            present(tx, c, order, Witness.SENSOR)
        else:
            absent(tx, c, order, Witness.SENSOR)

    def _finish_pickup(self, tx: Tx, c: Compartment, item: bool | None) -> None:
        assert c.order_id is not None
        order = tx.order(c.order_id)
        if item is None and c.number in self.orphaned:  # no sensor, and nobody to ask: the safe side
            handover.left_behind(tx, c, order, Witness.UNANSWERED)
        elif item is None:  # no item sensor: the citizen says whether the document was taken
            handover.checking(tx, c)
        elif item:
            handover.left_behind(tx, c, order, Witness.SENSOR)
        else:
            handover.collected(tx, c, order, Witness.SENSOR)

    def _finish_old_id(self, tx: Tx, c: Compartment, item: bool | None) -> None:
        assert c.order_id is not None
        if item is None and c.number in self.orphaned:  # no sensor, and nobody to ask: the safe side
            handover.old_id_in(tx, c, tx.order(c.order_id), Witness.UNANSWERED)
        elif item is None:  # no item sensor: the citizen says whether the old ID is inside
            handover.checking(tx, c)
        elif item:
            handover.old_id_in(tx, c, tx.order(c.order_id), Witness.SENSOR)
        else:
            handover.old_id_not_in(tx, c, c.order_id, Witness.SENSOR)

    def _finish_return(self, tx: Tx, c: Compartment) -> None:
        order = tx.order(c.order_id) if c.order_id else None
        # A faulty or disabled compartment stays so after the document is out: staff enable it when checked.
        keep = c.resume_state in (CompartmentState.FAULTY, CompartmentState.DISABLED)
        target = c.resume_state if keep and c.resume_state else CompartmentState.FREE
        tx.clear_alarm(AlarmKind.DOCUMENT_LEFT_BEHIND, c.number)  # staff have it now
        tx.set_compartment(
            c,
            target,
            why="return.closed",
            order_id=None,
            content=Content.NONE,
            purpose=None,
            resume_state=None,
            door_confirmed_at=None,
            door_alarmed=False,
        )
        if order is not None and order.state != OrderState.COLLECTED:
            tx.set_order(order, OrderState.RETURNED, why="return.closed", compartment=None)
            tx.outbox("returned", order=order.id, compartment=c.number)
        elif order is not None:
            tx.audit("return.old_id", order=order.id, compartment=c.number)
            tx.outbox("old_id_taken", order=order.id, compartment=c.number)

    def item(self, number: int, present: bool) -> None:
        """Item sensor changed: outside a door cycle a mismatch with what the station knows is a fault."""
        with self.ctx.store.change("door") as tx:
            c = tx.compartment(number)
            expected = {CompartmentState.FREE: False, CompartmentState.OCCUPIED: True}.get(c.state)
            if expected is None or expected == present:
                return
            tx.set_compartment(c, CompartmentState.FAULTY, why="sensor.disagrees", reason="item sensor disagrees")
            tx.raise_alarm(AlarmKind.SENSOR_DISAGREES, number)

    def check_timers(self) -> list[int]:
        """Raise DOOR_LEFT_OPEN for doors open in a cycle longer than the limit (returns their numbers), and settle
        closed doors nobody answered for (``unanswered``)."""
        self.unanswered()
        limit = self.ctx.config.timing.door_open_alarm_s
        now = self.ctx.clock.now()
        late = [
            c
            for c in self.ctx.store.compartments()
            if c.state in IN_CYCLE
            and c.door_confirmed_at is not None
            and not c.door_alarmed
            and now - c.door_confirmed_at > limit
        ]
        for c in late:
            with self.ctx.store.change("system") as tx:
                cur = tx.compartment(c.number)
                if cur.door_alarmed or cur.door_confirmed_at is None:
                    continue
                tx.set_compartment(cur, why="door.left_open", door_alarmed=True)
                tx.raise_alarm(AlarmKind.DOOR_LEFT_OPEN, c.number)
        return [c.number for c in late]

    def unanswered(self) -> list[int]:
        """Compartments CHECKING longer than ``timing.answer_s`` are settled on the safe side: a pickup's document
        counts as left behind (alarm, order collectable), an old ID as inside (staff take it out and see), a counter
        handover's document as still inside (not handed over), a move's envelope as not known (``_move_unanswered``), a
        loading as not known (faulty, assignment undone,
        alarm: no citizen is told of an envelope nobody confirmed)."""
        limit = self.ctx.config.timing.answer_s
        now = self.ctx.clock.now()
        late = [c.number for c in self.ctx.store.compartments() if c.state == CompartmentState.CHECKING]
        settled = []
        for number in late:
            with self.ctx.store.change("system") as tx:
                c = tx.compartment(number)
                if c.state != CompartmentState.CHECKING or now - c.changed_at < limit or c.order_id is None:
                    continue
                order = tx.order(c.order_id)
                if c.purpose == OpenPurpose.PICKUP:
                    handover.left_behind(tx, c, order, Witness.UNANSWERED)
                elif c.purpose == OpenPurpose.OLD_ID:
                    handover.old_id_in(tx, c, order, Witness.UNANSWERED)
                elif c.purpose == OpenPurpose.COUNTER:
                    handover.not_handed_over(tx, c, order, Witness.UNANSWERED)
                elif c.purpose == OpenPurpose.MOVE:
                    self._move_unanswered(tx, c, order)
                else:
                    tx.set_compartment(
                        c,
                        CompartmentState.FAULTY,
                        why="load.unconfirmed",
                        order_id=None,
                        purpose=None,
                        reason="envelope not confirmed",
                    )
                    tx.set_order(order, why="load.unassigned", compartment=None)
                    tx.raise_alarm(AlarmKind.INTERRUPTED_CYCLE, number)
                settled.append(number)
        return settled

    @staticmethod
    def _move_unanswered(tx: Tx, c: Compartment, order: Order) -> None:
        """Nobody said where a move's envelope is. The source: it may be out or inside, so the compartment turns
        faulty, still holding the order (staff look; nothing is collectable meanwhile). The target: it waits to be
        opened again (staff find the envelope inside, or put it in). Both raise INTERRUPTED_CYCLE."""
        if c.move_from is None:
            tx.set_compartment(
                c,
                CompartmentState.FAULTY,
                why="move.unconfirmed",
                purpose=None,
                resume_state=None,
                door_confirmed_at=None,
                content=Content.DOCUMENT,
                reason="move not confirmed",
            )
        else:
            handover.move_not_in(tx, c, order, Witness.UNANSWERED)
        tx.raise_alarm(AlarmKind.INTERRUPTED_CYCLE, c.number)

    def pump(self, timeout: float = 0.0) -> int:
        """Fetch pending events from the lock bank and handle them; returns how many were handled."""
        events = self.ctx.bank.poll_events(timeout)
        for e in events:
            self.handle(e)
        return len(events)
