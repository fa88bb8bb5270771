"""The station's wiring, once: `build_station` is what `wibox run` starts and what the demo starts over simulators."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend_sync.client import ClientSettings, SyncClient
from backend_sync.keys import KeyStore
from backend_sync.service import SyncService
from firmware_bridge.lockbank import LockBank as BoardLockBank
from firmware_bridge.registry import DRIVERS
from firmware_bridge.scanners.hub import ScanHub, StatusChange
from kiosk_ui.app import create_app
from locker.clock import SystemClock
from locker.config import StationConfig, load_config
from locker.daemon import Daemon, RunningBank, Service
from locker.sdnotify import SdNotify
from wibox import screen_token
from wibox.scanners import scanners
from wibox.serve import WebService

log = logging.getLogger("wibox.build")

BankFactory = Callable[[StationConfig, SystemClock], RunningBank]


def board_bank(config: StationConfig, clock: SystemClock) -> RunningBank:
    """The real drivers on the configured serial ports / GPIO pins."""
    return BoardLockBank.open(config, clock=clock)


@dataclass
class BuiltStation:
    """A wired station: run ``daemon.run()``. ``app`` and ``sync`` exist once the daemon has opened its core."""

    daemon: Daemon
    scan_hub: ScanHub
    app: Any = None
    sync: SyncService | None = None
    client: SyncClient | None = None
    web: WebService | None = None
    on_code: list[Callable[[str], None]] = field(default_factory=list)


def build_station(
    config: StationConfig,
    *,
    notifier: SdNotify | None = None,
    bank: BankFactory = board_bank,
    clock: SystemClock | None = None,
    scan_hub: ScanHub | None = None,
    sim: Callable[[Daemon], Any] | None = None,
    sync_settings: ClientSettings | None = None,
    start_sync: bool = True,
    ui_socket: socket.socket | None = None,
    serve_ui: bool = True,
) -> BuiltStation:
    """The daemon with its kiosk UI, its scanners and, where ``sync.hub_url`` is set, the hub connection.

    The demo passes simulated boards (``bank``), its ``/sim`` panel (``sim``), a faster sync and a clock it can move;
    ``start_sync=False`` builds the sync service without starting it (the scenario steps it); ``serve_ui=False``
    builds the kiosk app (its screen controls serve remote commands) without serving it. Everything else is
    the same wiring as `wibox run`: the same UI with the same screen controls for remote commands.
    """
    hub = scan_hub or ScanHub()
    built: BuiltStation

    def ui(d: Daemon) -> WebService:
        if built.web is None:
            built.web = WebService(_app(d), sock=ui_socket, port=config.ui.port)
        return built.web

    def _app(d: Daemon) -> Any:
        if built.app is None:  # built once the core is open; the sync service needs its screen controls too
            built.app = create_app(
                d.flows,
                scan_hub=hub,
                sim=sim(d) if sim is not None else None,
                config=d.config,
                clock=d.clock,
                pump_doors=False,
                station=d.station,
                screen_token=screen_token.issue(d.config.display.screen_token_file),
            )
        return built.app

    def services(d: Daemon) -> list[Service]:
        def on_status(event: object) -> None:
            if isinstance(event, StatusChange):
                ok = event.state == "ok"
                d.station.call(lambda f: f.health.report(event.name, ok, event.reason))

        hub.subscribe(on_status)
        out = scanners(config, hub, d.clock)
        if config.sync.hub_url:
            built.sync = _sync_service(d, _app(d).state.ui, built, sync_settings)
            if start_sync:
                out.append(built.sync)
        return out

    daemon = Daemon(
        config,
        bank,
        notifier or SdNotify(),
        services_factory=services,
        ui_factory=ui if serve_ui else None,
        clock=clock or SystemClock(),
    )
    built = BuiltStation(daemon, hub)
    return built


def _sync_service(d: Daemon, screen: Any, built: BuiltStation, settings: ClientSettings | None) -> SyncService:
    """The connection to the city hub (keys in ``sync.key_dir``; the enrollment code shown until approved)."""
    sync = d.config.sync
    keys = KeyStore(Path(sync.key_dir)).kiosk_keys()
    built.client = SyncClient(
        sync.hub_url,
        d.config.station_id,
        keys,
        d.flows,
        d.store,
        d.clock,
        settings=settings or ClientSettings(poll_interval_s=float(sync.poll_s)),
        on_station=d.station.execute,
        ui=screen,
    )

    def show(code: str) -> None:
        log.warning("enrollment code for the hub admin: %s", code)
        d.station.enrollment_code = f"{code[:4]} {code[4:]}"  # shown on the start screen until approved
        for listener in built.on_code:
            listener(code)

    def enrolled() -> None:
        d.station.enrollment_code = None

    return SyncService(built.client, on_code=show, on_enrolled=enrolled)


def main(config_path: str) -> int:
    """`wibox run --config FILE`."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = load_config(config_path, DRIVERS)
    return asyncio.run(build_station(config).daemon.run())
