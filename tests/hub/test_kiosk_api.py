"""The kiosk API's refusals and bookkeeping, in process: signatures, replays, status, exactly-once notices,
command expiry and signatures, configuration and migrations."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from backend_sync import protocol as p
from backend_sync.commands import Command, CommandKind, sign_command, verify_command
from backend_sync.errors import ExpiredError, TamperError, WrongDeviceError
from backend_sync.hub import tables as hubdb
from backend_sync.hub.app import create_app
from backend_sync.hub.config import hub_keys_described, parse_hub_config
from backend_sync.hub.db import HubStore, applied_migrations, migrate
from backend_sync.hub.enrollment import approve_kiosk, request_enrollment
from backend_sync.hub.keys import HubKeys
from backend_sync.hub.orders import NewHubOrder, create_order
from backend_sync.hub.ports import RecordingNotifier
from backend_sync.hub.remote import issue_command
from backend_sync.keys import KioskKeys, Signer, key_id
from locker.clock import ManualClock
from locker.errors import ConfigError
from locker.model import Size

DEVICE = "kiosk-7"


@dataclass
class Env:
    store: HubStore
    keys: HubKeys
    clock: ManualClock
    notifier: RecordingNotifier
    http: TestClient
    kiosk: KioskKeys

    def send(
        self, path: str, body: p.KioskBody, device: str = DEVICE, signer: Signer | None = None
    ) -> tuple[int, bytes]:
        data = p.sign_kiosk_message(signer or self.kiosk.signer, device, body, int(self.clock.now()))
        r = self.http.post(path, content=data)
        return r.status_code, r.content


def enroll(store: HubStore, kiosk: KioskKeys, now: float, approve: bool = True) -> str:
    """The kiosk asks (its signed key_announce), then an admin approves the code the hub gave it."""
    pub = kiosk.public()
    data = p.sign_kiosk_message(kiosk.signer, DEVICE, p.KeyAnnounceBody(pub.sign_public, pub.enc_public), int(now))
    with store.write() as conn:
        code = request_enrollment(conn, data, now, 300)["code"]
    if approve:
        approve_kiosk(store, DEVICE, code, "city-a", "test", now)
    return code


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    store = HubStore.open(f"sqlite:///{tmp_path / 'hub.db'}")
    keys = HubKeys(Signer.generate())
    clock = ManualClock(time.time())
    notifier = RecordingNotifier()
    with store.write() as conn:
        store.add_city(conn, "city-a", "A")
        store.add_city(conn, "city-b", "B")
    app = create_app(store, parse_hub_config(""), keys, clock, notifier=notifier)
    kiosk = KioskKeys.generate()
    with TestClient(app) as http:
        yield Env(store, keys, clock, notifier, http, kiosk)
    store.close()


def test_signature_status_and_replay_refusals(env: Env) -> None:
    pull = p.PullBody(0, p.GENESIS_HASH)
    assert env.send("/api/v1/kiosk/pull", pull)[0] == 401  # unknown kiosk
    code = enroll(env.store, env.kiosk, env.clock.now(), approve=False)
    assert env.send("/api/v1/kiosk/pull", pull)[0] == 401  # asked, not yet approved: still no kiosk
    approve_kiosk(env.store, DEVICE, code, "city-a", "test", env.clock.now())
    assert env.send("/api/v1/kiosk/pull", pull, signer=Signer.generate())[0] == 401  # someone else's key
    data = p.sign_kiosk_message(env.kiosk.signer, DEVICE, pull, int(env.clock.now()))
    first = env.http.post("/api/v1/kiosk/pull", content=data)
    assert first.status_code == 200 and first.json()["bundle"]["manifest"]["seq"] == 1  # full sync after approval
    again = env.http.post("/api/v1/kiosk/pull", content=data)
    assert again.status_code == 409 and again.json()["kind"] == "ReplayError"
    old = p.sign_kiosk_message(env.kiosk.signer, DEVICE, pull, int(env.clock.now()) - 2 * 86400)
    assert env.http.post("/api/v1/kiosk/pull", content=old).status_code == 400  # beyond the clock skew
    hb = p.HeartbeatBody(0, p.GENESIS_HASH, 0, p.GENESIS_HASH, 0, 0, "wibox test")
    assert env.send("/api/v1/kiosk/pull", hb)[0] == 400  # a heartbeat is not a pull


def test_stored_notifies_once_and_events_are_processed_once(env: Env) -> None:
    enroll(env.store, env.kiosk, env.clock.now())
    now = env.clock.now()
    with env.store.write() as conn:
        o = create_order(conn, NewHubOrder("city-a", DEVICE, "R-1", "id_card", Size.S, now, now + 86400), now)
    body = json.dumps({"id": "e" * 32, "kind": "stored", "order": o.id, "compartment": 1, "t": now})
    ev = p.EventsBody((p.EventItem("e" * 32, 1, "stored", body),))
    for _ in range(3):  # re-sent in new messages (lost responses): processed once, accepted every time
        status, answer = env.send("/api/v1/kiosk/events", ev)
        assert status == 200 and json.loads(answer)["accepted"] == ["e" * 32]
    assert env.notifier.stored == [o.id]
    with env.store.read() as conn:
        assert conn.execute(select(hubdb.orders.c.state).where(hubdb.orders.c.id == o.id)).scalar_one() == "stored"
    # An event about an order of another city is recorded but changes nothing.
    with env.store.write() as conn:
        conn.execute(
            hubdb.kiosks.insert().values(
                device_id="other",
                status="approved",
                sign_public="00",
                enc_public="00",
                city_id="city-b",
                created_at=now,
            )
        )
    proof = {"audit_seq": 7, "audit_hash": "ab" * 32}
    body2 = json.dumps(
        {"id": "f" * 32, "kind": "collected", "order": "O-NOTOURS", "compartment": 1, "old_id_returned": False}
        | {"proof": proof, "t": now}
    )
    status, answer = env.send("/api/v1/kiosk/events", p.EventsBody((p.EventItem("f" * 32, 2, "collected", body2),)))
    assert status == 200
    with env.store.read() as conn:
        outcome = conn.execute(select(hubdb.events.c.outcome).where(hubdb.events.c.event_id == "f" * 32)).scalar_one()
    assert outcome == "ignored: unknown order"


def test_commands_expire_and_are_bound_to_key_and_device(env: Env) -> None:
    enroll(env.store, env.kiosk, env.clock.now())
    now = env.clock.now()
    with env.store.write() as conn:
        issue_command(
            conn,
            device_id=DEVICE,
            city_id="city-a",
            kind=CommandKind.RELOAD_UI,
            reason="new texts",
            issued_by="adm",
            now=now,
            lifetime_s=60,
        )
        with pytest.raises(Exception, match="no kiosk"):  # another city's admin cannot reach this kiosk
            issue_command(
                conn,
                device_id=DEVICE,
                city_id="city-b",
                kind=CommandKind.RELOAD_UI,
                reason="xyz",
                issued_by="adm",
                now=now,
                lifetime_s=60,
            )
    env.clock.advance(120)
    hb = p.HeartbeatBody(0, p.GENESIS_HASH, 0, p.GENESIS_HASH, 0, 0, "wibox test")
    status, answer = env.send("/api/v1/kiosk/heartbeat", hb)
    assert status == 200 and json.loads(answer)["commands"] == []
    with env.store.read() as conn:
        assert conn.execute(select(hubdb.commands.c.status)).scalar_one() == "expired"

    cmd = Command("a" * 32, DEVICE, CommandKind.OPEN_COMPARTMENT, "jammed", "adm", int(now), int(now) + 60, 3)
    signed = sign_command(env.keys.signer, cmd)
    pinned = {env.keys.signer.key_id: env.keys.signer.private_key.public_key()}
    assert verify_command(signed, DEVICE, pinned, now) == cmd
    with pytest.raises(WrongDeviceError):
        verify_command(signed, "kiosk-8", pinned, now)
    with pytest.raises(ExpiredError):
        verify_command(signed, DEVICE, pinned, now + 61)
    forged = json.loads(json.dumps(signed))
    forged["command"]["compartment"] = 4
    with pytest.raises(TamperError):
        verify_command(forged, DEVICE, pinned, now)
    other = Signer.generate()
    with pytest.raises(TamperError):
        verify_command(sign_command(other, cmd), DEVICE, pinned, now)
    assert key_id(other.public_raw) != env.keys.signer.key_id


def test_a_command_result_sets_its_status_interrupted_included(env: Env) -> None:
    enroll(env.store, env.kiosk, env.clock.now())
    now = env.clock.now()
    ids = []
    with env.store.write() as conn:
        for _ in range(3):
            ids.append(
                issue_command(
                    conn,
                    device_id=DEVICE,
                    city_id="city-a",
                    kind=CommandKind.OPEN_COMPARTMENT,
                    reason="check the lock",
                    issued_by="adm",
                    now=now,
                    lifetime_s=600,
                    compartment=2,
                )
            )
    detail = "interrupted before its outcome was recorded; not repeated; compartment 2 is now free"
    outcomes = [("done", "compartment 2 opened"), ("interrupted", detail), ("maybe", "")]
    items = []
    for seq, (cmd_id, (outcome, text)) in enumerate(zip(ids, outcomes, strict=True), start=1):
        event_id = f"{seq:032x}"
        body = {"id": event_id, "kind": "command_result", "t": now, "command": cmd_id}
        body |= {"command_kind": "open_compartment", "outcome": outcome, "detail": text}
        items.append(p.EventItem(event_id, seq, "command_result", json.dumps(body)))
    status, _answer = env.send("/api/v1/kiosk/events", p.EventsBody(tuple(items)))
    assert status == 200
    with env.store.read() as conn:
        rows = {r.id: r for r in conn.execute(select(hubdb.commands))}
    assert [rows[i].status for i in ids] == ["done", "interrupted", "pending"]  # an unknown outcome is ignored
    assert json.loads(rows[ids[1]].result) == {"outcome": "interrupted", "detail": detail}


def test_config_is_strict_and_documented() -> None:
    cfg = parse_hub_config("")
    assert (cfg.server.host, cfg.server.port) == ("127.0.0.1", 8090)
    with pytest.raises(ConfigError, match=r"server\.prot: unknown key"):
        parse_hub_config("[server]\nprot = 1\n")
    with pytest.raises(ConfigError, match=r"sync\.bundle_lifetime_days"):
        parse_hub_config("[sync]\nbundle_lifetime_days = 90\n")
    with pytest.raises(ConfigError, match=r"database\.url"):
        parse_hub_config('[database]\nurl = "mysql://x"\n')
    doc = (Path(__file__).resolve().parents[2] / "docs" / "hub.md").read_text()
    for key, _t, _d in hub_keys_described():
        assert f"`{key}`" in doc, f"{key} is not documented in docs/hub.md"


def test_migrations_are_recorded_once(tmp_path: Path) -> None:
    store = HubStore.open(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        assert migrate(store.engine) == []
        assert "0001_initial" in applied_migrations(store.engine)
        with store.read() as conn:
            mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar_one()
        assert mode == "wal"
    finally:
        store.close()


def test_enrollment_requests_migration_upgrades_a_0002_database(tmp_path: Path) -> None:
    """A hub database from before 0003: kiosks carried the enrollment code hash; the upgrade drops the column,
    keeps the rows and adds the requests table."""
    from sqlalchemy import inspect, text

    from backend_sync.hub.db import MIGRATIONS, make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.connect().execution_options(wibox_write=True) as conn, conn.begin():
        hubdb.metadata.create_all(conn, tables=[hubdb.migrations_table])
        for name, step in MIGRATIONS[:2]:
            step(conn)
            conn.execute(hubdb.migrations_table.insert().values(name=name, applied_at=0.0))
        conn.execute(text("ALTER TABLE kiosks ADD COLUMN enrollment_code_hash TEXT"))
        conn.execute(
            text(
                "INSERT INTO kiosks (device_id, name, status, enrollment_code_hash, sign_public, enc_public, version,"
                " created_at, bundle_seq, bundle_head, checkpoint_size, checkpoint_head, staff_rev_acked, resync)"
                " VALUES ('old-1', 'old-1', 'pending', :h, :k, :k, '', 0, 0, :z, 0, :z, 0, 1)"
            ),
            {"h": "ab" * 32, "k": "cd" * 32, "z": "00" * 32},
        )
    try:
        assert migrate(engine)[0] == "0003_enrollment_requests"
        columns = {c["name"] for c in inspect(engine).get_columns("kiosks")}
        assert "enrollment_code_hash" not in columns
        with engine.connect() as conn:
            assert conn.execute(select(hubdb.kiosks.c.status)).scalars().all() == ["pending"]
            assert conn.execute(select(hubdb.enrollment_requests)).all() == []
    finally:
        engine.dispose()


def test_a_0008_database_gets_document_types_and_the_manual_lock_column(tmp_path: Path) -> None:
    """A hub database as 0008 left it (no document_policies table, free-text document kinds, and no manual_locked_at
    column, which 0007 forgot): the upgrade maps the kinds to document types and adds what is missing."""
    from sqlalchemy import inspect, text

    from backend_sync.hub.db import MIGRATIONS, make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.connect().execution_options(wibox_write=True) as conn, conn.begin():
        hubdb.metadata.create_all(conn, tables=[hubdb.migrations_table])
        for name, step in MIGRATIONS[:8]:
            step(conn)
            conn.execute(hubdb.migrations_table.insert().values(name=name, applied_at=0.0))
        # 0001 builds today's tables: take away what a database of 0008 did not have
        conn.execute(text("ALTER TABLE orders DROP COLUMN manual_locked_at"))
        conn.execute(text("INSERT INTO cities (id, name) VALUES ('c', 'C')"))
        conn.execute(
            text(
                "INSERT INTO kiosks (device_id, name, status, sign_public, enc_public, version, created_at, bundle_seq,"
                " bundle_head, checkpoint_size, checkpoint_head, staff_rev_acked, resync)"
                " VALUES ('k', 'k', 'pending', :k, :k, '', 0, 0, :z, 0, :z, 0, 1)"
            ),
            {"k": "cd" * 32, "z": "00" * 32},
        )
        for i, kind in enumerate(["reisepass", "residence_permit", "Personalausweis", "something"]):
            conn.execute(
                text(
                    "INSERT INTO orders (id, city_id, kiosk_id, reference, pickup_number, document_kind, size,"
                    " reachable, return_old_id, language, valid_from, valid_until, state, qr_verifier, pin_verifier,"
                    " dirty, version, created_at, updated_at) VALUES (:id, 'c', 'k', :id, :n, :kind, 'M', 0, 0, 'de',"
                    " 0, 1, 'announced', 'ab', 'x', 1, 1, 0, 0)"
                ),
                {"id": f"OLD-{i}", "n": f"1000000{i}", "kind": kind},
            )
    try:
        assert migrate(engine) == ["0009_document_types", "0010_manual_lock"]
        assert "manual_locked_at" in {c["name"] for c in inspect(engine).get_columns("orders")}
        with engine.connect() as conn:
            kinds = dict(conn.execute(select(hubdb.orders.c.id, hubdb.orders.c.document_kind)).all())
        assert kinds == {"OLD-0": "passport", "OLD-1": "eat", "OLD-2": "id_card", "OLD-3": "id_card"}
        assert migrate(engine) == []
    finally:
        engine.dispose()


def test_enrollment_requests_are_bounded_and_a_polling_kiosk_keeps_its_code(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backend_sync.hub import enrollment

    monkeypatch.setattr(enrollment, "MAX_REQUESTS", 5)

    def ask(keys: KioskKeys, path: str = "/api/v1/enroll") -> dict[str, str]:
        pub = keys.public()
        body = p.KeyAnnounceBody(pub.sign_public, pub.enc_public)
        env.clock.advance(1)
        r = env.http.post(path, content=p.sign_kiosk_message(keys.signer, DEVICE, body, int(env.clock.now())))
        assert r.status_code == 200, r.text
        return dict(r.json())

    code = ask(env.kiosk)["code"]
    for _ in range(12):  # a flood of requests for the same id; the kiosk keeps polling in between
        ask(KioskKeys.generate())
        assert ask(env.kiosk, "/api/v1/enroll/status") == {"status": "pending"}
    with env.store.read() as conn:
        codes = conn.execute(select(hubdb.enrollment_requests.c.code)).scalars().all()
    assert len(codes) == 5 and len(set(codes)) == 5 and code in codes
    assert ask(env.kiosk)["code"] == code
    env.clock.advance(enrollment.REQUEST_TTL_S + 1)  # not polled for a day: dropped
    assert ask(env.kiosk, "/api/v1/enroll/status") == {"status": "unknown"}
