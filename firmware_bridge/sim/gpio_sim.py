"""Relays and reed switches on gpiozero MockFactory pins, joined to the shared wall's door physics."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from gpiozero.pins.mock import MockPin  # type: ignore[import-untyped]

from firmware_bridge.gpio_driver import BOARD, GpioPins
from firmware_bridge.protocols.frames import open_to_bit
from firmware_bridge.sim.wall import Record, SimEvent, Wall
from locker.config import Polarity


class ReedPin(MockPin):  # type: ignore[misc]
    """A mock input wired to a switch: a switch that holds the line wins over the pull resistor."""

    def __init__(self, factory: Any, info: Any) -> None:
        self.held: bool | None = None  # level forced by the switch; None: the pull resistor decides
        super().__init__(factory, info)

    def _set_pull(self, value: str) -> None:
        super()._set_pull(value)
        self.hold(self.held)

    def hold(self, level: bool | None) -> None:
        self.held = level
        if level is None or self.function != "input":
            return
        if level:
            self.drive_high()
        else:
            self.drive_low()


class GpioWallSim:
    """Plays the lock hardware of a gpio bus on a MockFactory; build it *before* the driver (it owns the door pins).

    A relay switching on unlocks its lock on the wall; the door pin follows the wall's door switch with
    ``polarity`` (open-high: an open door leaves the line high). ``pulses`` lists (lock, seconds on).
    """

    def __init__(
        self,
        factory: Any,
        pins: Sequence[GpioPins],
        *,
        wall: Wall | None = None,
        bus: str = "gpio",
        polarity: Polarity = Polarity.OPEN_HIGH,
        relay_active_high: bool = False,
        poll_s: float = 0.002,
    ) -> None:
        self.pins = tuple(pins)
        self.bus = bus
        self.polarity = polarity
        self.wall = wall or Wall(spring_delay_s=0.05)
        if not self.wall.has_board(bus, BOARD):
            self.wall.add_board(bus, BOARD, len(self.pins))
        self._active = relay_active_high
        self._poll_s = poll_s
        self._doors: list[ReedPin] = [factory.pin(p.door, pin_class=ReedPin) for p in self.pins]
        self._relays: list[MockPin] = [factory.pin(p.relay) for p in self.pins]
        self._history: list[list[Any]] = [r.states for r in self._relays]
        self._seen = [len(r.states) for r in self._relays]
        self._on_since: list[float | None] = [None] * len(self.pins)
        self._pulses: list[tuple[int, float]] = []
        self._mutex = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gpio-sim", daemon=True)
        self._sync_doors()

    # -- start and stop ----

    def start(self) -> GpioWallSim:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def __enter__(self) -> GpioWallSim:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- doors and faults (shortcuts to the wall; the pins follow within one poll) ----

    def close_door(self, lock: int) -> None:
        self.wall.close_door(self.bus, BOARD, lock)
        self._sync_doors()

    def force_open(self, lock: int) -> None:
        self.wall.force_open(self.bus, BOARD, lock)
        self._sync_doors()

    def jam(self, lock: int, jammed: bool = True) -> None:
        self.wall.jam(self.bus, BOARD, lock, jammed)

    def door_open(self, lock: int) -> bool:
        return self.wall.is_open(self.bus, BOARD, lock)

    def relay_pin(self, lock: int) -> MockPin:
        return self._relays[lock - 1]

    def door_pin(self, lock: int) -> ReedPin:
        return self._doors[lock - 1]

    def pulses(self) -> list[tuple[int, float]]:
        """(lock, seconds the relay was on) of every finished relay pulse."""
        with self._mutex:
            return list(self._pulses)

    def records(self, event: SimEvent | None = None) -> list[Record]:
        return [r for r in self.wall.recorder.records(event) if r.where.split("/")[0] == self.bus]

    # -- internals ----

    def _run(self) -> None:
        while not self._stop.wait(self._poll_s):
            self._watch_relays()
            self._sync_doors()

    def _watch_relays(self) -> None:
        for i, relay in enumerate(self._relays):
            states = relay.states  # MockPin appends (seconds since previous change, level) on every change
            if states is not self._history[i]:  # clear_states() started a new list with the current level
                self._history[i], self._seen[i] = states, 1
            new, self._seen[i] = states[self._seen[i] :], len(states)
            for change in new:
                on = bool(change.state) == self._active
                since = self._on_since[i]
                if on and since is None:
                    self._on_since[i] = 0.0
                    self.wall.unlock(self.bus, BOARD, i + 1)
                elif since is not None:
                    if on:
                        continue
                    with self._mutex:
                        self._pulses.append((i + 1, change.timestamp))
                    self._on_since[i] = None

    def _sync_doors(self) -> None:
        for i, pin in enumerate(self._doors):
            is_open = self.wall.sensed_open(self.bus, BOARD, i + 1)
            level = open_to_bit(is_open, self.polarity)
            if pin.held != level or bool(pin.state) != level:
                pin.hold(level)
