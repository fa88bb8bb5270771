"""A kiosk served by uvicorn on a loopback ephemeral port over a harness station, and Chromium to look at it."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from playwright.sync_api import ViewportSize

from firmware_bridge.scanners.hub import ScanHub
from firmware_bridge.sim.memory_bank import MemoryLockBank
from firmware_bridge.sim.panel import Panel
from kiosk_ui.app import HOST, create_app
from kiosk_ui.citizen_session import CitizenSession
from kiosk_ui.runtime import KioskUI
from locker.clock import ManualClock
from locker.config import KeyConfig, OfficeConfig, ThrottleConfig
from locker.station import Station as UIStation
from tests.harness import Station, station_config

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--mute-audio",
]
START_TIMEOUT_S = 60.0  # generous: it takes well under a second, but CI machines are shared
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}  # the default [display]: 10.1 inch, 1280 x 800


@dataclass
class Kiosk:
    station: Station
    app: FastAPI
    hub: ScanHub
    url: str = ""

    @property
    def ui(self) -> KioskUI:
        ui: KioskUI = self.app.state.ui
        return ui

    def close(self) -> None:
        """Stop the UI station's worker, then close the database."""
        self.ui.station.close()
        self.station.database.close()

    def session(self) -> CitizenSession:
        """The newest citizen session of this kiosk (the browser context opened last)."""
        return list(self.ui.citizens.sessions.values())[-1]


def build(
    tmp_path: Path,
    n: int = 6,
    throttle: ThrottleConfig | None = None,
    screen_token: str = "",
    office: OfficeConfig | None = None,
    keys: tuple[KeyConfig, ...] = (),
    **policy: Any,
) -> Kiosk:
    cfg = station_config(tmp_path / "wibox.db", n, **policy)
    if keys:
        cfg = dataclasses.replace(cfg, display=dataclasses.replace(cfg.display, keys=keys))
    if throttle is not None:
        cfg = dataclasses.replace(cfg, throttle=throttle)
    if office is not None:
        cfg = dataclasses.replace(cfg, office=office)
    clock = ManualClock()
    bank = MemoryLockBank([c.number for c in cfg.compartments], clock, item_sensors=True)
    station = Station(cfg, clock, bank)
    hub = ScanHub()
    ui_station = UIStation(station.flows, cfg, clock, lock=station.lock)
    sim = Panel(bank, ui_station, hub)
    app = create_app(
        station.flows,
        scan_hub=hub,
        sim=sim,
        config=cfg,
        clock=clock,
        station=ui_station,
        tick_s=0.05,
        screen_token=screen_token,
    )
    return Kiosk(station, app, hub)


@contextmanager
def serve(kiosk: Kiosk) -> Iterator[Kiosk]:
    """Run the app under uvicorn in a thread on 127.0.0.1 with an ephemeral port until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((HOST, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(kiosk.app, log_level="warning", timeout_graceful_shutdown=1, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    if not server.started:
        server.should_exit = True
        thread.join(10)
        sock.close()
        raise RuntimeError(f"uvicorn did not start within {START_TIMEOUT_S:.0f} s")
    kiosk.url = f"http://{HOST}:{port}"
    try:
        yield kiosk
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        kiosk.close()
