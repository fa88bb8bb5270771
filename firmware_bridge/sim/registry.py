"""One simulator per driver, behind one interface: what the demo and the commissioning tools start for a bus."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

from firmware_bridge.gpio_driver import GpioPins
from firmware_bridge.sim.faults import Faults
from firmware_bridge.sim.gpio_sim import GpioWallSim
from firmware_bridge.sim.kerong_cu16 import KerongCu16Sim
from firmware_bridge.sim.kerong_cu48 import KerongCu48Sim
from firmware_bridge.sim.modbus_sim import ModbusRelaySim
from firmware_bridge.sim.pty_sim import PtySimulator
from firmware_bridge.sim.wall import Wall
from firmware_bridge.sim.xor_8a import Xor8aSim
from locker.config import BusConfig


class BusSimulator(Protocol):
    """The lock hardware of one bus, simulated: ``start()`` returns the port the driver opens ("" for gpio)."""

    def start(self) -> str: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class SimSetup:
    """What a simulator needs: the wall (which must already hold the bus's boards), the bus and its boards.

    ``channels``: locks per board where the protocol does not fix it (xor-8a, modbus-relay); ``wire_timing``:
    replies wait 10 bits a byte at ``bus.baud``; ``pin_factory``: the gpiozero MockFactory a gpio driver will use.
    """

    wall: Wall
    bus: BusConfig
    boards: tuple[int, ...] = ()
    faults: Faults | None = None
    channels: int = 16
    wire_timing: bool = False
    pin_factory: Any = None

    @property
    def baud(self) -> int | None:
        return self.bus.baud if self.wire_timing else None


class _Started:
    """A simulator whose ``start()`` returns itself, seen through ``BusSimulator`` (its port read after start)."""

    def __init__(self, sim: ModbusRelaySim | GpioWallSim, port: Callable[[], str]) -> None:
        self.sim = sim
        self._port = port
        self._started = False

    def start(self) -> str:
        self._started = True
        self.sim.start()
        return self._port()

    def stop(self) -> None:
        if self._started:  # a simulator that never started has nothing to stop
            self._started = False
            self.sim.stop()

    def __enter__(self) -> _Started:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> str:
        return self._port()


def kerong_cu16(s: SimSetup) -> PtySimulator:
    return KerongCu16Sim(s.wall, s.bus.name, polarity=s.bus.polarity, baud=s.baud, faults=s.faults)


def kerong_cu48(s: SimSetup) -> PtySimulator:
    return KerongCu48Sim(s.wall, s.bus.name, polarity=s.bus.polarity, baud=s.baud, faults=s.faults)


def xor_8a(s: SimSetup) -> PtySimulator:
    return Xor8aSim(s.wall, s.bus.name, channels=s.channels, polarity=s.bus.polarity, baud=s.baud, faults=s.faults)


def modbus_relay(s: SimSetup) -> _Started:
    sim = ModbusRelaySim(
        s.boards or (1,),
        channels=s.channels,
        polarity=s.bus.polarity,
        baud=s.baud,
        wall=s.wall,
        bus=s.bus.name,
        faults=s.faults,
    )
    return _Started(sim, lambda: sim.port)


def gpio(s: SimSetup) -> _Started:
    if s.pin_factory is None:
        raise ValueError(f"bus {s.bus.name}: a gpio simulation needs the MockFactory its driver uses (pin_factory)")
    pins = [GpioPins(relay=p.relay, door=p.door) for p in sorted(s.bus.pins, key=lambda p: p.lock)]
    sim = GpioWallSim(
        s.pin_factory,
        pins,
        wall=s.wall,
        bus=s.bus.name,
        polarity=s.bus.polarity,
        relay_active_high=s.bus.relay_active_high,
    )
    return _Started(sim, lambda: "")


SimFactory = Callable[[SimSetup], BusSimulator]


def make_simulator(
    wall: Wall,
    bus: BusConfig,
    *,
    faults: Faults | None = None,
    channels: int = 16,
    wire_timing: bool = False,
    boards: tuple[int, ...] = (),
    pin_factory: Any = None,
) -> Any:
    """A (not yet started) simulator for ``bus``, from the driver registry (``firmware_bridge.registry``).

    Serial drivers give a ``PtySimulator``; modbus-relay and gpio give an adapter with the same ``start``/``stop``.
    Raises ConfigError for a driver the registry does not know.
    """
    from firmware_bridge.registry import spec_of  # the registry names this module's factories

    setup = SimSetup(wall, bus, boards, faults, channels, wire_timing, pin_factory)
    return spec_of(bus.driver).simulate(setup)
