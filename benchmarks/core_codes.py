"""Benchmark the core's code checks (QR, argon2id PIN) and one pickup transaction on a real SQLite file."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import platform
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cryptography

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
from locker.model import NewOrder, OrderState, Size, Statement
from locker.store import Store

STATEMENT = Statement("confirm.statement", "benchmark", "de")

DAY = 86400.0


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.split(":")[0].strip() in ("model name", "Model", "Hardware"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def timed(fn: Callable[[], object], n: int, warmup: int = 3) -> list[float]:
    """Seconds per call, ``n`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def p95(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=20, method="inclusive")[18] if len(xs) > 1 else xs[0]


def row(what: str, xs: list[float], unit: str) -> str:
    scale = {"µs": 1e6, "ms": 1e3}[unit]
    return f"| {what} | {len(xs)} | {statistics.median(xs) * scale:.1f} {unit} | {p95(xs) * scale:.1f} {unit} |"


@dataclasses.dataclass
class Bench:
    flows: Flows
    bank: MemoryLockBank
    database: Database
    qr: dict[str, str]


def station(directory: Path, n: int, second_factor: bool) -> Bench:
    """A station over a real file database with ``n`` stored orders, each in its own compartment, and one free."""
    comps = tuple(
        CompartmentConfig(number=i + 1, bus="bus0", board=i // 16, lock=i % 16 + 1, size=Size.S, height_mm=800)
        for i in range(n + 1)
    )
    cfg = StationConfig(
        station_id="bench-1",
        buses=(BusConfig(name="bus0", driver="kerong-cu16", port="/dev/null"),),
        compartments=comps,
        timing=TimingConfig(unlock_confirm_s=0.2),
        policy=PolicyConfig(second_factor=second_factor),
        storage=StorageConfig(database=str(directory / "wibox.db")),
    )
    clock = ManualClock()
    bank = MemoryLockBank([c.number for c in comps], clock)
    database = Database(cfg.storage.database)
    store = Store.open(database, clock, comps)
    flows = Flows(store, bank, clock, cfg)
    badge = flows.staff.add("BENCH-01", "246810", ("loader",))
    sid = flows.staff.open_session(flows.staff.authenticate(badge.payload, "246810")).id
    shared_pin = codes.pin_verifier("UNUSED-0000", "000000")  # pickups below use the QR path only
    qr: dict[str, str] = {}
    for i in range(n):
        oid = f"BENCH-{i:04d}"
        token = codes.new_token()
        now = clock.now()
        flows.orders.announce([
            NewOrder(oid, f"{50_000_000 + i:08d}", DocumentType.ID_CARD, Size.S, False, False, now, now + 7 * DAY,
                     codes.qr_verifier(oid, token), shared_pin)
        ])  # fmt: skip
        a = flows.loading.scan_label(sid, codes.label_payload(oid))
        flows.doors.pump(0)
        bank.put_item(a.compartment)
        bank.close(a.compartment)
        flows.doors.pump(0)
        qr[oid] = codes.QrCode(oid, token).payload
    return Bench(flows, bank, database, qr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=50, help="samples for the argon2id rows and pickups (default 50)")
    ap.add_argument("--dir", type=Path, default=None, help="directory for the database file (default: a temp dir)")
    args = ap.parse_args()
    n: int = args.n
    n_fast = max(1000, 40 * n)

    print("## Core: codes and pickup transaction")
    print()
    print(f"- Machine: {cpu_model()}, {platform.machine()}, Linux {platform.release()}")
    print(f"- Python {platform.python_version()}, cryptography {cryptography.__version__}, "
          f"SQLite {sqlite3.sqlite_version}; {dt.date.today().isoformat()}")  # fmt: skip
    print(f"- argon2id: m = {codes.ARGON2_MEMORY_KIB} KiB ({codes.ARGON2_MEMORY_KIB // 1024} MiB), "
          f"t = {codes.ARGON2_ITERATIONS}, p = {codes.ARGON2_LANES}, output {codes.ARGON2_LENGTH} bytes, "
          f"16-byte random salt per order")  # fmt: skip
    print(f"- Command: `.venv/bin/python benchmarks/core_codes.py --n {n}`")
    print()

    oid, dob = "BENCH-0001", "1984-07-09"
    token = codes.new_token()
    qv = codes.qr_verifier(oid, token, dob)
    pin = codes.new_pin()
    wrong = f"{(int(pin) + 1) % 10**6:06d}"
    phc = codes.pin_verifier(oid, pin, dob)
    assert codes.check_qr(oid, token, dob, qv) and codes.check_pin(oid, pin, dob, phc)
    assert not codes.check_pin(oid, wrong, dob, phc)

    rows = [
        row("QR code: `check_qr` (SHA-256, constant-time compare)",
            timed(lambda: codes.check_qr(oid, token, dob, qv), n_fast), "µs"),
        row("manual code, right PIN: `check_pin` (argon2id)",
            timed(lambda: codes.check_pin(oid, pin, dob, phc), n), "ms"),
        row("manual code, wrong PIN: `check_pin` (argon2id)",
            timed(lambda: codes.check_pin(oid, wrong, dob, phc), n), "ms"),
        row("create a PIN verifier: `pin_verifier` (argon2id)",
            timed(lambda: codes.pin_verifier(oid, pin, dob), n), "ms"),
    ]  # fmt: skip

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        b = station(Path(tmp), n, second_factor=False)
        sync = b.database.synchronous()
        mode = b.database.journal_mode()
        assert sync == 2 and mode == "wal", (sync, mode)  # FULL, WAL: what the daemon runs with
        pickup = b.flows.pickup
        ids = list(b.qr)
        some = b.qr[ids[-1]]
        rows.append(row("`verify()` through the flow, QR path (read order, check, checks)",
                        timed(lambda: pickup.verify(pickup.scan_qr(some)), n_fast), "µs"))  # fmt: skip

        # the manual path: one order with a real PIN verifier (verify() writes nothing when the code is right)
        number, real_pin = "59999999", codes.new_pin()
        now = b.flows.ctx.clock.now()
        b.flows.orders.announce([
            NewOrder("BENCH-PIN", number, DocumentType.ID_CARD, Size.S, False, False, now, now + 7 * DAY,
                     codes.qr_verifier("BENCH-PIN", codes.new_token()), codes.pin_verifier("BENCH-PIN", real_pin))
        ])  # fmt: skip
        sid_loader = b.flows.staff.open_session("BENCH-01").id
        a = b.flows.loading.scan_label(sid_loader, codes.label_payload("BENCH-PIN"))
        b.flows.doors.pump(0)
        b.bank.put_item(a.compartment)
        b.bank.close(a.compartment)
        b.flows.doors.pump(0)
        rows.append(row("`verify()` through the flow, manual path (throttle, lookup, argon2id)",
                        timed(lambda: pickup.verify(pickup.enter_manual(number, real_pin)), n), "ms"))  # fmt: skip

        # one pickup transaction: receipt commit (code consumed) + door-open record, then the close commit
        receipt: list[float] = []
        close: list[float] = []
        total: list[float] = []
        for oid_i in ids[:n]:
            v = pickup.verify(pickup.scan_qr(b.qr[oid_i]))
            t0 = time.perf_counter()
            comp = pickup.confirm_receipt(v, STATEMENT)
            t1 = time.perf_counter()
            b.bank.take_item(comp)
            b.bank.close(comp)
            b.flows.doors.pump(0)
            t2 = time.perf_counter()
            receipt.append(t1 - t0)
            close.append(t2 - t1)
            total.append(t2 - t0)
            order = b.flows.ctx.store.order(oid_i)
            assert order is not None and order.state == OrderState.COLLECTED
        rows.append(row("`confirm_receipt(STATEMENT)`: commit, unlock, door-open commit", receipt, "ms"))
        rows.append(row("door closed: event handled, collected commit", close, "ms"))
        rows.append(row("one pickup transaction, all of the above", total, "ms"))
        b.database.close()
        where = Path(tmp).resolve()

    print(f"Database: a real file in `{where.parent}` (journal_mode=WAL, synchronous=FULL), memory lock bank.")
    print()
    print("| what | samples | median | p95 |")
    print("|---|---|---|---|")
    for r in rows:
        print(r)


if __name__ == "__main__":
    main()
