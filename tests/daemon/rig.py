"""`wibox run` as a real subprocess over simulated boards, a serial-scanner pty and a fake notify socket."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from firmware_bridge.registry import DRIVERS
from firmware_bridge.sim.memory_bank import MemoryLockBank
from firmware_bridge.sim.station import SimulatedWall
from locker import codes
from locker.clock import SystemClock
from locker.config import StationConfig, load_config, parse_config
from locker.db import Database
from locker.doctypes import DocumentType
from locker.flows import Flows
from locker.model import NewOrder, Size
from locker.store import Store

ROOT = Path(__file__).resolve().parents[2]
DAY = 86400.0
STAFF_PIN = "246810"
# Two buses with different protocols, as in a real wall: a Kerong CU16 at 19200 baud and an 8A/80 XOR board at 9600.
BUSES = (("bus0", "kerong-cu16", 19200, 16, 0), ("bus1", "xor-8a", 9600, 8, 1))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def station_toml(
    db: Path,
    ui_port: int,
    bus_ports: tuple[str, str],
    *,
    compartments: int,
    scanner_port: str = "",
    camera: str = "",
    camera_fps: int = 15,
    unlock_confirm_s: float = 0.5,
) -> str:
    """A station with ``compartments`` compartments split over the two buses of BUSES."""
    comps = []
    for i in range(compartments):
        name, _driver, _baud, _channels, board = BUSES[i % 2]
        lock = i // 2 + 1
        comps.append(
            f'[[compartments]]\nnumber = {i + 1}\nbus = "{name}"\nboard = {board}\nlock = {lock}\nsize = "M"\n'
            f"height_mm = {300 + 150 * lock}\n"
        )
    buses = "".join(
        f'[[buses]]\nname = "{name}"\ndriver = "{driver}"\nport = "{port}"\nbaud = {baud}\nchannels = {channels}\n\n'
        for (name, driver, baud, channels, _board), port in zip(BUSES, bus_ports, strict=True)
    )
    cam = (
        f'enabled = true\ndevice = "{camera}"\nwidth = 640\nheight = 480\nfps = {camera_fps}'
        if camera
        else "enabled = false"
    )
    return f"""station_id = "daemon-rig"

[storage]
database = "{db}"

[ui]
port = {ui_port}

[timing]
unlock_confirm_s = {unlock_confirm_s}

[scanners]
serial_port = "{scanner_port}"
serial_baud = 115200

[scanners.camera]
{cam}

{buses}{"".join(comps)}"""


class ScannerPty:
    """A serial code scanner: the daemon opens the slave; a scan is ``payload + CR LF`` written to the master.

    The test keeps the slave open too, so the terminal survives the daemon being killed and reopening it.
    """

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        self.path = os.ttyname(self.slave)

    def scan(self, payload: str) -> None:
        os.write(self.master, payload.encode() + b"\r\n")

    def close(self) -> None:
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)


class NotifySocket:
    """A datagram socket standing in for systemd's; collects (monotonic time, message) pairs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.messages: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            t = time.monotonic()
            for line in data.decode().splitlines():
                self.messages.append((t, line))

    def count(self, text: str) -> int:
        return sum(1 for _t, m in list(self.messages) if m == text)

    def times(self, text: str) -> list[float]:
        return [t for t, m in list(self.messages) if m == text]

    def wait_for(self, text: str, timeout: float = 30.0, count: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while self.count(text) < count:
            assert time.monotonic() < deadline, f"no {text!r} x{count}; got {self.messages[-5:]}"
            time.sleep(0.02)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@dataclass
class Station:
    """Files, simulators and codes of one station; ``spawn`` starts `wibox run` on them."""

    dir: Path
    config_path: Path
    config: StationConfig
    hw: SimulatedWall
    scanner: ScannerPty
    notify: NotifySocket

    @property
    def db_path(self) -> Path:
        return Path(self.config.storage.database)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.config.ui.port}"

    def spawn(self, name: str = "daemon") -> DaemonProcess:
        log = self.dir / f"{name}.log"
        env = {**os.environ, "NOTIFY_SOCKET": str(self.notify.path), "PYTHONUNBUFFERED": "1"}
        env.pop("WATCHDOG_USEC", None)
        readies = self.notify.count("READY=1")
        with log.open("wb") as out:
            t0 = time.monotonic()
            proc = subprocess.Popen(
                [sys.executable, "-m", "wibox", "run", "--config", str(self.config_path)],
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return DaemonProcess(proc, t0, log, self, readies)

    def close(self) -> None:
        self.hw.stop()
        self.scanner.close()
        self.notify.close()


@dataclass
class DaemonProcess:
    """One `wibox run` process; its combined output goes to ``log``."""

    proc: subprocess.Popen[bytes]
    spawned: float  # time.monotonic() just before the spawn
    log: Path
    station: Station
    readies_before: int
    ready_at: float = field(default=0.0)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_ready(self, timeout: float = 30.0) -> float:
        """Wait for this process's READY=1; returns seconds from the spawn to the datagram."""
        notify = self.station.notify
        deadline = time.monotonic() + timeout
        while notify.count("READY=1") <= self.readies_before:
            if not self.alive():
                raise AssertionError(f"wibox run exited with {self.proc.returncode}:\n{self.output()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no READY=1 within {timeout} s:\n{self.output()[-3000:]}")
            time.sleep(0.005)
        self.ready_at = notify.times("READY=1")[self.readies_before]
        return self.ready_at - self.spawned

    def wait_output(self, text: str, timeout: float = 15.0) -> None:
        wait_for(lambda: text in self.output(), timeout, f"{text!r} in the daemon's output", self)

    def wait_serving(self, timeout: float = 15.0) -> None:
        """READY, the kiosk UI answering, and the serial scanner open (bytes written before that are lost)."""
        import httpx

        self.wait_ready(timeout)

        def up() -> bool:
            try:
                return httpx.get(f"{self.station.url}/healthz", timeout=1.0).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout, "the kiosk UI", self)
        if self.station.config.scanners.serial_port:
            self.wait_output("scanner serial (serial) is ok", timeout)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait(10)

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait: the clean stop."""
        if self.alive():
            self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise


def wait_for(cond: Callable[[], bool], timeout: float, what: str, daemon: DaemonProcess | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if daemon is not None and not daemon.alive():
            raise AssertionError(f"daemon died while waiting for {what}:\n{daemon.output()[-3000:]}")
        if time.monotonic() > deadline:
            tail = daemon.output()[-3000:] if daemon is not None else ""
            raise AssertionError(f"timed out waiting for {what}\n{tail}")
        time.sleep(0.01)


def build_station(
    d: Path,
    *,
    compartments: int = 8,
    spring_delay_s: float = 0.1,
    wire_timing: bool = False,
    camera: str = "",
    camera_fps: int = 15,
    unlock_confirm_s: float = 0.5,
) -> Station:
    """Simulated boards (in this process) on pseudo-terminals, a scanner pty and the station TOML pointing at them."""
    d.mkdir(parents=True, exist_ok=True)
    db, port = d / "wibox.db", free_port()
    base = parse_config(
        station_toml(db, port, ("sim", "sim"), compartments=compartments, unlock_confirm_s=unlock_confirm_s), DRIVERS
    )
    hw = SimulatedWall(base, spring_delay_s=spring_delay_s, wire_timing=wire_timing)
    started = hw.start()
    scanner = ScannerPty()
    path = d / "station.toml"
    bus_ports = (started.buses[0].port, started.buses[1].port)
    text = station_toml(
        db,
        port,
        bus_ports,
        compartments=compartments,
        scanner_port=scanner.path,
        camera=camera,
        camera_fps=camera_fps,
        unlock_confirm_s=unlock_confirm_s,
    )
    path.write_text(text)
    notify = NotifySocket(d / "notify.sock")
    return Station(d, path, load_config(path, DRIVERS), hw, scanner, notify)


@dataclass(frozen=True)
class OrderCodes:
    order_id: str
    qr: str
    label: str


def seed(config: StationConfig, n_orders: int, prefix: str = "KILL") -> tuple[list[OrderCodes], str]:
    """Announce orders and enrol a staff member through the flows on the station database, then close it.

    Returns the orders' codes and the staff badge payload (PIN ``STAFF_PIN``).
    """
    clock = SystemClock()
    database = Database(config.storage.database)
    try:
        store = Store.open(database, clock, config.compartments)
        flows = Flows(store, MemoryLockBank([c.number for c in config.compartments], clock), clock, config)
        badge = flows.staff.add("KIM-0001", STAFF_PIN, ("loader", "maintenance"))
        # The manual path is not used here: one full-strength argon2id verifier serves every order.
        pin_verifier = codes.pin_verifier("UNUSED-0000", "000000")
        out, new = [], []
        now = clock.now()
        for i in range(n_orders):
            oid = f"{prefix}-{i:04d}"
            token = codes.new_token()
            number = f"{zlib.crc32(oid.encode()) % 10**8:08d}"
            verifier = codes.qr_verifier(oid, token)
            until = now + 7 * DAY
            doc = DocumentType.ID_CARD
            new.append(NewOrder(oid, number, doc, Size.S, False, False, now, until, verifier, pin_verifier))
            out.append(OrderCodes(oid, codes.QrCode(oid, token).payload, codes.label_payload(oid)))
        flows.orders.announce(new)
    finally:
        database.close()
    return out, badge.payload
