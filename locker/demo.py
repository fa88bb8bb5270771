"""`wibox demo`: the station on simulated lock boards (two protocols on pseudo-terminals, real drivers).

A composition root like the CLI: it wires the byte-level simulators, the real drivers and lock bank, the store
and the flows. The kiosk UI and the city hub join here when they exist; until then the demo runs in the
terminal (type a QR payload or a pickup number and PIN) or, with ``--scenario``, headless with checks.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from firmware_bridge.lockbank import LockBank
from firmware_bridge.sim.station import SimulatedWall
from locker import audit, codes
from locker.clock import ManualClock, SystemClock
from locker.config import StationConfig, parse_config
from locker.db import Database
from locker.errors import CodeError, DoorDidNotOpen, LockerError
from locker.flows import Flows
from locker.model import AlarmKind, CompartmentState, OrderState, Size
from locker.ports import Clock
from locker.store import NewOrder, Store

DEMO_CONFIG = """
station_id = "demo-1"

[timing]
unlock_confirm_s = 2.0
door_open_alarm_s = 60

[policy]
four_eyes_loading = true

[[buses]]
name = "bus0"
driver = "kerong-cu16"
port = "simulated"
baud = 19200
channels = 16

[[buses]]
name = "bus1"
driver = "xor-8a"
port = "simulated"
baud = 9600
polarity = "open-low"
channels = 8
"""

_SIZES = "SSMMLL"
_HEIGHTS = (1650, 1350, 1050, 750, 450, 150)


def demo_config(database: Path) -> StationConfig:
    """Twelve compartments: six on a Kerong CU16 board (address 0), six on an 8A/80 board (address 1)."""
    parts = [DEMO_CONFIG, f'\n[storage]\ndatabase = "{database}"\n']
    n = 0
    for column, (bus, board) in enumerate((("bus0", 0), ("bus1", 1)), start=1):
        for i in range(6):
            n += 1
            parts.append(
                f'\n[[compartments]]\nnumber = {n}\nbus = "{bus}"\nboard = {board}\nlock = {i + 1}\n'
                f'size = "{_SIZES[i]}"\nheight_mm = {_HEIGHTS[i]}\ncolumn = {column}\nrow = {i + 1}\n'
            )
    return parse_config("".join(parts))


@dataclass
class DemoOrder:
    order: str
    qr: str
    pickup_number: str
    code: str
    compartment: int | None = None


STAFF = (("ANNA-01", "246810"), ("BERT-02", "135790"))


@dataclass
class DemoStation:
    """The demo station: simulated wall, real drivers and lock bank, a fresh database in ``data_dir``."""

    data_dir: Path
    clock: Clock
    hardware: SimulatedWall = field(init=False)
    bank: LockBank = field(init=False)
    database: Database = field(init=False)
    store: Store = field(init=False)
    flows: Flows = field(init=False)
    config: StationConfig = field(init=False)
    badges: dict[str, str] = field(init=False, default_factory=dict)

    def start(self) -> None:
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        self.data_dir.mkdir(parents=True)
        base = demo_config(self.data_dir / "wibox.db")
        self.hardware = SimulatedWall(base)
        self.config = self.hardware.start()
        self.bank = LockBank.open(self.config, clock=self.clock)
        self.bank.start()
        self.database = Database(self.config.storage.database)
        self.store = Store.open(self.database, self.clock, self.config.compartments)
        self.flows = Flows(self.store, self.bank, self.clock, self.config)
        self.flows.recovery.run()
        for staff_id, pin in STAFF:
            self.badges[staff_id] = self.flows.staff.add(staff_id, pin, ("loader", "maintenance")).payload

    def stop(self) -> None:
        self.bank.stop()
        self.bank.close()
        self.hardware.stop()
        self.database.close()

    def pump_until(self, done: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Handle door events until ``done()`` holds or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                return False
            self.flows.doors.pump(0.05)
        return True

    def session(self) -> str:
        ids = []
        for staff_id, pin in STAFF:
            ids.append(self.flows.staff.authenticate(self.badges[staff_id], pin))
        sid = self.flows.staff.open_session(ids[0]).id
        self.flows.staff.add_second(sid, ids[1])
        return sid

    def announce(
        self, order_id: str, number: str, *, size: Size = Size.S, reachable: bool = False, days: float = 7
    ) -> DemoOrder:
        issued = codes.issue_codes(order_id, number, self.config.policy.pin_length)
        now = self.clock.now()
        self.flows.orders.announce(
            [
                NewOrder(
                    order_id,
                    issued.pickup_number,
                    "id_card",
                    size,
                    reachable,
                    False,
                    now,
                    now + days * 86400,
                    issued.qr_verifier,
                    issued.pin_verifier,
                )
            ]
        )
        return DemoOrder(order_id, issued.qr.payload, issued.pickup_number, issued.pin)

    def load(self, sid: str, order: DemoOrder) -> int:
        a = self.flows.loading.scan_label(sid, codes.label_payload(order.order))
        self.hardware.set_item(a.compartment, True)
        self.hardware.close(a.compartment)
        if not self.pump_until(lambda: self._order_state(order.order) == OrderState.STORED):
            raise LockerError(f"loading {order.order} did not finish")
        order.compartment = a.compartment
        return a.compartment

    def collect(self, number: int) -> None:
        """The citizen takes the document and closes the door."""
        self.pump_until(lambda: self.store.compartment(number).door_confirmed_at is not None, 2)
        self.hardware.set_item(number, False)
        self.hardware.close(number)

    def _order_state(self, order_id: str) -> OrderState | None:
        o = self.store.order(order_id)
        return o.state if o else None


# -- the headless scenario ---------------------------------------------------------------------------------

Step = Callable[[DemoStation, dict[str, DemoOrder]], str]


def _load(d: DemoStation, orders: dict[str, DemoOrder]) -> str:
    sid = d.session()
    for i, reachable in enumerate((False, True, False, False, False)):
        o = d.announce(f"DEMO-{i + 1:04d}", f"{31415926 + i * 1111:08d}", reachable=reachable)
        orders[o.order] = o
        d.load(sid, o)
    stored = [e for e in d.store.pending(100) if e.kind == "stored"]
    assert len(stored) == 5, stored
    where = ", ".join(f"{o.order}→{o.compartment}" for o in orders.values())
    assert d.config.is_reachable(orders["DEMO-0002"].compartment or 0)
    return f"staff (four eyes) loaded 5 orders: {where}; 5 'stored' notices queued"


def _pickup_qr(d: DemoStation, orders: dict[str, DemoOrder]) -> str:
    o = orders["DEMO-0001"]
    n = d.flows.pickup.confirm_receipt(d.flows.pickup.verify(d.flows.pickup.scan_qr(o.qr)))
    assert n == o.compartment and d.hardware.is_open(n)
    d.collect(n)
    assert d.pump_until(lambda: d._order_state(o.order) == OrderState.COLLECTED)
    try:
        d.flows.pickup.verify(d.flows.pickup.scan_qr(o.qr))
    except CodeError:
        pass
    else:
        raise AssertionError("a used QR code was accepted again")
    return f"QR pickup opened compartment {n} (door confirmed by the board), collected; the code is spent"


def _pickup_manual(d: DemoStation, orders: dict[str, DemoOrder]) -> str:
    o = orders["DEMO-0002"]
    n = d.flows.pickup.confirm_receipt(d.flows.pickup.verify(d.flows.pickup.enter_manual(o.pickup_number, o.code)))
    d.collect(n)
    assert d.pump_until(lambda: d._order_state(o.order) == OrderState.COLLECTED)
    proof = [e for e in d.store.pending(100) if e.kind == "collected"]
    return f"manual pickup (pickup number + PIN) opened reachable compartment {n}; {len(proof)} handover proofs queued"


def _wrong_codes(d: DemoStation, orders: dict[str, DemoOrder]) -> str:
    o = orders["DEMO-0003"]
    wrong = "000000" if o.code != "000000" else "111111"
    refused = 0
    for _ in range(d.config.policy.manual_max_failures):
        try:
            d.flows.pickup.verify(d.flows.pickup.enter_manual(o.pickup_number, wrong))
        except CodeError:
            refused += 1
    try:
        d.flows.pickup.verify(d.flows.pickup.enter_manual(o.pickup_number, o.code))
    except CodeError as exc:
        locked = str(exc)
    else:
        raise AssertionError("manual path still open after too many wrong PINs")
    n = d.flows.pickup.confirm_receipt(d.flows.pickup.verify(d.flows.pickup.scan_qr(o.qr)))
    d.collect(n)
    assert d.pump_until(lambda: d._order_state(o.order) == OrderState.COLLECTED)
    return f"{refused} wrong PINs refused, then manual path off ({locked}); the QR code still opened {n}"


def _jammed(d: DemoStation, orders: dict[str, DemoOrder]) -> str:
    o = orders["DEMO-0004"]
    assert o.compartment is not None
    d.hardware.jam(o.compartment)
    try:
        d.flows.pickup.confirm_receipt(d.flows.pickup.verify(d.flows.pickup.scan_qr(o.qr)))
    except DoorDidNotOpen:
        pass
    else:
        raise AssertionError("a jammed door reported open")
    comp = d.store.compartment(o.compartment)
    assert comp.state == CompartmentState.FAULTY
    assert any(k == AlarmKind.DOOR_DID_NOT_OPEN for k, *_ in d.store.open_alarms())
    d.hardware.jam(o.compartment, False)
    sid = d.session()
    d.flows.staffwork.take_out(sid, o.compartment)
    d.collect(o.compartment)
    assert d.pump_until(lambda: d._order_state(o.order) == OrderState.RETURNED)
    d.flows.staffwork.enable(sid, o.compartment)
    return f"jammed lock {o.compartment}: did not open, compartment faulty + alarm; staff took the document out"


def _forced(d: DemoStation, orders: dict[str, DemoOrder]) -> str:
    free = [c.number for c in d.store.compartments() if c.state == CompartmentState.FREE]
    n = free[-1]
    d.hardware.force(n)
    assert d.pump_until(lambda: d.store.compartment(n).state == CompartmentState.FAULTY)
    assert any(k == AlarmKind.DOOR_FORCED and c == n for k, c, *_ in d.store.open_alarms())
    d.hardware.close(n)
    return f"door {n} forced open: alarm raised, compartment faulty"


def _expiry(d: DemoStation, orders: dict[str, DemoOrder]) -> str:
    o = orders["DEMO-0005"]
    if not isinstance(d.clock, ManualClock):
        return "skipped (needs the scenario clock)"
    d.clock.advance(8 * 86400)
    expired = d.flows.orders.expire_due()
    assert o.order in expired
    sid = d.session()
    assert o.compartment is not None
    d.flows.staffwork.take_out(sid, o.compartment)
    d.collect(o.compartment)
    assert d.pump_until(lambda: d._order_state(o.order) == OrderState.RETURNED)
    return f"8 days later {o.order} expired; staff took it out of {o.compartment} (returned)"


def _audit(d: DemoStation, orders: dict[str, DemoOrder]) -> str:
    report = audit.verify(d.database)
    assert report.ok, report.problem
    assert d.database.integrity_check() == ["ok"]
    return f"audit chain verifies ({report.size} entries), database integrity ok"


SCENARIO: tuple[tuple[str, Step], ...] = (
    ("load", _load),
    ("pickup-qr", _pickup_qr),
    ("pickup-manual", _pickup_manual),
    ("wrong-codes", _wrong_codes),
    ("jammed-door", _jammed),
    ("forced-door", _forced),
    ("expiry-return", _expiry),
    ("audit", _audit),
)


def run_scenario(data_dir: Path, out: TextIO) -> bool:
    """Run the life cycle headless, one line per step; True only if every step behaved."""
    d = DemoStation(data_dir, ManualClock(time.time()))
    d.start()
    orders: dict[str, DemoOrder] = {}
    ok = True
    try:
        for name, step in SCENARIO:
            t0 = time.monotonic()
            try:
                detail = step(d, orders)
                print(f"ok    {name:14} {detail} ({time.monotonic() - t0:.2f} s)", file=out, flush=True)
            except (AssertionError, LockerError) as exc:
                ok = False
                print(f"FAIL  {name:14} {type(exc).__name__}: {exc}", file=out, flush=True)
                break
    finally:
        d.stop()
    print("scenario passed" if ok else "scenario FAILED", file=out)
    return ok


# -- the interactive terminal demo -------------------------------------------------------------------------

HELP = """commands:
  <QR payload>                 scan a pickup QR code (paste WIBOX1:...)
  pin <pickup number> <PIN>    type the manual code
  close <n> | take <n>         close door n | take the item out of compartment n
  state                        compartments, orders and alarms
  quit"""


def _print_codes(orders: list[DemoOrder], out: TextIO) -> None:
    print(f"{'order':10} {'compartment':>11}  {'pickup number':13} {'PIN':6}  QR payload", file=out)
    for o in orders:
        where = str(o.compartment) if o.compartment else "-"
        print(f"{o.order:10} {where:>11}  {o.pickup_number:13} {o.code:6}  {o.qr}", file=out)
    try:
        import qrcode  # type: ignore[import-untyped]  # optional: a scannable code in the terminal

        q = qrcode.QRCode(border=1)
        q.add_data(orders[0].qr)
        print(f"\nQR code of {orders[0].order}:", file=out)
        q.print_ascii(out=out, invert=True)
    except ImportError:
        pass


def _state(d: DemoStation, out: TextIO) -> None:
    for c in d.store.compartments():
        door = "open" if d.hardware.is_open(c.number) else "closed"
        print(f"  {c.number:2} {c.size} {c.state:9} door {door:6} {c.order_id or ''}", file=out)
    for kind, comp, board, _t in d.store.open_alarms():
        print(f"  ALARM {kind} {comp or board}", file=out)


def _handle(d: DemoStation, line: str, out: TextIO) -> None:
    words = line.split()
    if words[0] == "pin" and len(words) == 3:
        n = d.flows.pickup.confirm_receipt(d.flows.pickup.verify(d.flows.pickup.enter_manual(words[1], words[2])))
        print(f"compartment {n} is open — take your document and close the door (close {n})", file=out)
    elif words[0] in ("close", "take") and len(words) == 2 and words[1].isdigit():
        n = int(words[1])
        if words[0] == "take":
            d.hardware.set_item(n, False)
        else:
            d.hardware.close(n)
            d.pump_until(lambda: not d.store.compartment(n).door_confirmed_at, 2)
    elif words[0] == "state":
        _state(d, out)
    elif codes.is_qr_payload(line):
        n = d.flows.pickup.confirm_receipt(d.flows.pickup.verify(d.flows.pickup.scan_qr(line)))
        print(f"compartment {n} is open — take your document and close the door (close {n})", file=out)
    else:
        print(HELP, file=out)


def run_terminal(data_dir: Path, codes_file: Path | None, inp: TextIO, out: TextIO) -> int:
    d = DemoStation(data_dir, SystemClock())
    d.start()
    try:
        sid = d.session()
        orders = [d.announce(f"DEMO-{i + 1:04d}", f"{31415926 + i * 1111:08d}", reachable=i == 1) for i in range(4)]
        for o in orders[:3]:
            d.load(sid, o)
        ports = ", ".join(f"{b.name} ({b.driver}) on {b.port}" for b in d.config.buses)
        print(f"WI-Box demo: station {d.config.station_id}, simulated boards: {ports}", file=out)
        print(f"database: {d.config.storage.database}\n", file=out)
        _print_codes(orders, out)
        if codes_file is not None:
            stored = [o.__dict__ for o in orders if o.compartment is not None]
            codes_file.write_text(json.dumps(stored, indent=2))
        print("\n" + HELP, file=out)
        for raw in inp:
            line = raw.strip()
            if not line:
                continue
            if line in ("quit", "exit"):
                break
            try:
                _handle(d, line, out)
            except LockerError as exc:
                print(f"refused: {exc}", file=out)
            d.flows.doors.pump(0.1)
    finally:
        d.stop()
    return 0


def main(data_dir: Path, scenario: bool, codes_file: Path | None) -> int:
    if scenario:
        return 0 if run_scenario(data_dir, sys.stdout) else 1
    return run_terminal(data_dir, codes_file, sys.stdin, sys.stdout)
