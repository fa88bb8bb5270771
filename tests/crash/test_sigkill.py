"""SIGKILL a pickup writer at random points, 200 times: the file, acknowledged pickups and the audit chain survive."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import select
import shutil
import signal
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing import forkserver, resource_tracker
from pathlib import Path

import pytest

from firmware_bridge.sim.memory_bank import MemoryLockBank
from locker import audit, codes
from locker.clock import ManualClock
from locker.db import Database
from locker.doctypes import DocumentType
from locker.errors import NotCollectable
from locker.model import LIVE, AlarmKind, CompartmentState, Content, NewOrder, OpenPurpose, Order, OrderState, Size
from locker.store import Store
from tests.crash import writer
from tests.harness import DAY, STATEMENT, Codes, Station, make_station, station_config

N_ORDERS = 48  # one per compartment, all stored in the template
TRIALS = 200
SEED = int(os.environ.get("WIBOX_CRASH_SEED", "20251127"))  # set it to replay a reported run
PIPE_TIMEOUT_S = 30.0
_CTX = multiprocessing.get_context("forkserver")
_CTX.set_forkserver_preload(["tests.crash.writer"])


@dataclass(frozen=True)
class Template:
    """A closed station database with N_ORDERS stored orders, and what the test knows about it."""

    path: Path
    payloads: dict[str, str]  # order id -> QR payload
    audit_size: int
    audit_head: bytes


@pytest.fixture(scope="module", autouse=True)
def _stop_forkserver() -> Iterator[None]:
    """The forkserver and its resource tracker are children of this pytest process: stop them with the module, so
    nothing of this test outlives it (multiprocessing has no public call for that; both ``_stop`` are what CPython's
    own tests use)."""
    yield
    forkserver._forkserver._stop()  # type: ignore[attr-defined]
    resource_tracker._resource_tracker._stop()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    d = tmp_path_factory.mktemp("crash-template")
    st = make_station(d, n=N_ORDERS)
    sid = st.staff_session()
    # The manual path is not exercised here, so one (valid, full-strength) argon2id verifier serves every order.
    pin_verifier = codes.pin_verifier("UNUSED-0000", "000000")
    payloads: dict[str, str] = {}
    for i in range(N_ORDERS):
        oid = f"CRASH-{i:04d}"
        token = codes.new_token()
        now = st.clock.now()
        st.flows.orders.announce(
            [
                NewOrder(
                    oid,
                    f"{40_000_000 + i:08d}",
                    DocumentType.ID_CARD,
                    Size.S,
                    False,
                    False,
                    now,
                    now + 7 * DAY,
                    codes.qr_verifier(oid, token),
                    pin_verifier,
                )
            ]
        )
        st.load(sid, Codes(oid, "", "", ""))  # loading uses only the order id (label)
        payloads[oid] = codes.QrCode(oid, token).payload
    assert {o.id for o in st.store.orders([OrderState.STORED])} == set(payloads)
    head = audit.head(st.database)
    st.database.close()
    assert not (d / "wibox.db-wal").exists(), "the template must be a single closed file"
    return Template(d / "wibox.db", payloads, head.size, head.head)


# -- the writer process ----------------------------------------------------------------------------------


@dataclass
class Run:
    lines: list[bytes]
    first_ack_s: float = 0.0  # seconds from fork to the first ACK read (calibration run only)
    done_s: float = 0.0  # seconds from fork to DONE (calibration run only)

    @property
    def acks(self) -> list[str]:
        return [ln.split(b" ", 1)[1].decode() for ln in self.lines if ln.startswith(writer.ACK + b" ")]

    @property
    def errors(self) -> list[bytes]:
        return [ln for ln in self.lines if ln.startswith(writer.ERR)]

    @property
    def markers(self) -> int:
        return len(self.lines)

    @property
    def died_in_transaction(self) -> bool:
        """The last transaction marker is BEGIN: killed after BEGIN IMMEDIATE was started, before COMMIT returned."""
        tx = [ln for ln in self.lines if ln in (writer.BEGIN, writer.COMMIT)]
        return bool(tx) and tx[-1] == writer.BEGIN


def _read_lines(fd: int, buf: bytearray, deadline: float | None) -> bool:
    """Read what is available (waiting until the deadline); False at end of file."""
    timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        raise AssertionError("the writer went silent")
    chunk = os.read(fd, 65536)
    buf.extend(chunk)
    return bool(chunk)


def run_writer(db: Path, payloads: list[str], seed: int, after_lines: int | None, jitter_s: float) -> Run:
    """Start a writer on ``db``; SIGKILL it ``jitter_s`` after it wrote ``after_lines`` pipe lines (None: after DONE).

    Writers are forked by a forkserver: a clean, single-threaded process with the modules already imported, so a
    fork never copies a lock held by some other thread of this (test-runner) process. The writer opens its own
    connection; this process holds no connection to ``db`` while the writer lives.
    """
    r_conn, w_conn = _CTX.Pipe(duplex=False)
    t0 = time.monotonic()
    proc = _CTX.Process(target=writer.child_entry, args=(db, N_ORDERS, payloads, w_conn, seed), daemon=True)
    proc.start()
    w_conn.close()
    r = r_conn.fileno()
    buf = bytearray()
    run = Run([])
    try:
        deadline = t0 + PIPE_TIMEOUT_S
        while True:
            lines = buf.split(b"\n")[:-1]
            if any(ln.startswith(writer.ERR) for ln in lines):
                break
            if not run.first_ack_s and any(ln.startswith(writer.ACK) for ln in lines):
                run.first_ack_s = time.monotonic() - t0
            if after_lines is None and writer.DONE in lines:
                run.done_s = time.monotonic() - t0
                break
            if after_lines is not None and (len(lines) >= after_lines or writer.DONE in lines):
                break  # (a writer with fewer wrong-token attempts than the calibration run ends sooner)
            if not _read_lines(r, buf, deadline):
                break
        time.sleep(jitter_s)
    finally:
        proc.kill()  # SIGKILL
        proc.join()
    while _read_lines(r, buf, time.monotonic() + PIPE_TIMEOUT_S):  # whatever it wrote before it died
        pass
    r_conn.close()
    run.lines = bytes(buf).split(b"\n")[:-1]
    assert not run.errors, f"the writer failed: {run.errors}"
    assert proc.exitcode == -signal.SIGKILL, f"writer exit code {proc.exitcode}"
    return run


# -- the checks --------------------------------------------------------------------------------------------


@dataclass
class Seen:
    orders: dict[str, Order] = field(default_factory=dict)
    audit_size: int = 0
    audit_head: bytes = b""

    def ids(self, *states: OrderState) -> set[str]:
        return {o.id for o in self.orders.values() if o.state in states}


def check_station(database: Database, tpl: Template, acked: set[str], *, settled: bool, ctx: str) -> Seen:
    """Everything that must hold after a crash (``settled``: and after start-up recovery with doors closed)."""
    assert database.integrity_check() == ["ok"], ctx
    report = audit.verify(database)
    assert report.ok, f"{ctx}: audit chain broken: {report.problem} at {report.bad_seq}"
    row = database.query_one("SELECT hash FROM audit WHERE seq = ?", (tpl.audit_size,))
    assert row is not None and bytes(row["hash"]) == tpl.audit_head, f"{ctx}: history before the writer was lost"

    store = Store(database, ManualClock())
    orders = {o.id: o for o in store.orders()}
    comps = {c.number: c for c in store.compartments()}
    assert set(orders) == set(tpl.payloads), ctx
    seen = Seen(orders, report.size, report.head)
    collected = seen.ids(OrderState.COLLECTED)
    collecting = seen.ids(OrderState.COLLECTING)

    # Every acknowledged pickup is durable; at most one pickup was between its first commit and its ACK.
    assert acked <= collected, f"{ctx}: acknowledged but not collected: {sorted(acked - collected)}"
    if not settled:
        assert len(collected - acked) + len(collecting) <= 1, f"{ctx}: {collected - acked} {collecting}"
    else:
        assert not collecting, f"{ctx}: recovery left orders collecting: {collecting}"

    for o in orders.values():
        assert o.compartment is not None, f"{ctx}: {o.id} lost its compartment"
        c = comps[o.compartment]
        if o.state == OrderState.COLLECTED:
            assert o.code_used, f"{ctx}: {o.id} collected with an unused code"
            assert c.order_id != o.id and c.state == CompartmentState.FREE and c.content == Content.NONE, (
                f"{ctx}: {o.id} collected but compartment {c.number} is {c.state} holding {c.order_id}"
            )
        elif o.state == OrderState.COLLECTING:
            assert o.code_used, f"{ctx}: {o.id} collecting with an unused code"
            assert c.order_id == o.id and c.state == CompartmentState.OPENING and c.purpose == OpenPurpose.PICKUP, (
                f"{ctx}: {o.id} collecting but compartment {c.number} is {c.state}/{c.purpose} with {c.order_id}"
            )
        else:
            assert o.state == OrderState.STORED, f"{ctx}: {o.id} is {o.state}"
            assert c.order_id == o.id, f"{ctx}: {o.id} stored in {c.number}, which holds {c.order_id}"
            if c.state == CompartmentState.OCCUPIED:
                assert not o.code_used, f"{ctx}: {o.id} stored and ready but its code is consumed"
            else:  # only recovery of a handover whose door was never confirmed open, without a sensor to tell
                assert settled and c.state == CompartmentState.FAULTY and not o.code_used, (
                    f"{ctx}: {o.id} stored in compartment {c.number} which is {c.state}"
                )

    allowed = {CompartmentState.FREE, CompartmentState.OCCUPIED}
    allowed |= {CompartmentState.FAULTY} if settled else {CompartmentState.OPENING}
    for c in comps.values():
        assert c.state in allowed, f"{ctx}: compartment {c.number} is {c.state}"
        live = [o.id for o in orders.values() if o.compartment == c.number and o.state in LIVE]
        assert len(live) <= 1, f"{ctx}: compartment {c.number} holds {live}"
        if c.order_id is None:
            assert c.state == CompartmentState.FREE, f"{ctx}: compartment {c.number} {c.state} without order"
        else:
            assert live == [c.order_id], f"{ctx}: compartment {c.number} points to {c.order_id}, live: {live}"

    # Each handover is recorded exactly once in the audit log and once in the outbox, none for anything else.
    events = [e.event for e in audit.entries(database)]
    handovers = Counter(e["order"] for e in events if e["type"] == "pickup.handover")
    outbox = Counter(
        json.loads(r["body"])["order"] for r in database.query("SELECT body FROM outbox WHERE kind = 'collected'")
    )
    once = Counter({oid: 1 for oid in collected})
    assert handovers == once, f"{ctx}: handover audit entries {handovers - once} / {once - handovers}"
    assert outbox == once, f"{ctx}: collected outbox events {outbox - once} / {once - outbox}"
    if not settled:
        receipts = Counter(e["order"] for e in events if e["type"] == "pickup.receipt_confirmed")
        consumed = {o.id for o in orders.values() if o.code_used}
        assert receipts == Counter({oid: 1 for oid in consumed}), f"{ctx}: receipts {receipts} vs {consumed}"
    return seen


def check_trial(tpl: Template, db: Path, run: Run, rng: random.Random, ctx: str) -> tuple[str, str]:
    """Check the killed writer's database, restart the station on it (recovery), check again, use it again.

    Returns (what the interrupted pickup was, what recovery made of it) for the statistics.
    """
    acked = set(run.acks)
    assert len(acked) == len(run.acks), f"{ctx}: an order was acknowledged twice"
    database = Database(db)  # the first connection after the crash (SQLite replays the WAL here)
    raw = check_station(database, tpl, acked, settled=False, ctx=ctx + " after kill")
    comps = {c.number: c for c in Store(database, ManualClock()).compartments()}
    row = database.query_one(
        "SELECT max(t) AS t FROM (SELECT updated_at AS t FROM orders UNION ALL SELECT updated_at FROM compartments)"
    )
    assert row is not None
    latest = float(row["t"])
    database.close()

    # The physical world at the restart: closed doors with documents where the database says so; for a
    # handover in flight, pick at random what the citizen left behind (door open, door shut with or without
    # the document). Recovery must settle each case.
    clock = ManualClock(latest + 1.0)  # a clock never runs behind what was written
    cfg = station_config(db, N_ORDERS)
    sensors = rng.random() < 0.7  # most trials with item sensors (as on CU16 boards), some without
    bank = MemoryLockBank([c.number for c in cfg.compartments], clock, item_sensors=sensors)
    in_flight = next(iter(raw.ids(OrderState.COLLECTING)), None)
    world = "none"
    for c in comps.values():
        if c.state == CompartmentState.OCCUPIED:
            bank.put_item(c.number)
        elif c.state == CompartmentState.OPENING:
            confirmed = c.door_confirmed_at is not None
            if not sensors:
                world = rng.choice(["open", "closed-unknown"])
            else:
                world = rng.choice(
                    ["open", "closed-empty"] if confirmed else ["open", "closed-with-doc", "closed-empty"]
                )
            world = ("confirmed:" if confirmed else "unconfirmed:") + world
            if world.endswith("open"):
                bank.force(c.number)
            bank.set_item(c.number, world.endswith("with-doc"))
            if world.endswith("closed-unknown"):
                bank.set_item(c.number, rng.random() < 0.5)  # what is inside is not sensed either way
    bank.poll_events(0)  # what happened before the restart reaches no one: recovery reads the doors

    # Station() opens the file afresh, as the restarted daemon would; then start-up recovery, exactly what
    # Station.restart() does, keeping the list of what it did.
    station = Station(cfg, clock, bank)
    actions = station.flows.recovery.run()
    assert [a.compartment for a in actions] == [c.number for c in comps.values() if c.state == CompartmentState.OPENING]
    for number in bank.numbers:
        if bank.is_open(number):  # the citizen takes the document and closes the door
            bank.take_item(number)
            bank.close(number)
    station.pump()
    # Without item sensors the closed door waits for the citizen's "taken", and the screen that would ask is gone
    # with the restart: the answer timer settles it on the safe side (left behind, collectable, alarm).
    clock.advance(cfg.timing.answer_s + 1)
    station.flows.doors.check_timers()
    after = check_station(station.database, tpl, acked, settled=True, ctx=ctx + " after recovery")
    assert after.ids(OrderState.COLLECTED) >= raw.ids(OrderState.COLLECTED), f"{ctx}: recovery undid a handover"
    kept = station.database.query_one("SELECT hash FROM audit WHERE seq = ?", (raw.audit_size,))
    assert kept is not None and bytes(kept["hash"]) == raw.audit_head, f"{ctx}: recovery rewrote history"

    outcome = "none"
    if in_flight is not None:
        o = after.orders[in_flight]
        if not sensors and (world.endswith("open") or world.startswith("confirmed:")):
            # the door opened, but nobody can say the document was taken: left behind, collectable, alarm
            outcome = "left behind"
            assert o.state == OrderState.STORED and not o.code_used, f"{ctx}: {world}: {o}"
            assert station.store.compartment(o.compartment or 0).state == CompartmentState.OCCUPIED
            assert AlarmKind.DOCUMENT_LEFT_BEHIND in {a[0] for a in station.store.open_alarms()}
        elif world.endswith(("open", "closed-empty")) or world.startswith("confirmed:"):
            # open now, seen open before the crash, or empty now: the handover happened
            outcome = "collected"
            assert o.state == OrderState.COLLECTED, f"{ctx}: {world}: {o}"
        elif world.endswith("with-doc"):
            outcome = "re-armed"
            assert o.state == OrderState.STORED and not o.code_used, f"{ctx}: {world}: {o}"
            assert station.store.compartment(o.compartment or 0).state == CompartmentState.OCCUPIED
        else:
            outcome = "faulty"  # the code is not spent: no door was confirmed open
            assert o.state == OrderState.STORED and not o.code_used, f"{ctx}: {world}: {o}"
            assert station.store.compartment(o.compartment or 0).state == CompartmentState.FAULTY
            assert AlarmKind.INTERRUPTED_CYCLE in {a[0] for a in station.store.open_alarms()}

    # An acknowledged (or consumed) code never opens a door again.
    for used in acked | {o for o in after.ids(OrderState.STORED) if after.orders[o].code_used}:
        with pytest.raises(NotCollectable):
            station.flows.pickup.verify(station.flows.pickup.scan_qr(tpl.payloads[used]))
    # The station still works: one more pickup, preferably of a re-armed code.
    ready = sorted(
        o.id
        for o in after.orders.values()
        if o.state == OrderState.STORED
        and not o.code_used
        and station.store.compartment(o.compartment or 0).state == CompartmentState.OCCUPIED
    )
    if ready:
        oid = in_flight if outcome in ("re-armed", "left behind") and in_flight is not None else rng.choice(ready)
        verified = station.flows.pickup.verify(station.flows.pickup.scan_qr(tpl.payloads[oid]))
        number = station.flows.pickup.confirm_receipt(verified, STATEMENT)
        bank.take_item(number)
        bank.close(number)
        station.pump()
        if not sensors:  # the citizen says "I have taken my document" on the screen
            station.flows.pickup.taken(verified)
        done = station.store.order(oid)
        assert done is not None and done.state == OrderState.COLLECTED, f"{ctx}: pickup after recovery: {done}"
        assert audit.verify(station.database).ok
    assert station.database.integrity_check() == ["ok"]
    station.database.close()
    return world, outcome


# -- the test ----------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_sigkill_writer_200_trials(template: Template, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    print(f"crash test seed {SEED} (replay: WIBOX_CRASH_SEED={SEED})")
    payloads = list(template.payloads.values())
    calibration: Run | None = None
    acks: list[int] = []
    in_txn = 0
    worlds: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    t_start = time.monotonic()
    for i in range(TRIALS):
        d = tmp_path / f"trial-{i:03d}"
        d.mkdir()
        db = d / "wibox.db"
        shutil.copyfile(template.path, db)
        child_seed = rng.randrange(2**32)
        ctx = f"seed {SEED} trial {i}"
        if calibration is None:  # the first run goes to the end: how long a full run takes, how many lines
            run = run_writer(db, payloads, child_seed, None, 0.0)
            assert run.acks and len(run.acks) == N_ORDERS, f"{ctx}: a full run collected {len(run.acks)}"
            calibration = run
        elif rng.random() < 0.08:  # killed early, by time alone: before or around the first pickup
            run = run_writer(db, payloads, child_seed, 0, rng.uniform(0.0, calibration.first_ack_s))
        elif rng.random() < 0.08:  # killed early, by count: a few transactions before the first ACK could be due
            first_ack = next(i for i, ln in enumerate(calibration.lines) if ln.startswith(writer.ACK))
            run = run_writer(db, payloads, child_seed, rng.randint(0, max(0, first_ack - 4)), 0.0)
        else:  # after a random number of pipe lines (commits, begins, ACKs), then a random extra moment
            gap = calibration.done_s / calibration.markers
            run = run_writer(db, payloads, child_seed, rng.randint(0, calibration.markers), rng.uniform(0, 2 * gap))
        acks.append(len(run.acks))
        in_txn += run.died_in_transaction
        world, outcome = check_trial(template, db, run, rng, ctx)
        worlds[world] += 1
        outcomes[outcome] += 1
        shutil.rmtree(d)  # failed trials keep their files for inspection

    elapsed = time.monotonic() - t_start
    hist = Counter(min(n // 8 * 8, N_ORDERS) for n in acks)
    print(
        f"{TRIALS} trials in {elapsed:.1f} s; ACKs per trial: 0: {acks.count(0)}, max {max(acks)}, "
        f"histogram (bucket of 8 -> trials) {sorted(hist.items())}"
    )
    print(f"killed inside a write transaction (BEGIN seen, COMMIT not returned): {in_txn}")
    print(f"handover in flight at the kill: {dict(worlds)}; after recovery: {dict(outcomes)}")
    assert acks.count(0) >= 5, "too few trials were killed before their first acknowledged pickup"
    assert sum(n >= N_ORDERS // 2 for n in acks) >= 20, "too few trials got far"
    assert in_txn >= 10, "too few kills landed inside a transaction"
    assert sum(v for k, v in worlds.items() if k != "none") >= 10, "too few kills landed inside a handover"
