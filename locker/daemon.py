"""The station process's life cycle: core up, services started, door events, timers, watchdog, clean stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from locker.clock import SystemClock
from locker.config import StationConfig
from locker.db import Database
from locker.errors import IntegrityError, LockerError
from locker.flows import Flows
from locker.flows.bundle import load_time_floor
from locker.ports import DoorEvent, LockBank
from locker.sdnotify import SdNotify
from locker.station import Station
from locker.store import Store

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


class LoopService(Protocol):
    """Something that runs on the daemon's event loop until asked to stop (the kiosk's web server)."""

    async def serve(self) -> None: ...

    def request_stop(self) -> None: ...


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
    ui_factory: Callable[[Daemon], LoopService] | None = None
    clock: SystemClock = field(default_factory=SystemClock)
    watchdog_ping_s: float | None = None  # default: half of systemd's WatchdogSec
    database: Database = field(init=False)
    store: Store = field(init=False)
    flows: Flows = field(init=False)
    reader: Database = field(init=False)
    station: Station = field(init=False)
    bank: RunningBank = field(init=False)
    services: list[Service] = field(init=False, default_factory=list)
    _stop: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(init=False, default_factory=list)
    watchdog_pings: int = field(init=False, default=0)
    _ui: LoopService | None = field(init=False, default=None)

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
        self.reader = self.database.reader()  # the screens' own read-only connection
        self.station = Station(self.flows, self.config, self.clock, reads=Store(self.reader, self.clock))
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
                self._ui = self.ui_factory(self)
                self._spawn(self._ui.serve(), "ui")
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

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=name))

    async def _shutdown(self) -> None:
        self.notifier.stopping()
        if self._ui is not None:  # let the web server finish its requests and lifespan instead of cancelling it
            self._ui.request_stop()
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
        if hasattr(self, "station"):
            # A clean stop records every door change that already happened before the bank goes away.
            await asyncio.to_thread(self._drain_events, 0.3)
            await asyncio.to_thread(self.station.close)  # the jobs already queued finish first
        if hasattr(self, "bank"):
            await asyncio.to_thread(self.bank.close)  # stops the pollers and drives every output safe
        if hasattr(self, "database"):
            if hasattr(self, "reader") and self.reader is not self.database:
                await asyncio.to_thread(self.reader.close)
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
            await self.station.run(lambda f: f.doors.check_timers())
            now = time.monotonic()
            if now - last_expiry >= EXPIRY_PERIOD_S:
                last_expiry = now
                await self.station.run(lambda f: f.orders.expire_due())
                if self.config.sync.hub_url:  # a station that syncs: are its orders and staff accounts fresh?
                    await self.station.run(lambda f: f.bundle.check_data_age())
            if now - last_check >= INTEGRITY_PERIOD_S:
                last_check = now
                report = await asyncio.to_thread(self.database.integrity_check)
                if report != ["ok"]:
                    log.critical("database integrity check failed: %s", report[:5])
