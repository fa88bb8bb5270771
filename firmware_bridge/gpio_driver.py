"""Driver for locks wired straight to the GPIO header: relay outputs and reed-switch inputs via gpiozero."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from gpiozero import DigitalInputDevice, OutputDevice  # type: ignore[import-untyped]
from gpiozero.exc import GPIOZeroError  # type: ignore[import-untyped]

from firmware_bridge.driver import BoardStatus
from firmware_bridge.errors import NoReply, TransportError
from firmware_bridge.protocols.frames import bit_reads_open
from locker.config import BusConfig
from locker.model import DoorState

log = logging.getLogger(__name__)

NAME = "gpio"
BOARD = 0  # the header is the one and only "board" of a gpio bus


@dataclass(frozen=True)
class GpioPins:
    """The two pins of one lock (BCM numbers or gpiozero pin names): relay output and door (reed) input."""

    relay: int | str
    door: int | str


class GpioDriver:
    """BoardDriver for relay HATs + reed switches; lock n uses ``pins[n-1]``; board is always 0.

    ``pin_factory`` is a gpiozero pin factory (``LGPIOFactory()`` on a Pi 5, ``MockFactory()`` in tests);
    it is passed to every device, never installed globally. Relays default to active-low boards.
    Reeds are read like ``Button(pin, pull_up=True)`` (a DigitalInputDevice: no hold thread to stop): a reed
    switch to ground reads low ("pressed") when the magnet is near: with the
    default ``open-high`` polarity a high input means the door is open.
    """

    name = NAME

    def __init__(
        self,
        bus: BusConfig,
        pins: Sequence[GpioPins],
        *,
        pin_factory: Any,
        relay_active_high: bool = False,
        pull_up: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not pins:
            raise ValueError("a gpio bus needs at least one lock's pins")
        used = [p.relay for p in pins] + [p.door for p in pins]
        if len(set(map(str, used))) != len(used):
            raise ValueError(f"a pin is used twice in {list(pins)}")
        self.bus = bus
        self.pins = tuple(pins)
        self._sleep = sleep
        self._pull_up = pull_up
        self._lock = threading.Lock()  # one pulse at a time: never two solenoids at once
        self._relays: list[Any] = []
        self._doors: list[Any] = []
        try:
            for p in self.pins:
                # initial_value=False: the relay is switched off the moment its pin becomes an output
                self._relays.append(
                    OutputDevice(p.relay, active_high=relay_active_high, initial_value=False, pin_factory=pin_factory)
                )
            for p in self.pins:
                self._doors.append(DigitalInputDevice(p.door, pull_up=pull_up, pin_factory=pin_factory))
        except GPIOZeroError as exc:
            self._close_devices()
            raise TransportError(f"bus {bus.name}: cannot set up GPIO pins: {exc}") from exc
        self.safe_state()

    # -- BoardDriver -------------------------------------------------------------------------------------

    def status(self, board: int) -> BoardStatus:
        self._board(board)
        try:
            doors = {n: self._door(reed.is_active) for n, reed in enumerate(self._doors, start=1)}
        except GPIOZeroError as exc:
            raise TransportError(f"bus {self.bus.name}: reading door pins failed: {exc}") from exc
        return BoardStatus(board=BOARD, doors=doors)

    def pulse(self, board: int, lock: int) -> None:
        """Energise the lock's relay for ``pulse_ms``; it is switched off in ``finally`` whatever happens."""
        self._board(board)
        if not 1 <= lock <= len(self._relays):
            raise ValueError(f"lock {lock} is not 1..{len(self._relays)}")
        relay = self._relays[lock - 1]
        with self._lock:
            log.debug("bus %s: relay of lock %d on for %d ms", self.bus.name, lock, self.bus.pulse_ms)
            try:
                relay.on()
                self._sleep(self.bus.pulse_ms / 1000)
            except GPIOZeroError as exc:
                raise TransportError(f"bus {self.bus.name}: relay of lock {lock} failed: {exc}") from exc
            finally:
                relay.off()
                log.debug("bus %s: relay of lock %d off", self.bus.name, lock)

    def scan(self, addresses: Iterable[int]) -> list[int]:
        return [BOARD] if BOARD in addresses else []

    def safe_state(self) -> None:
        """Switch every relay off (tries all, then raises the first failure)."""
        first: GPIOZeroError | None = None
        for n, relay in enumerate(self._relays, start=1):
            try:
                relay.off()
            except GPIOZeroError as exc:
                log.error("bus %s: relay of lock %d could not be switched off: %s", self.bus.name, n, exc)
                first = first or exc
        if first is not None:
            raise TransportError(f"bus {self.bus.name}: safe state not reached: {first}") from first

    def close(self) -> None:
        try:
            self.safe_state()
        finally:
            self._close_devices()

    # -- extras ------------------------------------------------------------------------------------------

    def relays(self, board: int) -> dict[int, bool]:
        """lock -> relay energised."""
        self._board(board)
        return {n: bool(relay.value) for n, relay in enumerate(self._relays, start=1)}

    # -- internals ---------------------------------------------------------------------------------------

    def _board(self, board: int) -> None:
        if board != BOARD:
            raise NoReply(f"bus {self.bus.name}: a gpio bus has only board {BOARD}, not {board}")

    def _door(self, active: bool) -> DoorState:
        high = not active if self._pull_up else active  # with the pull-up, "active" (pressed) is a low input
        return DoorState.OPEN if bit_reads_open(high, self.bus.polarity) else DoorState.CLOSED

    def _close_devices(self) -> None:
        for dev in self._relays + self._doors:
            dev.close()
        self._relays.clear()
        self._doors.clear()
