"""`wibox run`: the production daemon — lock bank, scanners, flows, sync and kiosk UI in one asyncio process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from locker.clock import SystemClock
from locker.config import StationConfig
from locker.db import Database
from locker.errors import IntegrityError, LockerError
from locker.flows import Flows
from locker.flows.bundle import load_time_floor
from locker.ports import DoorEvent, LockBank
from locker.sdnotify import SdNotify
from locker.store import Store

if TYPE_CHECKING:
    from kiosk_ui.station import Station

log = logging.getLogger("wibox.daemon")
T = TypeVar("T")

TIMER_PERIOD_S = 5.0  # door-left-open timers
EXPIRY_PERIOD_S = 60.0  # pickup windows
INTEGRITY_PERIOD_S = 86400.0  # full integrity check (when idle)


class RunningBank(LockBank, Protocol):
    """A lock bank with a life cycle (the real one polls its boards in threads)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...


class Service(Protocol):
    """Something the daemon starts after the core is up and stops before it goes down (scanners, sync)."""

    def start(self) -> None: ...

    def stop(self, timeout: float = 5.0) -> None: ...


@dataclass
class Daemon:
    """One station process. ``bank_factory`` builds the lock bank from the configuration (the real drivers in
    production, simulators in the demo); ``ui_factory`` builds the kiosk web app over the shared flows."""

    config: StationConfig
    bank_factory: Callable[[StationConfig, SystemClock], RunningBank]
    notifier: SdNotify = field(default_factory=SdNotify)
    services_factory: Callable[[Daemon], Iterable[Service]] | None = None
    ui_factory: Callable[[Daemon], Any] | None = None
    clock: SystemClock = field(default_factory=SystemClock)
    watchdog_ping_s: float | None = None  # default: half of systemd's WatchdogSec
    database: Database = field(init=False)
    store: Store = field(init=False)
    flows: Flows = field(init=False)
    station: Station = field(init=False)
    bank: RunningBank = field(init=False)
    services: list[Service] = field(init=False, default_factory=list)
    _stop: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(init=False, default_factory=list)
    watchdog_pings: int = field(init=False, default=0)
    _ui_server: Any = field(init=False, default=None)

    # -- start-up ---------------------------------------------------------------------------------------
    def open_core(self) -> None:
        """Blocking start-up work (run in a thread): database check, migrations, lock bank, recovery."""
        self.database = Database(self.config.storage.database)
        quick = self.database.integrity_check(quick=True)
        if quick != ["ok"]:
            raise IntegrityError(f"database quick_check failed: {'; '.join(quick[:5])}")
        self.store = Store.open(self.database, self.clock, self.config.compartments)
        self.clock.raise_floor(load_time_floor(self.store))
        self.bank = self.bank_factory(self.config, self.clock)
        self.bank.start()  # drives every lock output to its safe state first
        self.flows = Flows(self.store, self.bank, self.clock, self.config, floor=self.clock)
        from kiosk_ui.station import Station  # the one lock every caller of the flows shares

        self.station = Station(self.flows, self.config, self.clock)
        recovered = self.station.call(lambda f: f.recovery.run())
        for r in recovered:
            log.warning("recovery: compartment %s: %s", r.compartment, r.action)

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop)
        try:
            await asyncio.to_thread(self.open_core)
        except LockerError as exc:
            log.critical("cannot start: %s", exc)
            self.notifier.status(f"cannot start: {exc}")
            return 1
        try:
            if self.services_factory is not None:
                for service in self.services_factory(self):
                    await asyncio.to_thread(service.start)
                    self.services.append(service)
            self._spawn(self._watchdog(), "watchdog")
            self._spawn(self._door_events(), "door-events")
            self._spawn(self._timers(), "timers")
            if self.ui_factory is not None:
                self._spawn(self._serve_ui(), "ui")
            self.notifier.ready(f"station {self.config.station_id}: {len(self.config.compartments)} compartments")
            log.info("station %s ready", self.config.station_id)
            stopped = asyncio.create_task(self._stop.wait())
            done, _ = await asyncio.wait([stopped, *self._tasks], return_when=asyncio.FIRST_COMPLETED)
            ended = [t for t in done if t is not stopped]
            for t in ended:  # every task runs until the stop: one that ends is a failure
                error = None if t.cancelled() else t.exception()
                log.critical("task %s ended unexpectedly: %r", t.get_name(), error)
            return 1 if ended else 0
        finally:
            await self._shutdown()

    def _spawn(self, coro: Any, name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=name))

    async def _shutdown(self) -> None:
        self.notifier.stopping()
        if self._ui_server is not None:  # let uvicorn finish its requests and lifespan instead of cancelling it
            self._ui_server.should_exit = True
            ui_tasks = [t for t in self._tasks if t.get_name() == "ui"]
            if ui_tasks:
                await asyncio.wait(ui_tasks, timeout=5.0)
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        for service in reversed(self.services):
            await asyncio.to_thread(service.stop)
        if hasattr(self, "bank"):
            # A clean stop records every door change that already happened before the bank goes away.
            await asyncio.to_thread(self._drain_events, 0.3)
            await asyncio.to_thread(self.bank.close)  # stops the pollers and drives every output safe
        if hasattr(self, "database"):
            await asyncio.to_thread(self.database.close)
        log.info("station %s stopped", self.config.station_id)

    # -- tasks ------------------------------------------------------------------------------------------
    async def _watchdog(self) -> None:
        """WATCHDOG=1 from the event loop itself: a blocked loop stops the pings and systemd restarts us."""
        period = self.watchdog_ping_s or (self.notifier.watchdog_s / 2 if self.notifier.watchdog_s else None)
        if period is None:
            await asyncio.Event().wait()  # not run by systemd (or no WatchdogSec): nothing to feed
            return
        while True:
            self.notifier.watchdog()
            self.watchdog_pings += 1
            await asyncio.sleep(period)

    def _handle(self, events: Iterable[DoorEvent]) -> None:
        for e in events:
            try:
                self.station.call(lambda f, e=e: f.doors.handle(e))  # type: ignore[misc]
            except LockerError as exc:
                log.error("door event %s for %s not applied: %s", e.kind, e.compartment, exc)

    def _drain_events(self, timeout: float) -> None:
        """Wait up to ``timeout`` for lock-bank events and apply them (one thread hop per batch)."""
        self._handle(self.bank.poll_events(timeout))

    async def _door_events(self) -> None:
        while True:
            await asyncio.to_thread(self._drain_events, 0.5)

    async def _timers(self) -> None:
        last_expiry = last_check = time.monotonic()
        while True:
            await asyncio.sleep(TIMER_PERIOD_S)
            await asyncio.to_thread(self.station.call, lambda f: f.doors.check_timers())
            now = time.monotonic()
            if now - last_expiry >= EXPIRY_PERIOD_S:
                last_expiry = now
                await asyncio.to_thread(self.station.call, lambda f: f.orders.expire_due())
            if now - last_check >= INTEGRITY_PERIOD_S:
                last_check = now
                report = await asyncio.to_thread(self.database.integrity_check)
                if report != ["ok"]:
                    log.critical("database integrity check failed: %s", report[:5])

    async def _serve_ui(self) -> None:
        import uvicorn

        class _Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield  # the daemon owns SIGTERM/SIGINT: it stops the UI with everything else

        assert self.ui_factory is not None
        app = self.ui_factory(self)
        server = _Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.config.ui.port, log_config=None, access_log=False)
        )
        self._ui_server = server
        try:
            await server.serve()
        finally:
            server.should_exit = True


# -- the production composition ------------------------------------------------------------------------------


def production(config: StationConfig, notifier: SdNotify | None = None) -> Daemon:
    """The daemon as `wibox run` builds it: real drivers, the configured scanners, the kiosk UI."""
    from firmware_bridge.lockbank import LockBank as BoardLockBank
    from firmware_bridge.scanners.hub import ScanHub, StatusChange
    from kiosk_ui.app import create_app

    scan_hub = ScanHub()

    def bank(cfg: StationConfig, clock: SystemClock) -> RunningBank:
        return BoardLockBank.open(cfg, clock=clock)

    apps: list[Any] = []

    def ui(d: Daemon) -> Any:
        if not apps:  # built once the core is open; the sync service needs its screen controls too
            apps.append(
                create_app(
                    d.flows,
                    scan_hub=scan_hub,
                    sim=None,
                    config=d.config,
                    clock=d.clock,
                    pump_doors=False,
                    station=d.station,
                )
            )
        return apps[0]

    def services(d: Daemon) -> list[Service]:
        def on_status(event: object) -> None:
            if isinstance(event, StatusChange):
                ok = event.state == "ok"
                d.station.call(lambda f: f.health.report(event.name, ok, event.reason))

        scan_hub.subscribe(on_status)
        out = scanners(config, scan_hub, d.clock)
        if config.sync.hub_url:
            out.append(sync_service(d, ui(d).state.ui))
        return out

    return Daemon(config, bank, notifier or SdNotify(), services_factory=services, ui_factory=ui)


def sync_service(d: Daemon, screen: Any = None) -> Service:
    """The connection to the city hub (keys in ``sync.key_dir``; enrollment code logged until approved)."""
    from pathlib import Path

    from backend_sync.client import ClientSettings, SyncClient
    from backend_sync.keys import KeyStore
    from backend_sync.service import SyncService

    sync = d.config.sync
    keys = KeyStore(Path(sync.key_dir)).kiosk_keys()
    client = SyncClient(
        sync.hub_url,
        d.config.station_id,
        keys,
        d.flows,
        d.store,
        d.clock,
        settings=ClientSettings(poll_interval_s=float(sync.poll_s)),
        guard=d.station.locked,
        ui=screen,
    )

    def show(code: str) -> None:
        log.warning("enrollment code for the hub admin: %s", code)
        d.station.enrollment_code = f"{code[:4]} {code[4:]}"  # shown on the start screen until approved

    def enrolled() -> None:
        d.station.enrollment_code = None

    return SyncService(client, on_code=show, on_enrolled=enrolled)


def scanners(config: StationConfig, sink: Any, clock: SystemClock) -> list[Service]:
    """The scanners the configuration names, feeding one scan stream."""
    from firmware_bridge.scanners.camera import CameraScanner, CameraSettings, parse_device
    from firmware_bridge.scanners.chain import DecoderChain

    sc = config.scanners
    out: list[Service] = []
    if sc.camera.enabled:
        settings = CameraSettings(
            device=parse_device(sc.camera.device),
            width=sc.camera.width,
            height=sc.camera.height,
            fps=float(sc.camera.fps),
            dedup_s=sc.camera.dedup_s,
        )
        out.append(CameraScanner(settings, DecoderChain.from_spec(sc.chain.split(",")), sink, clock))
    if sc.wedge_device:
        from firmware_bridge.scanners.keymaps import KEYMAPS
        from firmware_bridge.scanners.wedge import WedgeScanner

        out.append(WedgeScanner(sc.wedge_device, sink, clock, keymap=KEYMAPS[sc.wedge_keymap]))
    if sc.serial_port:
        from firmware_bridge.scanners.serial_scanner import SerialScanner

        out.append(SerialScanner(sc.serial_port, sink, clock, baudrate=sc.serial_baud))
    return out


def main(config_path: str) -> int:
    from locker.config import load_config

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = load_config(config_path)
    return asyncio.run(production(config).run())
