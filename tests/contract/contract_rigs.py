"""Contract-suite rigs: a driver, its simulator over a real pseudo-terminal and the wall, plus poll helpers."""

from __future__ import annotations

import contextlib
import enum
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import pytest
from gpiozero.pins.mock import MockFactory  # type: ignore[import-untyped]

from firmware_bridge.driver import BoardDriver, BoardStatus
from firmware_bridge.gpio_driver import GpioPins
from firmware_bridge.link import LinkPolicy
from firmware_bridge.registry import DriverOptions, make_driver
from firmware_bridge.sim.faults import Faults, OneShot
from firmware_bridge.sim.gpio_sim import GpioWallSim
from firmware_bridge.sim.kerong_cu16 import KerongCu16Sim
from firmware_bridge.sim.kerong_cu48 import KerongCu48Sim
from firmware_bridge.sim.modbus_sim import ModbusRelaySim
from firmware_bridge.sim.pty_sim import PtySimulator
from firmware_bridge.sim.wall import Wall
from firmware_bridge.sim.xor_8a import Xor8aSim
from locker.config import BusConfig, GpioPinConfig, Polarity
from locker.model import DoorState

BUS = "bus0"
# A reply on a pty takes milliseconds; a 1 s reply timeout survives a loaded machine (tests that expect silence
# wait it out). Waits for a state end as soon as it is there; WAIT_S is only their deadline.
TIMEOUT_MS = 1000
WAIT_S = 20.0


class Capability(enum.StrEnum):
    """What a rig can do; a contract test that needs a capability the rig lacks is skipped with the reason."""

    MULTI_BOARD = "multi_board"  # several addressable boards on one bus
    CAN_GO_SILENT = "can_go_silent"  # a board can stop answering (power, cable)
    COMM_FAULTS = "comm_faults"  # the simulator can drop, corrupt and delay frames
    ITEM_SENSORS = "item_sensors"  # the boards report item sensors


ALL = frozenset(Capability)


class SimControl(Protocol):
    """What the contract suite needs from a simulator besides the wall."""

    def set_faults(self, faults: Faults) -> None: ...

    def queue_fault(self, fault: OneShot) -> None: ...

    def set_silent(self, board: int, silent: bool = True) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class RigRequest:
    """What a test wants from a rig."""

    polarity: Polarity = Polarity.OPEN_HIGH
    sim_polarity: Polarity | None = None  # how the simulated boards are wired (default: as configured)
    boards: int = 1
    spring_delay_s: float = 0.005
    wall_clock: Callable[[], float] = time.monotonic  # the wall's time (doors, flash timers): a ManualClock's now
    timeout_ms: int = TIMEOUT_MS
    gap_ms: int = 0
    link: LinkPolicy = field(
        default_factory=lambda: LinkPolicy(read_retries=2, backoff_s=0.002, offline_after=3, probe_interval_s=0.1)
    )
    faults: Faults = field(default_factory=Faults)
    seed: int = 1


@dataclass
class Rig:
    """A driver, its simulator and the wall behind it."""

    name: str
    driver: BoardDriver
    sim: SimControl
    wall: Wall
    bus: str
    boards: tuple[int, ...]
    locks: int  # lock channels per board
    capabilities: frozenset[Capability]

    @property
    def item_sensors(self) -> bool:
        return Capability.ITEM_SENSORS in self.capabilities

    def require(self, *caps: Capability) -> None:
        """Skip the calling test (with the reason) unless this rig has every capability in ``caps``."""
        missing = [c.value for c in caps if c not in self.capabilities]
        if missing:
            pytest.skip(f"{self.name} rig lacks {', '.join(missing)}")


RigFactory = Callable[[RigRequest], contextlib.AbstractContextManager[Rig]]


def _bus(driver: str, port: str, req: RigRequest) -> BusConfig:
    return BusConfig(
        name=BUS,
        driver=driver,
        port=port,
        baud=19200,
        polarity=req.polarity,
        gap_ms=req.gap_ms,
        timeout_ms=req.timeout_ms,
    )


@contextlib.contextmanager
def _serial_rig(
    name: str,
    req: RigRequest,
    addresses: tuple[int, ...],
    locks: int,
    item_sensors: bool,
    make_sim: Callable[[Wall, Polarity], PtySimulator],
) -> Iterator[Rig]:
    wall = Wall(spring_delay_s=req.spring_delay_s, clock=req.wall_clock)
    boards = addresses[: req.boards]
    for b in boards:
        wall.add_board(BUS, b, locks, item_sensors=item_sensors)
    sim = make_sim(wall, req.sim_polarity or req.polarity)
    port = sim.start()
    try:
        driver = make_driver(_bus(name, port, req), DriverOptions(link=req.link, channels=locks))
        try:
            caps = ALL if item_sensors else ALL - {Capability.ITEM_SENSORS}
            yield Rig(name, driver, sim, wall, BUS, boards, locks, caps)
        finally:
            driver.close()
    finally:
        sim.stop()
    assert sim.error is None, f"simulator thread failed: {sim.error!r}"


def cu16_rig(req: RigRequest) -> contextlib.AbstractContextManager[Rig]:
    return _serial_rig(
        "kerong-cu16",
        req,
        (0, 1, 15),
        16,
        True,
        lambda wall, pol: KerongCu16Sim(wall, BUS, polarity=pol, faults=req.faults, seed=req.seed),
    )


def cu48_rig(req: RigRequest) -> contextlib.AbstractContextManager[Rig]:
    return _serial_rig(
        "kerong-cu48",
        req,
        (0, 1, 7),
        48,
        False,
        lambda wall, pol: KerongCu48Sim(wall, BUS, polarity=pol, faults=req.faults, seed=req.seed),
    )


def xor_8a_rig(req: RigRequest) -> contextlib.AbstractContextManager[Rig]:
    return _serial_rig(
        "xor-8a",
        req,
        (1, 2, 32),
        12,
        False,
        lambda wall, pol: Xor8aSim(wall, BUS, channels=12, polarity=pol, faults=req.faults, seed=req.seed),
    )


@contextlib.contextmanager
def modbus_relay_rig(req: RigRequest) -> Iterator[Rig]:
    """pymodbus's own RTU server plays the relay boards (units 1, 2, 3; 8 relays each) on a pty pair.

    ``req.faults`` are injected on the line between driver and server (ModbusRelaySim's PtyLink). Like the
    serial rigs it adds no wire time (baud None), which keeps 1,000 lossy unlock cycles within seconds; the
    driver's unit tests and the latency benchmark run the simulator at 9600 baud.
    """
    wall = Wall(spring_delay_s=req.spring_delay_s, clock=req.wall_clock)
    boards = (1, 2, 3)[: req.boards]
    sim = ModbusRelaySim(
        boards,
        channels=8,
        polarity=req.sim_polarity or req.polarity,
        baud=None,
        wall=wall,
        bus=BUS,
        faults=req.faults,
        seed=req.seed,
    )
    sim.start()
    try:
        driver = make_driver(_bus("modbus-relay", sim.port, req), DriverOptions(link=req.link, channels=8))
        try:
            caps = ALL - {Capability.ITEM_SENSORS}
            yield Rig("modbus-relay", driver, sim, wall, BUS, boards, 8, caps)
        finally:
            driver.close()
    finally:
        sim.stop()
    assert sim.error is None, f"simulator thread failed: {sim.error!r}"


GPIO_PINS = (
    GpioPinConfig(lock=1, relay=5, door=17),
    GpioPinConfig(lock=2, relay=6, door=27),
    GpioPinConfig(lock=3, relay=13, door=22),
    GpioPinConfig(lock=4, relay=19, door=23),
)


class MissingCapability(AssertionError):
    """A test used a simulator ability its rig does not declare (it should have called ``Rig.require``)."""


class GpioControl:
    """SimControl for the gpio rig: a header has no frames to disturb and cannot go silent."""

    def __init__(self, sim: GpioWallSim) -> None:
        self.sim = sim

    def set_faults(self, faults: Faults) -> None:
        if faults != Faults():
            raise MissingCapability("gpio pins carry no frames to drop or corrupt")

    def queue_fault(self, fault: OneShot) -> None:
        raise MissingCapability(f"gpio pins cannot suffer {fault}")

    def set_silent(self, board: int, silent: bool = True) -> None:
        raise MissingCapability("the GPIO header cannot go silent")

    def stop(self) -> None:
        self.sim.stop()


class _ReedsFollowAtOnce:
    """The gpio driver with the reed pins brought up to date before each read.

    Real reed switches follow the door at once; GpioWallSim copies the wall onto the pins every 2 ms, which
    tests that change the wall and read straight away would otherwise race.
    """

    def __init__(self, driver: BoardDriver, sim: GpioWallSim) -> None:
        self._driver = driver
        self._sim = sim
        self.name = driver.name

    def status(self, board: int) -> BoardStatus:
        self._sim._sync_doors()
        return self._driver.status(board)

    def pulse(self, board: int, lock: int) -> None:
        self._driver.pulse(board, lock)

    def scan(self, addresses: Iterable[int]) -> list[int]:
        return self._driver.scan(addresses)

    def safe_state(self) -> None:
        self._driver.safe_state()

    def close(self) -> None:
        self._driver.close()


@contextlib.contextmanager
def gpio_rig(req: RigRequest) -> Iterator[Rig]:
    """gpiozero's MockFactory pins with the wall's doors behind them (GpioWallSim); one board (0), 4 locks."""
    wall = Wall(spring_delay_s=req.spring_delay_s, clock=req.wall_clock)
    factory = MockFactory()
    pins = [GpioPins(relay=p.relay, door=p.door) for p in GPIO_PINS]
    sim = GpioWallSim(factory, pins, wall=wall, bus=BUS, polarity=req.sim_polarity or req.polarity)
    sim.start()
    try:
        bus = BusConfig(name=BUS, driver="gpio", polarity=req.polarity, pulse_ms=50, pins=GPIO_PINS)
        driver = make_driver(bus, DriverOptions(link=req.link, pin_factory=factory))
        try:
            lacks = {Capability.MULTI_BOARD, Capability.CAN_GO_SILENT, Capability.COMM_FAULTS, Capability.ITEM_SENSORS}
            reeds = _ReedsFollowAtOnce(driver, sim)
            yield Rig("gpio", reeds, GpioControl(sim), wall, BUS, (0,), len(GPIO_PINS), ALL - lacks)
        finally:
            driver.close()
    finally:
        sim.stop()


class MakeRig(Protocol):
    """Builds a rig for the current driver (torn down after the test)."""

    def __call__(self, req: RigRequest | None = None) -> Rig: ...


def wait_door(driver: BoardDriver, board: int, lock: int, want: DoorState, within_s: float = WAIT_S) -> bool:
    """Poll status until ``lock`` reads ``want`` (returns at once then); False when ``within_s`` passes.

    Errors propagate. ``within_s`` is a deadline for a door that should move, never a measure of speed.
    """
    deadline = time.monotonic() + within_s
    while True:
        if driver.status(board).doors[lock] is want:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
