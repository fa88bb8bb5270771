"""Door and item physics of a simulated locker wall, shared by every board simulator and the /sim panel."""

from __future__ import annotations

import collections
import enum
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple


class DoorPhase(enum.StrEnum):
    """Where a simulated door is."""

    CLOSED = "closed"  # latched
    RELEASED = "released"  # unlatched by a pulse, springs open after the spring delay
    OPEN = "open"


class SimEvent(enum.StrEnum):
    """Kinds of things a simulation records."""

    UNLOCK = "unlock"  # a lock pulse arrived
    UNLOCK_JAMMED = "unlock_jammed"  # a pulse arrived but the lock is jammed
    DOOR_OPENED = "door_opened"
    DOOR_CLOSED = "door_closed"
    DOOR_FORCED = "door_forced"  # opened with no command
    ITEM_PUT = "item_put"
    ITEM_TAKEN = "item_taken"
    JAMMED = "jammed"
    UNJAMMED = "unjammed"
    SENSOR_STUCK = "sensor_stuck"
    SENSOR_FREED = "sensor_freed"
    POWER_OFF = "power_off"  # board silent
    POWER_ON = "power_on"
    # written by the pty simulators:
    RX = "rx"
    TX = "tx"
    GARBAGE = "garbage"  # a byte that starts no valid request was skipped
    IGNORED = "ignored"  # a request for a board that is absent or silent
    DROPPED_REQUEST = "dropped_request"
    DROPPED_REPLY = "dropped_reply"
    CORRUPTED_REPLY = "corrupted_reply"
    LATE_REPLY = "late_reply"


class Record(NamedTuple):
    """One thing that happened: when (clock seconds), what, where ("bus/board/lock") and details."""

    t: float
    event: SimEvent
    where: str
    detail: str = ""


class Recorder:
    """A bounded, thread-safe list of records; listeners hear each record as it is added."""

    def __init__(self, maxlen: int = 100_000) -> None:
        self._records: collections.deque[Record] = collections.deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self._listeners: list[Callable[[Record], None]] = []

    def subscribe(self, listener: Callable[[Record], None]) -> None:
        """Call ``listener`` with every record added from now on (in the adding thread; keep it short)."""
        with self._lock:
            self._listeners.append(listener)

    def add(self, record: Record) -> None:
        with self._lock:
            self._records.append(record)
            listeners = tuple(self._listeners)
        for listener in listeners:
            listener(record)

    def records(self, event: SimEvent | None = None) -> list[Record]:
        with self._lock:
            return [r for r in self._records if event is None or r.event is event]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()


class LockKey(NamedTuple):
    bus: str
    board: int
    lock: int  # from 1

    def __str__(self) -> str:
        return f"{self.bus}/{self.board}/{self.lock}"


@dataclass
class _Lock:
    phase: DoorPhase = DoorPhase.CLOSED
    opens_at: float = 0.0
    jammed: bool = False
    item: bool = False
    stuck_door: bool | None = None  # door sensor stuck reading "open" (True) or "closed" (False)
    stuck_item: bool | None = None


@dataclass
class _Board:
    locks: int
    item_sensors: bool
    powered: bool = True


@dataclass(frozen=True)
class LockView:
    """A snapshot of one compartment for UIs and tests."""

    key: LockKey
    phase: DoorPhase
    jammed: bool
    item: bool
    stuck_door: bool | None
    stuck_item: bool | None
    item_sensor: bool
    powered: bool


class SimError(ValueError):
    """A simulator was asked about a board or lock it does not have."""


@dataclass
class Wall:
    """Every simulated board, lock, door and item of a station; all methods are thread-safe.

    Simulators call ``unlock``/``sensed_open``/``sensed_item``/``is_powered``; people (tests, the demo,
    the /sim panel) call ``close_door``/``force_open``/``set_item``/``jam``/``stick_sensor``/``set_powered``.
    """

    spring_delay_s: float = 0.2  # an unlatched door swings open after this long
    clock: Callable[[], float] = time.monotonic
    recorder: Recorder = field(default_factory=Recorder)

    def __post_init__(self) -> None:
        self._mutex = threading.RLock()
        self._boards: dict[tuple[str, int], _Board] = {}
        self._locks: dict[LockKey, _Lock] = {}
        self._released: set[LockKey] = set()  # doors waiting to spring open

    # -- set-up ------------------------------------------------------------------------------------

    def add_board(self, bus: str, board: int, locks: int, *, item_sensors: bool = False) -> None:
        with self._mutex:
            if (bus, board) in self._boards:
                raise SimError(f"board {bus}/{board} exists")
            self._boards[(bus, board)] = _Board(locks, item_sensors)
            for n in range(1, locks + 1):
                self._locks[LockKey(bus, board, n)] = _Lock()

    def has_board(self, bus: str, board: int) -> bool:
        with self._mutex:
            return (bus, board) in self._boards

    def locks_of(self, bus: str, board: int) -> int:
        with self._mutex:
            return self._board(bus, board).locks

    def boards(self) -> list[tuple[str, int]]:
        with self._mutex:
            return sorted(self._boards)

    # -- what boards see and do --------------------------------------------------------------------

    def is_powered(self, bus: str, board: int) -> bool:
        with self._mutex:
            b = self._boards.get((bus, board))
            return b is not None and b.powered

    def unlock(self, bus: str, board: int, lock: int) -> None:
        """A lock pulse: the door springs open after the spring delay unless the lock is jammed."""
        with self._mutex:
            key, lk = self._get(bus, board, lock)
            now = self.clock()
            if lk.jammed:
                self._record(now, SimEvent.UNLOCK_JAMMED, key)
                return
            self._record(now, SimEvent.UNLOCK, key)
            if lk.phase is DoorPhase.CLOSED:
                lk.phase = DoorPhase.RELEASED
                lk.opens_at = now + self.spring_delay_s
                self._released.add(key)

    def sensed_open(self, bus: str, board: int, lock: int) -> bool:
        """What the door switch reports (a stuck sensor reports its stuck value)."""
        with self._mutex:
            _key, lk = self._get(bus, board, lock)
            return lk.stuck_door if lk.stuck_door is not None else lk.phase is DoorPhase.OPEN

    def sensed_item(self, bus: str, board: int, lock: int) -> bool:
        with self._mutex:
            _key, lk = self._get(bus, board, lock)
            return lk.stuck_item if lk.stuck_item is not None else lk.item

    # -- the physical truth and what people do -----------------------------------------------------

    def is_open(self, bus: str, board: int, lock: int) -> bool:
        with self._mutex:
            return self._get(bus, board, lock)[1].phase is DoorPhase.OPEN

    def phase(self, bus: str, board: int, lock: int) -> DoorPhase:
        with self._mutex:
            return self._get(bus, board, lock)[1].phase

    def has_item(self, bus: str, board: int, lock: int) -> bool:
        with self._mutex:
            return self._get(bus, board, lock)[1].item

    def close_door(self, bus: str, board: int, lock: int) -> None:
        """Someone pushes the door shut (it latches)."""
        with self._mutex:
            key, lk = self._get(bus, board, lock)
            if lk.phase is not DoorPhase.CLOSED:
                lk.phase = DoorPhase.CLOSED
                self._record(self.clock(), SimEvent.DOOR_CLOSED, key)

    def force_open(self, bus: str, board: int, lock: int) -> None:
        """Someone forces the door open without any command."""
        with self._mutex:
            key, lk = self._get(bus, board, lock)
            if lk.phase is not DoorPhase.OPEN:
                lk.phase = DoorPhase.OPEN
                self._record(self.clock(), SimEvent.DOOR_FORCED, key)

    def set_item(self, bus: str, board: int, lock: int, present: bool) -> None:
        """Put an item into (or take it out of) a compartment; the door should be open, but is not checked."""
        with self._mutex:
            key, lk = self._get(bus, board, lock)
            if lk.item != present:
                lk.item = present
                self._record(self.clock(), SimEvent.ITEM_PUT if present else SimEvent.ITEM_TAKEN, key)

    def jam(self, bus: str, board: int, lock: int, jammed: bool = True) -> None:
        """A jammed lock ignores pulses (a released door that has not sprung yet stays shut)."""
        with self._mutex:
            key, lk = self._get(bus, board, lock)
            lk.jammed = jammed
            if jammed and lk.phase is DoorPhase.RELEASED:
                lk.phase = DoorPhase.CLOSED
            self._record(self.clock(), SimEvent.JAMMED if jammed else SimEvent.UNJAMMED, key)

    def stick_sensor(self, bus: str, board: int, lock: int, value: bool | None, *, item: bool = False) -> None:
        """Make the door (or item) sensor read ``value`` whatever happens; ``None`` frees it."""
        with self._mutex:
            key, lk = self._get(bus, board, lock)
            if item:
                lk.stuck_item = value
            else:
                lk.stuck_door = value
            what = f"{'item' if item else 'door'}={value}"
            self._record(self.clock(), SimEvent.SENSOR_FREED if value is None else SimEvent.SENSOR_STUCK, key, what)

    def set_powered(self, bus: str, board: int, powered: bool) -> None:
        """A board without power (or a broken cable) stays silent."""
        with self._mutex:
            b = self._board(bus, board)
            if b.powered != powered:
                b.powered = powered
                ev = SimEvent.POWER_ON if powered else SimEvent.POWER_OFF
                self.recorder.add(Record(self.clock(), ev, f"{bus}/{board}"))

    def view(self, bus: str, board: int, lock: int) -> LockView:
        """A snapshot of one lock."""
        with self._mutex:
            key, lk = self._get(bus, board, lock)
            return self._view(key, lk)

    def snapshot(self) -> list[LockView]:
        with self._mutex:
            self._advance(self.clock())
            return [self._view(key, lk) for key, lk in sorted(self._locks.items())]

    # -- internals ---------------------------------------------------------------------------------

    def _board(self, bus: str, board: int) -> _Board:
        b = self._boards.get((bus, board))
        if b is None:
            raise SimError(f"no simulated board {bus}/{board}")
        return b

    def _view(self, key: LockKey, lk: _Lock) -> LockView:
        b = self._boards[(key.bus, key.board)]
        return LockView(key, lk.phase, lk.jammed, lk.item, lk.stuck_door, lk.stuck_item, b.item_sensors, b.powered)

    def _get(self, bus: str, board: int, lock: int) -> tuple[LockKey, _Lock]:
        key = LockKey(bus, board, lock)
        lk = self._locks.get(key)
        if lk is None:
            raise SimError(f"no simulated lock {key}")
        self._advance(self.clock())
        return key, lk

    def _advance(self, now: float) -> None:
        for key in list(self._released):
            lk = self._locks[key]
            if lk.phase is not DoorPhase.RELEASED:
                self._released.discard(key)
            elif lk.opens_at <= now:
                lk.phase = DoorPhase.OPEN
                self._released.discard(key)
                self._record(lk.opens_at, SimEvent.DOOR_OPENED, key)

    def _record(self, t: float, event: SimEvent, key: LockKey, detail: str = "") -> None:
        self.recorder.add(Record(t, event, str(key), detail))
