"""Door and board events: finishing door cycles on close, forced doors, sensor disagreement, timers."""

from __future__ import annotations

import logging

from locker.errors import HardwareError, StoreError
from locker.flows.common import FlowContext
from locker.model import AlarmKind, Compartment, CompartmentState, Content, OpenPurpose, OrderState
from locker.ports import DoorEvent, DoorEventKind
from locker.store import Tx

log = logging.getLogger(__name__)

IN_CYCLE = (CompartmentState.LOADING, CompartmentState.OPENING)


class DoorFlow:
    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx

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
            if c.state != CompartmentState.FAULTY:
                tx.set_compartment(
                    c,
                    CompartmentState.FAULTY,
                    why="door.forced",
                    purpose=None,
                    resume_state=None,
                    reason="forced open",
                )
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
            if c.state == CompartmentState.LOADING:
                self._finish_loading(tx, c, reading_item)
            elif c.purpose == OpenPurpose.PICKUP:
                self._finish_pickup(tx, c, reading_item)
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

    def _item_reading(self, number: int) -> bool | None:
        try:
            return self.ctx.bank.read(number).item
        except HardwareError as exc:
            log.warning("cannot read item sensor of compartment %s: %s", number, exc)
            return None

    def _finish_loading(self, tx: Tx, c: Compartment, item: bool | None) -> None:
        assert c.order_id is not None
        order = tx.order(c.order_id)
        if item is False:
            tx.set_compartment(
                c,
                CompartmentState.FREE,
                why="load.empty",
                order_id=None,
                door_confirmed_at=None,
                door_alarmed=False,
            )
            tx.set_order(order, why="load.unassigned", compartment=None)
            return
        tx.set_compartment(
            c,
            CompartmentState.OCCUPIED,
            why="load.closed",
            content=Content.DOCUMENT,
            door_confirmed_at=None,
            door_alarmed=False,
        )
        tx.set_order(order, OrderState.STORED, why="load.closed")
        tx.outbox("stored", order=order.id, compartment=c.number)

    def _finish_pickup(self, tx: Tx, c: Compartment, item: bool | None) -> None:
        assert c.order_id is not None
        order = tx.order(c.order_id)
        old_id = order.return_old_id and self.ctx.config.policy.old_id_return and item is not False
        if old_id:
            tx.set_compartment(
                c,
                CompartmentState.OCCUPIED,
                why="pickup.closed",
                content=Content.OLD_ID,
                purpose=None,
                resume_state=None,
                door_confirmed_at=None,
                door_alarmed=False,
            )
        else:
            tx.set_compartment(
                c,
                CompartmentState.FREE,
                why="pickup.closed",
                order_id=None,
                content=Content.NONE,
                purpose=None,
                resume_state=None,
                door_confirmed_at=None,
                door_alarmed=False,
            )
        tx.set_order(order, OrderState.COLLECTED, why="pickup.closed")
        proof = tx.audit("pickup.handover", order=order.id, compartment=c.number, old_id_returned=old_id)
        tx.outbox(
            "collected",
            order=order.id,
            compartment=c.number,
            old_id_returned=old_id,
            proof={"audit_seq": proof.seq, "audit_hash": proof.hash.hex()},
        )

    def _finish_return(self, tx: Tx, c: Compartment) -> None:
        order = tx.order(c.order_id) if c.order_id else None
        # A faulty or disabled compartment stays so after the document is out: staff enable it when checked.
        keep = c.resume_state in (CompartmentState.FAULTY, CompartmentState.DISABLED)
        target = c.resume_state if keep and c.resume_state else CompartmentState.FREE
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
        """Raise DOOR_LEFT_OPEN for doors open in a cycle longer than the limit; returns their numbers."""
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

    def pump(self, timeout: float = 0.0) -> int:
        """Fetch pending events from the lock bank and handle them; returns how many were handled."""
        events = self.ctx.bank.poll_events(timeout)
        for e in events:
            self.handle(e)
        return len(events)
