"""A simulated locker wall for a whole station: one simulator per bus (any driver), addressed by compartment."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from gpiozero.pins.mock import MockFactory  # type: ignore[import-untyped]

from firmware_bridge.registry import DRIVERS, DriverOptions
from firmware_bridge.sim.hands import Hands
from firmware_bridge.sim.registry import BusSimulator, make_simulator
from firmware_bridge.sim.wall import LockKey, Wall
from locker.config import StationConfig


@dataclass
class SimulatedWall(Hands):
    """Starts the driver registry's simulator for every bus of ``config`` (byte-level on a pseudo-terminal for the
    serial boards, pymodbus's server for modbus-relay, gpiozero's MockFactory pins for gpio) and offers the hands
    of the people in front of the wall (``Hands``: close a door, put an item in, jam a lock, force a door, cut a
    board's power) by compartment.

    ``station`` is ``config`` with each serial bus's port replaced by its simulator's pseudo-terminal, so the real
    drivers can be opened on it; ``driver_options()`` gives the drivers the simulated GPIO header's pin factory.
    """

    config: StationConfig
    spring_delay_s: float = 0.15
    item_sensors: bool = True
    wire_timing: bool = False
    wall: Wall = field(init=False)
    station: StationConfig = field(init=False)
    sims: list[BusSimulator] = field(init=False, default_factory=list)
    pin_factory: Any = field(init=False, default=None)  # the simulated GPIO header, when a bus is gpio

    def __post_init__(self) -> None:
        self.wall = Wall(spring_delay_s=self.spring_delay_s)
        for bus in self.config.buses:
            locks = DRIVERS[bus.driver].locks_on(bus)
            for board in self._boards(bus.name):
                self.wall.add_board(bus.name, board, locks, item_sensors=self.item_sensors)
        if any(not DRIVERS[b.driver].serial for b in self.config.buses):
            self.pin_factory = MockFactory()

    def _boards(self, bus: str) -> tuple[int, ...]:
        return tuple(sorted({c.board for c in self.config.compartments if c.bus == bus}))

    def driver_options(self) -> DriverOptions:
        """What the drivers need beyond the configuration to reach these simulators (the GPIO pin factory)."""
        return DriverOptions(pin_factory=self.pin_factory)

    def start(self) -> StationConfig:
        buses = []
        try:
            for bus in self.config.buses:
                sim = make_simulator(
                    self.wall,
                    bus,
                    channels=bus.channels,
                    wire_timing=self.wire_timing,
                    boards=self._boards(bus.name),
                    pin_factory=self.pin_factory,
                )
                self.sims.append(sim)
                port = sim.start()
                buses.append(dataclasses.replace(bus, port=port) if DRIVERS[bus.driver].serial else bus)
        except BaseException:
            self.stop()
            raise
        self.station = dataclasses.replace(self.config, buses=tuple(buses))
        return self.station

    def stop(self) -> None:
        for sim in self.sims:
            sim.stop()
        self.sims.clear()

    def __enter__(self) -> SimulatedWall:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def key(self, number: int) -> LockKey:
        c = self.config.compartment(number)
        return LockKey(c.bus, c.board, c.lock)

    def power(self, bus: str, board: int, on: bool) -> None:
        self.wall.set_powered(bus, board, on)
