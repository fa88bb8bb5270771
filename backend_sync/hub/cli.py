"""`wibox hub init` and `wibox hub run`: create the hub's database, key and first accounts; serve the hub."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from typing import TYPE_CHECKING

from locker.clock import SystemClock
from locker.errors import ConfigError

if TYPE_CHECKING:  # the hub's modules (FastAPI, SQLAlchemy) load only when a hub command runs
    from backend_sync.hub.config import HubConfig
    from backend_sync.hub.db import HubStore
    from backend_sync.hub.notices import CityNotifier

log = logging.getLogger(__name__)


def _open(cfg: HubConfig) -> HubStore:
    from backend_sync.hub.db import HubStore

    os.umask(0o077)  # everything the hub writes (database, keys, logs it opens) is its own: it holds codes
    return HubStore.open(cfg.database_url, cfg.database.pool_size)


def _init(args: argparse.Namespace) -> int:
    from backend_sync.hub.auth import Role, create_admin
    from backend_sync.hub.config import load_hub_config
    from backend_sync.hub.keys import load_hub_keys, record_hub_keys

    cfg = load_hub_config(args.config)
    store = _open(cfg)
    try:
        keys = load_hub_keys(cfg.key_dir)
        record_hub_keys(store, keys)
        password = sys.stdin.readline().rstrip("\n")
        now = SystemClock().now()
        with store.write() as conn:
            if not store.city_exists(conn, args.city_id):
                store.add_city(conn, args.city_id, args.city_name)
            try:
                create_admin(conn, args.admin, password, role=Role.PLATFORM, city_id=None, now=now)
            except ValueError as exc:
                raise ConfigError(f"--admin: {exc}") from exc
            store.audit(conn, None, "cli", "hub.init", args.city_id, at=now)
    finally:
        store.close()
    print(f"hub database ready ({cfg.database_url.split('@')[-1]}); hub key {keys.signer.key_id}")
    print(f"city {args.city_id} ({args.city_name}); platform admin {args.admin}")
    return 0


def _run(args: argparse.Namespace) -> int:
    import uvicorn

    from backend_sync.hub.app import create_app
    from backend_sync.hub.config import load_hub_config
    from backend_sync.hub.keys import load_hub_keys, record_hub_keys
    from backend_sync.hub.notices import build_notifier

    cfg = load_hub_config(args.config)
    logging.basicConfig(level=getattr(logging, args.log_level.upper()), format="%(levelname)s %(name)s: %(message)s")
    store = _open(cfg)
    keys = load_hub_keys(cfg.key_dir)
    record_hub_keys(store, keys)
    clock = SystemClock()
    notifier = build_notifier(store, cfg.smtp, clock)
    app = create_app(store, cfg, keys, clock, notifier=notifier)
    stop = threading.Event()
    periodic = threading.Thread(target=_notices_loop, args=(notifier, stop), name="notices", daemon=True)
    periodic.start()
    try:
        uvicorn.run(app, host=cfg.server.host, port=cfg.server.port, log_level=args.log_level, access_log=False)
    finally:
        stop.set()
        periodic.join(timeout=5)
        store.close()
    return 0


NOTICES_PERIOD_S = 300.0


def _notices_loop(notifier: CityNotifier, stop: threading.Event) -> None:
    """Retry failed notices and send expiry reminders every few minutes; failures are logged, never fatal."""
    while not stop.wait(NOTICES_PERIOD_S):
        try:
            retried, reminded = notifier.run_periodic()
        except Exception:
            log.exception("periodic notices failed; trying again in %.0f s", NOTICES_PERIOD_S)
            continue
        if retried or reminded:
            log.info("notices: %d retried, %d reminders sent", retried, reminded)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    hub = sub.add_parser("hub", help="the city hub (orders, enrollment, bundles, fleet)")
    hub_sub = hub.add_subparsers(dest="hub_command", metavar="HUB_COMMAND")
    hub_sub.required = True

    init = hub_sub.add_parser("init", help="create the database, the hub signing key, a city and a platform admin")
    init.add_argument("--config", required=True, help="hub TOML file")
    init.add_argument("--city-id", required=True, help="id of the first city, e.g. wiesbaden")
    init.add_argument("--city-name", required=True, help="display name of the first city")
    init.add_argument("--admin", required=True, help="user name of the platform admin (password read from stdin)")
    init.set_defaults(func=_init)

    run = hub_sub.add_parser("run", help="serve the hub (kiosk API, admin API and pages)")
    run.add_argument("--config", required=True, help="hub TOML file")
    run.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"), help="log level")
    run.set_defaults(func=_run)
