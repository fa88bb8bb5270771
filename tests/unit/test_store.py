"""Store durability settings, migrations (including upgrading a checked-in older database) and the audit chain."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from firmware_bridge.sim.memory_bank import MemoryLockBank
from locker import audit
from locker.clock import ManualClock
from locker.db import Database
from locker.errors import StoreError, TransitionError
from locker.flows import Flows
from locker.migrations import MIGRATIONS, Migration, applied, migrate
from locker.model import CompartmentState, OrderState
from locker.store import Store
from tests.harness import STATEMENT, make_station, station_config

V1 = Path(__file__).resolve().parents[1] / "data" / "wibox-v1.db"
V1_QR = "WIBOX1:ORD-OLD1:ATBC57LVDHTOESZ74HOLZCSIXI"


def test_pragmas(tmp_path: Path) -> None:
    d = Database(tmp_path / "x.db")
    assert d.journal_mode() == "wal"
    assert d.synchronous() == 2  # FULL
    assert d.integrity_check(quick=True) == ["ok"]


def test_migrations_recorded_and_idempotent(tmp_path: Path) -> None:
    d = Database(tmp_path / "x.db")
    assert migrate(d) == [m.name for m in MIGRATIONS]
    assert applied(d) == [m.name for m in MIGRATIONS]
    assert migrate(d) == []


def test_failed_migration_changes_nothing(tmp_path: Path) -> None:
    d = Database(tmp_path / "x.db")
    migrate(d)

    def broken(conn: object) -> None:
        d.conn.execute("CREATE TABLE half (x)")
        d.conn.execute("THIS IS NOT SQL")

    with pytest.raises(StoreError, match="9999_broken"):
        migrate(d, (*MIGRATIONS, Migration("9999_broken", broken)))
    assert "half" not in d.db.table_names()
    assert "9999_broken" not in applied(d)


def test_unknown_migration_in_database_refused(tmp_path: Path) -> None:
    d = Database(tmp_path / "x.db")
    migrate(d)
    with pytest.raises(StoreError, match="does not know"):
        migrate(d, MIGRATIONS[:1])


def test_upgrade_checked_in_v1_database(tmp_path: Path) -> None:
    path = tmp_path / "wibox.db"
    shutil.copy(V1, path)
    d = Database(path)
    assert applied(d) == ["0001_initial"]
    cfg = station_config(path, n=2)
    clock = ManualClock()
    store = Store.open(d, clock, cfg.compartments)
    assert applied(d) == [m.name for m in MIGRATIONS]
    order = store.order("ORD-OLD1")
    assert order is not None and order.state == OrderState.STORED and order.return_old_id is False
    assert "alarms" in d.db.table_names()
    assert audit.verify(d).ok
    # The upgraded station still hands the old order over with its old QR code.
    bank = MemoryLockBank([1, 2], clock)
    flows = Flows(store, bank, clock, cfg)
    n = flows.pickup.confirm_receipt(flows.pickup.verify(flows.pickup.scan_qr(V1_QR)), STATEMENT)
    bank.close(n)
    flows.doors.pump(0)
    got = store.order("ORD-OLD1")
    assert got is not None and got.state == OrderState.COLLECTED
    assert audit.verify(d).ok


def test_transitions_enforced_in_one_place(tmp_path: Path) -> None:
    st = make_station(tmp_path)
    c = st.announce("ORD-0001")
    with pytest.raises(TransitionError), st.store.change("test") as tx:
        tx.set_order(tx.order(c.order_id), OrderState.COLLECTED, why="test")
    with pytest.raises(TransitionError), st.store.change("test") as tx:
        tx.set_compartment(tx.compartment(1), CompartmentState.OCCUPIED, why="test")
    assert st.store.order(c.order_id).state == OrderState.ANNOUNCED  # type: ignore[union-attr]
    assert audit.verify(st.database).ok


def test_audit_refuses_secrets_and_writes_outside_transactions(tmp_path: Path) -> None:
    st = make_station(tmp_path)
    with pytest.raises(StoreError), st.store.change("test") as tx:
        tx.audit("oops", pin="123456")
    with pytest.raises(StoreError):
        audit.append(st.database.conn, {"type": "x"})


def _tamper(st_db: Database, sql: str, params: tuple[object, ...] = ()) -> audit.AuditReport:
    st_db.conn.execute(sql, params)
    return audit.verify(st_db)


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        (
            "UPDATE audit SET event = replace(event, 'ORD-0001', 'ORD-0002')"
            " WHERE seq = (SELECT min(seq) FROM audit WHERE event LIKE '%ORD-0001%')",
            "does not match",
        ),
        ("DELETE FROM audit WHERE seq = 4", "missing"),
        ("DELETE FROM audit WHERE seq > (SELECT max(seq) - 2 FROM audit)", "head record"),
        ("UPDATE audit SET seq = -seq WHERE seq IN (2, 3)", "missing"),
    ],
)
def test_audit_verify_finds_tampering(tmp_path: Path, sql: str, problem: str) -> None:
    st = make_station(tmp_path)
    sid = st.staff_session()
    st.load(sid, st.announce("ORD-0001"))
    assert audit.verify(st.database).ok
    report = _tamper(st.database, sql)
    assert not report.ok and problem in report.problem


def test_audit_reordering_detected(tmp_path: Path) -> None:
    st = make_station(tmp_path)
    st.announce("ORD-0001")
    st.announce("ORD-0002")
    rows = st.database.query("SELECT seq, event FROM audit ORDER BY seq")
    a, b = rows[-2], rows[-1]
    st.database.conn.execute("UPDATE audit SET event = ? WHERE seq = ?", (b["event"], a["seq"]))
    st.database.conn.execute("UPDATE audit SET event = ? WHERE seq = ?", (a["event"], b["seq"]))
    assert not audit.verify(st.database).ok


def test_truncation_caught_by_checkpoint(tmp_path: Path) -> None:
    st = make_station(tmp_path)
    st.announce("ORD-0001")
    with st.store.change("sync") as tx:
        cp = audit.make_checkpoint(tx.conn, tx.now)
    assert cp.size > 2 and audit.verify(st.database).ok
    # An attacker truncates the log and rewrites the head record consistently: the checkpoint still catches it.
    head = st.database.query_one("SELECT seq, hash FROM audit WHERE seq = ?", (cp.size - 2,))
    assert head is not None
    st.database.conn.execute("DELETE FROM audit WHERE seq > ?", (cp.size - 2,))
    st.database.conn.execute(
        "UPDATE meta SET value = ? WHERE key = 'audit_head'", (f"{head['seq']}:{bytes(head['hash']).hex()}",)
    )
    report = audit.verify(st.database)
    assert not report.ok and "truncated" in report.problem
    assert audit.checkpoint_message("test-1", cp).startswith(b'{"device":"test-1"')


def test_outbox_booleans_written_before_0006_become_json_booleans(tmp_path: Path) -> None:
    d = Database(tmp_path / "w.db")
    migrate(d, MIGRATIONS[:5])
    rows = [
        ("a1", "alarm", {"id": "a1", "kind": "alarm", "t": 1.0, "alarm": "door_left_open", "raised": 1}),
        ("c1", "collected", {"id": "c1", "kind": "collected", "t": 2.0, "order": "O", "old_id_returned": 0}),
        ("a2", "alarm", {"id": "a2", "kind": "alarm", "t": 3.0, "alarm": "door_left_open", "raised": 0}),
    ]
    with d.write() as conn:
        for event_id, kind, body in rows:
            conn.execute(
                "INSERT INTO outbox (id, kind, body, created_at) VALUES (?, ?, ?, 0)",
                (event_id, kind, json.dumps(body, sort_keys=True, separators=(",", ":"))),
            )
        conn.execute("UPDATE outbox SET delivered_at = 5 WHERE id = 'a2'")  # delivered: history, left as it was
    assert migrate(d)[0] == "0006_outbox_refusals_and_booleans"
    got = {r["id"]: json.loads(r["body"]) for r in d.query("SELECT id, body FROM outbox")}
    assert got["a1"]["raised"] is True and got["c1"]["old_id_returned"] is False
    assert got["a2"]["raised"] == 0
    assert d.query_one("SELECT body FROM outbox WHERE id = 'a1'")["body"] == (  # type: ignore[index]
        '{"alarm":"door_left_open","id":"a1","kind":"alarm","raised":true,"t":1.0}'
    )
