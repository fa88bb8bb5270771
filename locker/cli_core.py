"""Core subcommands: version, config check, db check, staff add."""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from locker import __version__, audit
from locker.clock import SystemClock
from locker.config import DriverRules, StationConfig, describe_keys, load_config
from locker.db import Database
from locker.errors import StoreError
from locker.migrations import MIGRATIONS, applied, migrate
from locker.staff import ROLES, StaffAuth
from locker.store import Store

# Staff accounts only need the throttle and timing defaults when no station file is given.
_LOCAL = StationConfig(station_id="local", buses=(), compartments=())


def _version(args: argparse.Namespace) -> int:
    print(f"wibox {__version__}")
    return 0


def _config_check(args: argparse.Namespace, drivers: Mapping[str, DriverRules]) -> int:
    cfg = load_config(args.file, drivers)
    if args.explain:
        for key, tname, doc in describe_keys():
            print(f"{key:40} {tname:18} {doc}")
        print()
    print(f"{args.file}: ok")
    print(f"station {cfg.station_id}: {len(cfg.compartments)} compartments on {len(cfg.buses)} bus(es)")
    for b in cfg.buses:
        n = sum(1 for c in cfg.compartments if c.bus == b.name)
        where = b.port or "GPIO header"
        print(
            f"  bus {b.name}: {b.driver} on {where} at {b.baud} baud, {b.polarity}, pulse {b.pulse_ms} ms,"
            f" {n} compartments"
        )
    reach = sum(1 for c in cfg.compartments if cfg.is_reachable(c.number))
    sizes = {s: sum(1 for c in cfg.compartments if c.size == s) for s in ("S", "M", "L")}
    print(f"  sizes S/M/L: {sizes['S']}/{sizes['M']}/{sizes['L']}; reachable from a wheelchair: {reach}")
    p = cfg.policy
    print(
        f"  policy: second factor {'on' if p.second_factor else 'off'}, four-eyes loading "
        f"{'on' if p.four_eyes_loading else 'off'}, old-ID return {'on' if p.old_id_return else 'off'},"
        f" PIN {p.pin_length} digits"
    )
    t = cfg.timing
    print(
        f"  timing: pickup window {t.pickup_window_days} days, door-open alarm {t.door_open_alarm_s} s,"
        f" staff session {t.staff_session_timeout_s} s"
    )
    return 0


def _open_store(path: str) -> tuple[Database, Store]:
    database = Database(path)
    migrate(database)
    return database, Store(database, SystemClock())


# The hub's witness over the audit log, checked by the sync package (the composition root passes it in): the
# report's "ok" and its fields. Without one, ``db check`` checks the chain and the checkpoints' heads only.
WitnessCheck = Callable[[Database], Mapping[str, Any]]


def _db_check(args: argparse.Namespace, witness: WitnessCheck | None = None) -> int:
    if not Path(args.database).is_file():
        raise StoreError(f"{args.database}: no such database file")
    database = Database(args.database)
    report: dict[str, Any] = {"database": args.database}
    integrity = database.integrity_check(quick=False)
    report["integrity"] = "ok" if integrity == ["ok"] else integrity
    report["journal_mode"] = database.journal_mode()
    done = applied(database)
    report["migrations"] = {"applied": done, "pending": [m.name for m in MIGRATIONS if m.name not in done]}
    if "audit" in database.db.table_names():
        a = audit.verify(database)
        report["audit"] = {"ok": a.ok, "size": a.size, "head": a.head.hex(), "problem": a.problem}
        ok = integrity == ["ok"] and a.ok
        if witness is not None:
            w = dict(witness(database))
            report["witness"] = w
            ok = ok and bool(w.get("ok"))
    else:
        report["audit"] = {"ok": False, "problem": "no audit table: not a wibox database"}
        ok = False
    print(json.dumps(report, indent=2))
    database.close()
    return 0 if ok else 1


def _staff_add(args: argparse.Namespace, drivers: Mapping[str, DriverRules]) -> int:
    cfg = load_config(args.config, drivers) if args.config else None
    path = args.database or (cfg.storage.database if cfg else None)
    if not path:
        print("wibox: error: give --database or --config", file=sys.stderr)
        return 2
    pin = args.pin if args.pin is not None else sys.stdin.readline().strip()
    database, store = _open_store(path)
    auth = StaffAuth(store, cfg or _LOCAL, SystemClock())
    badge = auth.add(args.staff_id, pin, tuple(args.role or ["loader"]), actor="cli")
    print(json.dumps({"staff": args.staff_id, "roles": args.role or ["loader"], "badge": badge.payload}))
    database.close()
    return 0


def register(sub: Any, drivers: Mapping[str, DriverRules], witness: WitnessCheck | None = None) -> None:
    """The core's subcommands; ``drivers`` validates a configuration's buses (the composition root passes the
    driver registry), ``witness`` checks the hub's countersignatures in ``db check``."""
    p = sub.add_parser("version", help="print the version")
    p.set_defaults(func=_version)

    cfg = sub.add_parser("config", help="configuration commands")
    cfg_sub = cfg.add_subparsers(dest="config_command", metavar="ACTION")
    cfg_sub.required = True
    chk = cfg_sub.add_parser("check", help="validate a configuration file and explain what it sets up")
    chk.add_argument("file", help="station TOML file")
    chk.add_argument("--explain", action="store_true", help="also list every configuration key")
    chk.set_defaults(func=functools.partial(_config_check, drivers=drivers))

    db = sub.add_parser("db", help="database commands")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION")
    db_sub.required = True
    dchk = db_sub.add_parser(
        "check", help="integrity check of the database file, the audit chain and the hub's countersignatures"
    )
    dchk.add_argument("database", help="SQLite database file")
    dchk.set_defaults(func=functools.partial(_db_check, witness=witness))

    staff = sub.add_parser("staff", help="local staff accounts")
    st_sub = staff.add_subparsers(dest="staff_command", metavar="ACTION")
    st_sub.required = True
    add = st_sub.add_parser("add", help="add a local staff account (demo/tests until the backend syncs staff)")
    add.add_argument("staff_id", help="staff id, e.g. ANNA-01")
    add.add_argument("--pin", help="personal PIN (at least 6 digits); read from standard input if omitted")
    add.add_argument("--role", action="append", choices=ROLES, help="role (repeatable; default loader)")
    add.add_argument("--database", help="database file (default: storage.database of --config)")
    add.add_argument("--config", help="station configuration file")
    add.set_defaults(func=functools.partial(_staff_add, drivers=drivers))
