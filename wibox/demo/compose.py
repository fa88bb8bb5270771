"""The demo's composition root: simulated boards under the real drivers, the station daemon, the city hub."""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend_sync.client import ClientSettings, SyncClient
from backend_sync.service import SyncService
from firmware_bridge.lockbank import LockBank
from firmware_bridge.registry import DRIVERS
from firmware_bridge.scanners.hub import ScanHub
from firmware_bridge.sim.panel import Panel
from firmware_bridge.sim.station import SimulatedWall
from locker import codes
from locker.config import StationConfig, parse_config
from locker.daemon import Daemon
from locker.flows import Flows
from locker.model import CompartmentState, Order, OrderState
from locker.sdnotify import InProcessNotify
from wibox.build import BuiltStation, build_station
from wibox.demo.common import DEVICE, MARKER, POLL_S, STAFF, DemoClock, DemoError, listen, poll, wait_for
from wibox.demo.hub import DemoHub, DemoOrder
from wibox.serve import wait_started

STATION_TOML = """
station_id = "{device}"

[timing]
unlock_confirm_s = 2.0
door_open_alarm_s = 60

[policy]
four_eyes_loading = true
old_id_return = true

[storage]
database = "{database}"

[ui]
port = {ui_port}

[scanners.camera]
enabled = false

[sync]
hub_url = "{hub_url}"
key_dir = "{key_dir}"
poll_s = 5

[office]
name = "Bürgerbüro Musterstadt (demo)"
address = "Musterstraße 1, 65183 Wiesbaden"
hours = "Mo bis Fr 8 bis 18 Uhr, Sa 9 bis 12 Uhr"
phone = "0611 123456"

"""

_SIZES = "SSMMLL"
_HEIGHTS = (1650, 1350, 1050, 750, 450, 150)

# The buses a demo wall can have; each column of six compartments sits on one (bus name, board address).
_BUSES = {
    "bus0": 'name = "bus0"\ndriver = "kerong-cu16"\nport = "simulated"\nbaud = 19200\nchannels = 16\n',
    "bus1": 'name = "bus1"\ndriver = "xor-8a"\nport = "simulated"\nbaud = 9600\npolarity = "open-low"\nchannels = 8\n',
    "mb0": 'name = "mb0"\ndriver = "modbus-relay"\nport = "simulated"\nbaud = 9600\nchannels = 8\n',
    "gpio": 'name = "gpio"\ndriver = "gpio"\n',
}
# BCM pins of the gpio bus's locks 1..12: (relay, door), every pin once
_GPIO_PINS = tuple(
    zip((5, 6, 13, 19, 26, 21, 20, 16, 12, 7, 8, 11), (17, 27, 22, 23, 24, 25, 18, 15, 14, 4, 3, 2), strict=True)
)
BOARDS: dict[str, tuple[tuple[str, int], tuple[str, int]]] = {
    "serial": (("bus0", 0), ("bus1", 1)),  # a Kerong CU16 and an 8A/80 board, each on its own RS485 bus
    "modbus": (("mb0", 1), ("mb0", 2)),  # two Modbus RTU relay boards (unit ids 1 and 2) on one bus
    "gpio": (("gpio", 0), ("gpio", 0)),  # twelve locks on relay HAT outputs and reed switches at the Pi header
    "mixed": (("mb0", 1), ("gpio", 0)),  # one Modbus relay board and six locks on the Pi header
}


def demo_config(folder: Path, hub_url: str, ui_port: int, boards: str = "serial") -> StationConfig:
    """Twelve compartments in two columns of six; ``boards`` (a key of ``BOARDS``) says what drives each column."""
    if boards not in BOARDS:
        raise DemoError(f"--boards {boards!r}: choose one of {', '.join(BOARDS)}")
    columns = BOARDS[boards]
    parts = [
        STATION_TOML.format(
            device=DEVICE,
            database=folder / "wibox.db",
            ui_port=ui_port,
            hub_url=hub_url,
            key_dir=folder / "keys",
        )
    ]
    gpio_locks = 6 * sum(1 for bus, _board in columns if bus == "gpio")
    for bus in dict.fromkeys(bus for bus, _board in columns):
        parts.append("\n[[buses]]\n" + _BUSES[bus])
        if bus == "gpio":
            for lock, (relay, door) in enumerate(_GPIO_PINS[:gpio_locks], start=1):
                parts.append(f"\n[[buses.pins]]\nlock = {lock}\nrelay = {relay}\ndoor = {door}\n")
    n = 0
    used: dict[tuple[str, int], int] = {}
    for column, (bus, board) in enumerate(columns, start=1):
        for i in range(6):
            n += 1
            lock = used.get((bus, board), 0) + 1
            used[(bus, board)] = lock
            parts.append(
                f'\n[[compartments]]\nnumber = {n}\nbus = "{bus}"\nboard = {board}\nlock = {lock}\n'
                f'size = "{_SIZES[i]}"\nheight_mm = {_HEIGHTS[i]}\ncolumn = {column}\nrow = {i + 1}\n'
            )
    return parse_config("".join(parts), DRIVERS)


@dataclass
class DemoSystem:
    """Hub and station in one asyncio loop. ``ui``: serve the kiosk (with /sim); ``background_sync``: the
    station's sync service runs on its own (the terminal demo) instead of being stepped (the scenario)."""

    folder: Path
    hub_port: int = 8090
    kiosk_port: int = 8080
    ui: bool = True
    boards: str = "serial"  # a key of BOARDS: what drives the wall's two columns
    background_sync: bool = True
    clock: DemoClock = field(default_factory=DemoClock)
    hub: DemoHub = field(init=False)
    hardware: SimulatedWall = field(init=False)
    config: StationConfig = field(init=False)
    daemon: Daemon = field(init=False)
    client: SyncClient = field(init=False)
    sync: SyncService = field(init=False)
    scan_hub: ScanHub = field(default_factory=ScanHub)
    daemon_task: asyncio.Task[int] | None = field(init=False, default=None)
    built: BuiltStation = field(init=False)
    _kiosk_serving: bool = field(init=False, default=False)
    _loop: asyncio.AbstractEventLoop | None = field(init=False, default=None)
    _notifier: InProcessNotify = field(init=False, default_factory=InProcessNotify)

    # -- start and stop ---------------------------------------------------------------------------------
    def _fresh_folder(self) -> None:
        if self.folder.exists() and any(self.folder.iterdir()) and not (self.folder / MARKER).exists():
            raise DemoError(
                f"{self.folder} is not empty and not a demo folder; the demo recreates --data, pick another"
            )
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True, mode=0o700)  # the hub's database and notices hold codes: owner only
        (self.folder / "kiosk").mkdir(mode=0o700)
        (self.folder / MARKER).write_text("created by wibox demo; deleted and recreated on each run\n")

    async def start(self) -> None:
        """Fresh folder, the hub serving, the simulated wall, the station daemon up (its sync starting)."""
        self._loop = asyncio.get_running_loop()
        kiosk_sock = listen(self.kiosk_port) if self.ui else None
        try:
            await self._start(kiosk_sock)
        except BaseException:
            if kiosk_sock is not None and not self._kiosk_serving:
                kiosk_sock.close()
            raise

    async def _start(self, kiosk_sock: socket.socket | None) -> None:
        self._fresh_folder()
        self.hub = DemoHub(self.folder / "hub", self.clock, self.hub_port)
        sock = self.hub.bind()
        try:
            await asyncio.to_thread(self.hub.open)
        except BaseException:
            sock.close()
            raise
        await self.hub.start(sock)
        self.hub_port = self.hub.port
        if kiosk_sock is not None:
            self.kiosk_port = kiosk_sock.getsockname()[1]  # port 0 asked for any free one
        base = demo_config(self.folder / "kiosk", self.hub.url, self.kiosk_port, self.boards)
        self.hardware = SimulatedWall(base)
        self.config = self.hardware.start()
        settings = ClientSettings(poll_interval_s=POLL_S, backoff_min_s=0.5, backoff_max_s=5.0, timeout_s=5.0)
        self.built = build_station(
            self.config,
            notifier=self._notifier,
            bank=lambda cfg, clock: LockBank.open(cfg, clock=clock, options=self.hardware.driver_options()),
            clock=self.clock,
            scan_hub=self.scan_hub,
            sim=lambda d: Panel(self.hardware, d.station, self.scan_hub),
            sync_settings=settings,
            start_sync=self.background_sync,
            ui_socket=kiosk_sock,
            serve_ui=kiosk_sock is not None,
        )
        self.built.on_code.append(self.hub.approve)
        self.daemon = self.built.daemon
        self.daemon_task = asyncio.create_task(self.daemon.run(), name="station")
        while not self._notifier.up.is_set():
            if self.daemon_task.done():
                raise DemoError(f"the station did not start (exit {self.daemon_task.result()})")
            await asyncio.sleep(0.02)
        assert self.built.client is not None and self.built.sync is not None  # the demo config names the hub
        self.client, self.sync = self.built.client, self.built.sync
        if self.built.web is not None:
            self._kiosk_serving = True
            await wait_started(self.built.web)

    async def stop(self) -> int:
        """Stop the station (doors to their safe state, database closed), the simulators and the hub."""
        rc = 0
        if self.daemon_task is not None:  # the daemon stops its kiosk server first, gracefully
            self.daemon.stop()
            try:
                rc = await self.daemon_task
            except Exception:  # noqa: BLE001 - whatever ended the station, stopping the rest must go on
                rc = 1
            if not self.background_sync and hasattr(self, "client"):
                self.client.close()
        if hasattr(self, "hardware"):
            self.hardware.stop()
        if hasattr(self, "hub"):
            await self.hub.stop()
            if hasattr(self.hub, "store"):
                self.hub.store.close()
        return rc

    # -- from worker threads ----------------------------------------------------------------------------
    def in_loop(self, coro: Any) -> Any:
        """Run a coroutine on the demo's loop from a worker thread (the scenario stops and restarts the hub)."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    def order(self, order_id: str) -> Order | None:
        return self.daemon.store.order(order_id)

    def state(self, order_id: str) -> OrderState | None:
        o = self.order(order_id)
        return o.state if o else None

    def staff_session(self) -> str:
        """Both demo staff log in (badge + PIN): the four-eyes rule holds."""

        def login(f: Any) -> str:
            ids = [f.staff.authenticate(self.hub.badges[staff_id], pin) for staff_id, pin in STAFF]
            sid: str = f.staff.open_session(ids[0]).id
            f.staff.add_second(sid, ids[1])
            return sid

        result: str = self.daemon.station.call(login)
        return result

    def load(self, sid: str, order: DemoOrder) -> int:
        """Staff scan the envelope's label, put it in the compartment that opened and close the door."""
        a = self.daemon.station.call(lambda f: f.loading.scan_label(sid, codes.label_payload(order.order)))
        self.hardware.set_item(a.compartment, True)
        self.hardware.close(a.compartment)
        self.answer(a.compartment, lambda f: f.loading.envelope_inside(sid, a.compartment, True))
        wait_for(lambda: self.state(order.order) == OrderState.STORED, 5, f"{order.reference} to be stored")
        order.compartment = a.compartment
        return int(a.compartment)

    def answer(self, number: int, give: Callable[[Flows], object]) -> None:
        """Wait for the door cycle to end; where the board has no item sensor the compartment then waits for a
        person's answer on the screen (CHECKING), and ``give`` is that answer."""
        in_cycle = (CompartmentState.LOADING, CompartmentState.OPENING)
        wait_for(lambda: self.daemon.store.compartment(number).state not in in_cycle, 5, f"door {number} to close")
        if self.daemon.store.compartment(number).state == CompartmentState.CHECKING:
            self.daemon.station.call(give)

    def close_after_opening(self, number: int, *, item: bool) -> None:
        """A person at the open door: takes the item out (or leaves/puts one in) and closes the door."""
        poll(lambda: self.daemon.store.compartment(number).door_confirmed_at is not None, 3)
        self.hardware.set_item(number, item)
        self.hardware.close(number)
