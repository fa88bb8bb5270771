"""Maps a serial driver name to its pty simulator, so the demo can start one simulator per configured bus."""

from __future__ import annotations

from collections.abc import Callable

from firmware_bridge.sim.faults import Faults
from firmware_bridge.sim.kerong_cu16 import KerongCu16Sim
from firmware_bridge.sim.kerong_cu48 import KerongCu48Sim
from firmware_bridge.sim.pty_sim import PtySimulator
from firmware_bridge.sim.wall import Wall
from firmware_bridge.sim.xor_8a import Xor8aSim
from locker.config import BusConfig

SimFactory = Callable[[Wall, BusConfig, Faults | None, int, bool], PtySimulator]


def _cu16(wall: Wall, bus: BusConfig, faults: Faults | None, channels: int, wire: bool) -> PtySimulator:
    baud = bus.baud if wire else None
    return KerongCu16Sim(wall, bus.name, polarity=bus.polarity, baud=baud, faults=faults)


def _cu48(wall: Wall, bus: BusConfig, faults: Faults | None, channels: int, wire: bool) -> PtySimulator:
    baud = bus.baud if wire else None
    return KerongCu48Sim(wall, bus.name, polarity=bus.polarity, baud=baud, faults=faults)


def _xor(wall: Wall, bus: BusConfig, faults: Faults | None, channels: int, wire: bool) -> PtySimulator:
    baud = bus.baud if wire else None
    return Xor8aSim(wall, bus.name, channels=channels, polarity=bus.polarity, baud=baud, faults=faults)


SIMULATORS: dict[str, SimFactory] = {"kerong-cu16": _cu16, "kerong-cu48": _cu48, "xor-8a": _xor}


def make_simulator(
    wall: Wall,
    bus: BusConfig,
    *,
    faults: Faults | None = None,
    channels: int = 16,
    wire_timing: bool = False,
) -> PtySimulator:
    """A (not yet started) simulator for ``bus``; the wall must already hold the bus's boards.

    ``channels`` is the xor-8a lock count per board; ``wire_timing`` adds 10 bits per byte at ``bus.baud``.
    Raises KeyError for a driver without a pty simulator.
    """
    return SIMULATORS[bus.driver](wall, bus, faults, channels, wire_timing)
