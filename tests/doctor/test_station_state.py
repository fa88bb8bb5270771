"""What doctor reads from the station's own files: the enrollment (key files, hub keys pinned in the database) and
the daemon's open board_offline alarms, on a real station database, read-only."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend_sync.keys import KeyStore, Signer
from firmware_bridge.registry import DRIVERS
from firmware_bridge.sim.memory_bank import MemoryLockBank
from locker.clock import SystemClock
from locker.config import StationConfig, SyncConfig, parse_config
from locker.db import Database
from locker.errors import StoreError
from locker.flows import Flows
from locker.flows.bundle import HubKey
from locker.ports import DoorEvent, DoorEventKind
from locker.store import Store
from tests.daemon import rig
from wibox.doctor import station_db
from wibox.doctor.hub import check_enrollment
from wibox.doctor.report import Status


def station(tmp_path: Path) -> tuple[StationConfig, Flows]:
    text = rig.station_toml(tmp_path / "wibox.db", rig.free_port(), ("/dev/null", "/dev/null"), compartments=2)
    config = parse_config(text, DRIVERS)
    clock = SystemClock()
    store = Store.open(Database(config.storage.database), clock, config.compartments)
    return config, Flows(store, MemoryLockBank([c.number for c in config.compartments], clock), clock, config)


def test_enrollment_states(tmp_path: Path) -> None:
    config, flows = station(tmp_path)
    db = Path(config.storage.database)
    sync = SyncConfig(hub_url="https://hub.example", key_dir=str(tmp_path / "keys"))
    assert check_enrollment(sync, db).status is Status.WARN  # no keys yet
    KeyStore(Path(sync.key_dir)).kiosk_keys()  # what the daemon does at its first start
    waiting = check_enrollment(sync, db)
    assert waiting.status is Status.WARN and "not approved" in waiting.message
    hub = Signer.generate()
    flows.bundle.pin_hub_keys([HubKey(hub.key_id, hub.public_raw)])  # what the approval does
    assert check_enrollment(sync, db).message.startswith("enrolled: 1 hub key(s) pinned")
    (Path(sync.key_dir) / "kiosk-enc.pem").chmod(0o644)
    loose = check_enrollment(sync, db)
    assert loose.status is Status.FAIL and "chmod 600" in loose.hint
    assert check_enrollment(SyncConfig(), db).status is Status.SKIP


def test_the_daemons_board_offline_alarms(tmp_path: Path) -> None:
    config, flows = station(tmp_path)
    db = Path(config.storage.database)
    assert station_db.offline_boards(db) == {}
    offline = DoorEvent(DoorEventKind.BOARD_OFFLINE, None, 1_800_000_000.0, board="bus1/1")
    flows.doors.handle(offline)  # what the daemon does with the lock bank's event
    since = station_db.offline_boards(db) or {}
    assert list(since) == ["bus1/1"] and abs(since["bus1/1"] - SystemClock().now()) < 60
    flows.doors.handle(DoorEvent(DoorEventKind.BOARD_ONLINE, None, 1_800_000_010.0, board="bus1/1"))
    assert station_db.offline_boards(db) == {}
    assert station_db.offline_boards(tmp_path / "none.db") is None


def test_a_database_that_is_not_one_is_an_error_not_an_empty_answer(tmp_path: Path) -> None:
    bad = tmp_path / "wibox.db"
    bad.write_bytes(b"not sqlite" * 100)
    with pytest.raises(StoreError):
        station_db.offline_boards(bad)
    sync = SyncConfig(hub_url="https://hub.example", key_dir=str(tmp_path / "keys"))
    KeyStore(Path(sync.key_dir)).kiosk_keys()
    assert check_enrollment(sync, bad).status is Status.FAIL
