"""End to end: the core flows over a real SQLite file and the real lock bank, drivers and simulators."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from locker import codes
from locker.db import Database
from locker.doctypes import DocumentType
from locker.flows import Flows
from locker.model import CompartmentState, NewOrder, OrderState, Size
from locker.store import Store
from tests.harness import STATEMENT
from tests.unit.test_lockbank import MAP, bank_rig

DAY = 86400.0


def pump_until(flows: Flows, done: Callable[[], bool], within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    while not done():
        assert time.monotonic() < deadline, "the flows never saw the expected door events"
        flows.doors.pump(0.05)


def test_load_then_qr_pickup_through_the_real_drivers(tmp_path: Path) -> None:
    with bank_rig(str(tmp_path / "wibox.db")) as rig:
        cfg, clock, wall = rig.config, rig.clock, rig.wall
        db = Database(cfg.storage.database)
        try:
            store = Store.open(db, clock, cfg.compartments)
            flows = Flows(store, rig.bank, clock, cfg)
            assert flows.recovery.run() == []

            issued = codes.issue_codes("ORD-1", "12345678", cfg.policy.pin_length)
            now = clock.now()
            flows.orders.announce(
                [
                    NewOrder(
                        "ORD-1",
                        issued.pickup_number,
                        DocumentType.ID_CARD,
                        Size.M,
                        False,
                        False,
                        now,
                        now + 7 * DAY,
                        issued.qr_verifier,
                        issued.pin_verifier,
                    )
                ]
            )
            badge = flows.staff.add("ANNA-01", "246810", ("loader",))
            sid = flows.staff.open_session(flows.staff.authenticate(badge.payload, "246810")).id

            # staff loads: the bank opens a door on a real board, staff puts the envelope in and closes it
            a = flows.loading.scan_label(sid, codes.label_payload("ORD-1"))
            where = MAP[a.compartment]
            assert wall.is_open(*where)
            wall.set_item(*where, True)
            wall.close_door(*where)
            pump_until(flows, lambda: store.compartment(a.compartment).state is CompartmentState.OCCUPIED)
            order = store.order("ORD-1")
            assert order is not None and order.state is OrderState.STORED

            # the citizen scans the QR code, confirms, takes the document and closes the door
            v = flows.pickup.verify(flows.pickup.scan_qr(issued.qr.payload))
            assert flows.pickup.confirm_receipt(v, STATEMENT) == a.compartment
            assert wall.is_open(*where)
            wall.set_item(*where, False)
            wall.close_door(*where)
            pump_until(flows, lambda: store.compartment(a.compartment).state is CompartmentState.FREE)
            order = store.order("ORD-1")
            assert order is not None and order.state is OrderState.COLLECTED
            unlocks = [r.where for r in wall.recorder.records() if r.event.value == "unlock"]
            bus, board, lock = where
            assert unlocks == [f"{bus}/{board}/{lock}"] * 2  # one pulse to load, one to collect
        finally:
            db.close()


def test_recovery_run_drives_outputs_safe_and_sees_forced_doors(tmp_path: Path) -> None:
    with bank_rig(str(tmp_path / "wibox.db"), start=False) as rig:
        cfg = rig.config
        db = Database(cfg.storage.database)
        try:
            store = Store.open(db, rig.clock, cfg.compartments)
            flows = Flows(store, rig.bank, rig.clock, cfg)
            rig.wall.force_open("xor", 1, 1)  # compartment 6 found open at start
            done = flows.recovery.run()
            assert [(r.compartment, r.action) for r in done] == [(6, "door open outside a cycle: forced")]
            assert store.compartment(6).state is CompartmentState.FAULTY
            assert not any(rig.mb.relay_on(1, n) for n in range(1, 9))
            fc15 = [r for r in rig.wall.recorder.records() if r.where == "mb/1" and "write relays" in r.detail]
            assert fc15, "the modbus board was told to switch every relay off"
        finally:
            db.close()
