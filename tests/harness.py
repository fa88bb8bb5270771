"""A whole station over a real SQLite file and the in-process lock bank, for core tests."""

from __future__ import annotations

import dataclasses
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware_bridge.sim.memory_bank import MemoryLockBank
from locker import codes
from locker.clock import ManualClock
from locker.config import (
    BusConfig,
    CompartmentConfig,
    PolicyConfig,
    StationConfig,
    StorageConfig,
    TimingConfig,
)
from locker.db import Database
from locker.doctypes import DocumentType
from locker.flows import Flows
from locker.model import CompartmentState, NewOrder, Size, Statement
from locker.store import Store

DAY = 86400.0
# The receipt statement core tests confirm (the kiosk UI cites its catalog text; see kiosk_ui.i18n.statement).
STATEMENT = Statement("confirm.statement", "test-1", "de")


def station_config(db_path: Path, n: int = 6, **policy: Any) -> StationConfig:
    sizes = [Size.S, Size.M, Size.L]
    comps = tuple(
        CompartmentConfig(
            number=i + 1, bus="bus0", board=0, lock=i + 1, size=sizes[i % 3], height_mm=200 + (i * 300) % 1800
        )
        for i in range(n)
    )
    return StationConfig(
        station_id="test-1",
        buses=(BusConfig(name="bus0", driver="kerong-cu16", port="/dev/null"),),
        compartments=comps,
        timing=TimingConfig(unlock_confirm_s=0.2),
        policy=dataclasses.replace(PolicyConfig(), **policy),
        storage=StorageConfig(database=str(db_path)),
    )


@dataclass
class Codes:
    order_id: str
    qr: str
    pickup_number: str
    pin: str
    dob: str = ""


@dataclass
class Station:
    config: StationConfig
    clock: ManualClock
    bank: MemoryLockBank
    # Held around every flow call the harness makes. A served kiosk shares it with its UI station, so the test's own
    # calls (announce, load, pump) never interleave with the kiosk's ticker pumping the same door events.
    lock: threading.RLock = field(default_factory=threading.RLock)
    database: Database = field(init=False)
    store: Store = field(init=False)
    flows: Flows = field(init=False)

    def __post_init__(self) -> None:
        self.open()

    def open(self) -> None:
        self.database = Database(self.config.storage.database)
        self.store = Store.open(self.database, self.clock, self.config.compartments)
        self.flows = Flows(self.store, self.bank, self.clock, self.config)

    def restart(self) -> None:
        """Drop every in-memory object and open the same database again, then run start-up recovery."""
        self.database.close()
        self.open()
        self.flows.recovery.run()

    def pump(self) -> None:
        with self.lock:
            self.flows.doors.pump(0)

    def announce(
        self,
        order_id: str,
        *,
        size: Size = Size.S,
        reachable: bool = False,
        dob: str = "",
        pickup_number: str | None = None,
        return_old_id: bool = False,
        days: float = 7,
        document_type: DocumentType = DocumentType.ID_CARD,
    ) -> Codes:
        n = pickup_number or f"{zlib.crc32(order_id.encode()) % 10**8:08d}"
        issued = codes.issue_codes(order_id, n, self.config.policy.pin_length, dob)
        now = self.clock.now()
        order = NewOrder(
            order_id,
            issued.pickup_number,
            document_type,
            size,
            reachable,
            return_old_id,
            now,
            now + days * DAY,
            issued.qr_verifier,
            issued.pin_verifier,
        )
        with self.lock:
            self.flows.orders.announce([order])
        return Codes(order_id, issued.qr.payload, issued.pickup_number, issued.pin, dob)

    def add_staff(self, staff_id: str, pin: str, roles: tuple[str, ...]) -> codes.Badge:
        with self.lock:
            return self.flows.staff.add(staff_id, pin, roles)

    def staff_session(self, *ids: str) -> str:
        with self.lock:
            return self._staff_session(ids)

    def _staff_session(self, ids: tuple[str, ...]) -> str:
        sid = ""
        for i, staff_id in enumerate(ids or ("ANNA-01",)):
            badge = self.flows.staff.add(staff_id, "246810", ("loader", "maintenance"))
            who = self.flows.staff.authenticate(badge.payload, "246810")
            if i == 0:
                sid = self.flows.staff.open_session(who).id
            else:
                self.flows.staff.add_second(sid, who)
        return sid

    def load(self, sid: str, c: Codes) -> int:
        with self.lock:
            a = self.flows.loading.scan_label(sid, codes.label_payload(c.order_id))
            self.pump()
            self.bank.put_item(a.compartment)
            self.bank.close(a.compartment)
            self.pump()
            if self.store.compartment(a.compartment).state == CompartmentState.CHECKING:  # no item sensor
                self.flows.loading.envelope_inside(sid, a.compartment, True)  # staff: "the envelope is inside"
            return a.compartment


def make_station(tmp_path: Path, n: int = 6, item_sensors: bool = True, **policy: Any) -> Station:
    cfg = station_config(tmp_path / "wibox.db", n, **policy)
    clock = ManualClock()
    bank = MemoryLockBank([c.number for c in cfg.compartments], clock, item_sensors=item_sensors)
    return Station(cfg, clock, bank)
