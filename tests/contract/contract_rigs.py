"""Contract-suite rigs: a driver, its simulator over a real pseudo-terminal and the wall, plus poll helpers."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from firmware_bridge.driver import BoardDriver
from firmware_bridge.registry import DriverOptions, make_driver
from firmware_bridge.sim.faults import Faults, OneShot
from firmware_bridge.sim.kerong_cu16 import KerongCu16Sim
from firmware_bridge.sim.kerong_cu48 import KerongCu48Sim
from firmware_bridge.sim.modbus_sim import ModbusRelaySim
from firmware_bridge.sim.pty_sim import PtySimulator
from firmware_bridge.sim.wall import Wall
from firmware_bridge.sim.xor_8a import Xor8aSim
from firmware_bridge.transport import LinkPolicy
from locker.config import BusConfig, Polarity
from locker.model import DoorState

BUS = "bus0"


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
    timeout_ms: int = 40
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
    item_sensors: bool
    comm_faults: bool = True  # the simulator can drop and corrupt frames


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
    wall = Wall(spring_delay_s=req.spring_delay_s)
    boards = addresses[: req.boards]
    for b in boards:
        wall.add_board(BUS, b, locks, item_sensors=item_sensors)
    sim = make_sim(wall, req.sim_polarity or req.polarity)
    port = sim.start()
    try:
        driver = make_driver(_bus(name, port, req), DriverOptions(link=req.link, channels=locks))
        try:
            yield Rig(name, driver, sim, wall, BUS, boards, locks, item_sensors)
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

    It cannot lose or corrupt frames (comm_faults=False), so ``req.faults`` is not applied.
    """
    wall = Wall(spring_delay_s=req.spring_delay_s)
    boards = (1, 2, 3)[: req.boards]
    sim = ModbusRelaySim(boards, channels=8, polarity=req.sim_polarity or req.polarity, baud=19200, wall=wall, bus=BUS)
    sim.start()
    try:
        driver = make_driver(_bus("modbus-relay", sim.port, req), DriverOptions(link=req.link, channels=8))
        try:
            yield Rig("modbus-relay", driver, sim, wall, BUS, boards, 8, False, comm_faults=False)
        finally:
            driver.close()
    finally:
        sim.stop()
    assert sim.error is None, f"simulator thread failed: {sim.error!r}"


class MakeRig(Protocol):
    """Builds a rig for the current driver (torn down after the test)."""

    def __call__(self, req: RigRequest | None = None) -> Rig: ...


def wait_door(driver: BoardDriver, board: int, lock: int, want: DoorState, within_s: float = 2.0) -> bool:
    """Poll status until ``lock`` reads ``want``; False when ``within_s`` passes. Errors propagate."""
    deadline = time.monotonic() + within_s
    while True:
        if driver.status(board).doors[lock] is want:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
