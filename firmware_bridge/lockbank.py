"""The station lock bank: compartments mapped to (bus, board, lock) over several drivers, confirmed unlocks, events."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from firmware_bridge.driver import BoardDriver, BoardStatus
from firmware_bridge.errors import BridgeError, LockMapError, PollerFailed, UnknownCompartment
from firmware_bridge.link import LinkRelay, LinkState
from firmware_bridge.pulse import confirm_open
from firmware_bridge.registry import DRIVERS, DriverOptions, make_driver
from locker.config import BusConfig, CompartmentConfig, StationConfig
from locker.errors import ConfigError, HardwareError
from locker.model import DoorState
from locker.ports import Clock, DoorEvent, DoorEventKind, DoorReading, UnlockResult

log = logging.getLogger(__name__)

NEVER = float("-inf")


@dataclass(frozen=True)
class BankTiming:
    """How often the bank polls and how long an unlock counts as "expected"."""

    fast_poll_s: float = 0.1  # while a door on the board is expected to move
    slow_poll_s: float = 1.0  # otherwise (also the retry period of an offline board)
    confirm_poll_s: float = 0.02  # status reads while confirming an unlock
    moving_s: float = 120.0  # after an unlock, fast polling lasts until the door closes or this passes
    commanded_grace_s: float = 2.0  # an opening up to this long after the confirm deadline is still "ours"


def pulse_hold_s(bus: BusConfig) -> float:
    """How long after a pulse call returns the lock may still be energised (the driver's spec says)."""
    return DRIVERS[bus.driver].pulse_hold_s(bus)


@dataclass
class _Door:
    door: DoorState | None = None  # None: never read
    item: bool | None = None
    commanded_until: float = NEVER  # an opening before this is the result of our unlock
    moving_until: float = NEVER  # poll the board fast until this (or until the door closes)


@dataclass
class _Board:
    link: LinkState = LinkState.UNKNOWN
    next_poll: float = 0.0
    compartments: list[CompartmentConfig] = field(default_factory=list)


@dataclass
class _Gate:
    """One per bus: only one lock energised at a time."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    busy_until: float = NEVER


class LockBank:
    """Implements locker.ports.LockBank over BoardDrivers (one per bus, by bus name).

    A poller thread per bus reads every board in the compartment map: fast while a door is expected to move,
    slow otherwise, and turns changes into DoorEvents. Unlocks on one bus are serialised and spaced by the pulse
    length, so no two locks on a bus are ever energised together.
    """

    def __init__(
        self,
        config: StationConfig,
        drivers: Mapping[str, BoardDriver],
        *,
        clock: Clock,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        timing: BankTiming | None = None,
    ) -> None:
        self._buses = {b.name: b for b in config.buses}
        missing = sorted({c.bus for c in config.compartments} - set(drivers))
        if missing:
            raise ConfigError(f"lock bank: no driver for bus {', '.join(missing)}")
        self._drivers = dict(drivers)
        self._clock = clock
        self._mono = monotonic
        self._sleep = sleep
        self.timing = timing or BankTiming()
        self._map = {c.number: c for c in config.compartments}
        self._doors = {c.number: _Door() for c in config.compartments}
        self._boards: dict[tuple[str, int], _Board] = {}
        for c in config.compartments:
            self._boards.setdefault((c.bus, c.board), _Board()).compartments.append(c)
        self._gates = {name: _Gate() for name in self._drivers}
        self._cv = threading.Condition()
        self._events: list[DoorEvent] = []
        self._wake = {name: threading.Event() for name in self._drivers}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._failure: BaseException | None = None

    @classmethod
    def open(
        cls,
        config: StationConfig,
        *,
        clock: Clock,
        options: DriverOptions | None = None,
        make: Callable[[BusConfig, DriverOptions], BoardDriver] = make_driver,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        timing: BankTiming | None = None,
    ) -> LockBank:
        """Build every bus's driver (transport link changes wired to the bank) and the bank over them."""
        base = options or DriverOptions()
        relay = LinkRelay()
        drivers: dict[str, BoardDriver] = {}
        try:
            for bus in config.buses:
                boards = tuple(sorted({c.board for c in config.compartments if c.bus == bus.name}))
                opts = dataclasses.replace(base, on_link_change=relay.listener(bus.name), boards=boards)
                drivers[bus.name] = make(bus, opts)
        except BaseException:
            for d in drivers.values():
                d.close()
            raise
        bank = cls(config, drivers, clock=clock, monotonic=monotonic, sleep=sleep, timing=timing)
        relay.attach(bank.link_changed)
        return bank

    # -- LockBank port ------------------------------------------------------------------------------------

    def unlock(self, compartment: int, confirm_s: float) -> UnlockResult:
        """One pulse (after any earlier pulse on the bus has ended), then confirm by reading the door."""
        c = self._comp(compartment)
        driver, gate, bus = self._drivers[c.bus], self._gates[c.bus], self._buses[c.bus]
        t0 = self._mono()
        with gate.lock:
            wait = gate.busy_until - self._mono()
            if wait > 0:
                self._sleep(wait)
            with self._cv:
                now = self._mono()
                d = self._doors[compartment]
                d.commanded_until = now + confirm_s + self.timing.commanded_grace_s
                d.moving_until = now + self.timing.moving_s
                b = self._boards[(c.bus, c.board)]
                b.next_poll = min(b.next_poll, now + self.timing.fast_poll_s)
            self._wake[c.bus].set()
            try:
                driver.pulse(c.board, c.lock)
            except ValueError as exc:
                raise LockMapError(f"compartment {compartment}: {exc}") from exc
            finally:
                gate.busy_until = self._mono() + pulse_hold_s(bus)
        confirmed = self._confirm(driver, c, confirm_s)
        return UnlockResult(compartment, confirmed, (self._mono() - t0) * 1000)

    def read(self, compartment: int) -> DoorReading:
        c = self._comp(compartment)
        status = self._drivers[c.bus].status(c.board)
        self._observe(c.bus, status)
        if c.lock not in status.doors:
            raise LockMapError(f"compartment {compartment}: board {c.bus}/{c.board} has no lock {c.lock}")
        return DoorReading(status.doors[c.lock], status.items.get(c.lock))

    def read_many(self, compartments: Sequence[int]) -> dict[int, DoorReading | HardwareError]:
        """One status request per board (it covers all the board's locks) instead of one per compartment."""
        by_board: dict[tuple[str, int], list[CompartmentConfig]] = {}
        for n in compartments:
            c = self._comp(n)
            by_board.setdefault((c.bus, c.board), []).append(c)
        out: dict[int, DoorReading | HardwareError] = {}
        for (bus, board), comps in by_board.items():
            try:
                status = self._drivers[bus].status(board)
            except BridgeError as exc:
                out.update(dict.fromkeys((c.number for c in comps), exc))
                continue
            self._observe(bus, status)
            for c in comps:
                if c.lock in status.doors:
                    out[c.number] = DoorReading(status.doors[c.lock], status.items.get(c.lock))
                else:
                    out[c.number] = LockMapError(f"compartment {c.number}: board {bus}/{board} has no lock {c.lock}")
        return out

    def poll_events(self, timeout: float) -> Sequence[DoorEvent]:
        """Events since the last call; waits up to ``timeout`` for the first. Raises PollerFailed if a poller died."""
        with self._cv:
            if not self._events and timeout > 0 and self._failure is None:
                self._cv.wait(timeout)
            out, self._events = self._events, []
            failure = self._failure
        if failure is not None and not out:
            raise PollerFailed(f"lock bank poller stopped: {failure!r}") from failure
        return out

    def safe_state(self) -> None:
        """Every driver's safe state; all are tried, then the first failure is raised."""
        first: BridgeError | None = None
        for name, driver in self._drivers.items():
            try:
                driver.safe_state()
            except BridgeError as exc:
                log.error("bus %s: safe state not reached: %s", name, exc)
                first = first or exc
        if first is not None:
            raise first

    # -- life cycle ---------------------------------------------------------------------------------------

    def start(self) -> None:
        """Drive every output to its safe state, then start one poller thread per bus."""
        if self._threads:
            raise RuntimeError("lock bank already started")
        self._safe_state_logged("start")
        self._stop.clear()
        for name in self._drivers:
            t = threading.Thread(target=self._run, args=(name,), name=f"lockbank-{name}", daemon=True)
            self._threads.append(t)
            t.start()

    def stop(self) -> None:
        """Stop the pollers and drive every output safe (idempotent)."""
        self._stop.set()
        for ev in self._wake.values():
            ev.set()
        for t in self._threads:
            t.join(timeout=5)
        self._threads.clear()
        self._safe_state_logged("stop")

    def _safe_state_logged(self, when: str) -> None:
        """At start and stop a board that does not answer must not stop the station: its pulses are board-timed
        (nothing stays energised), the failure is logged, and the pollers report the board offline."""
        try:
            self.safe_state()
        except BridgeError as exc:
            log.error("safe state at %s incomplete (the board will be reported offline): %s", when, exc)

    def close(self) -> None:
        """Stop, then close every driver."""
        try:
            self.stop()
        finally:
            for d in self._drivers.values():
                d.close()

    # -- extras -------------------------------------------------------------------------------------------

    def link_changed(self, bus: str, board: int, state: LinkState) -> None:
        """Transport listener: a board went offline or came back (called with the bus lock held: no I/O here)."""
        if state is LinkState.UNKNOWN:
            return
        with self._cv:
            self._set_link(bus, board, state)

    def link(self, bus: str, board: int) -> LinkState:
        with self._cv:
            b = self._boards.get((bus, board))
            return b.link if b else LinkState.UNKNOWN

    def where(self, compartment: int) -> CompartmentConfig:
        return self._comp(compartment)

    # -- internals ----------------------------------------------------------------------------------------

    def _comp(self, compartment: int) -> CompartmentConfig:
        c = self._map.get(compartment)
        if c is None:
            raise UnknownCompartment(f"no lock for compartment {compartment}")
        return c

    def _confirm(self, driver: BoardDriver, c: CompartmentConfig, confirm_s: float) -> bool:
        status = confirm_open(
            driver,
            c.board,
            c.lock,
            confirm_s,
            monotonic=self._mono,
            sleep=self._sleep,
            poll_s=self.timing.confirm_poll_s,
            on_status=lambda st: self._observe(c.bus, st),
        )
        return status is not None

    def _emit(self, kind: DoorEventKind, compartment: int | None, board: str = "") -> None:
        # caller holds self._cv
        self._events.append(DoorEvent(kind, compartment, self._clock.now(), board))
        log.info("door event %s compartment=%s board=%s", kind.value, compartment, board)
        self._cv.notify_all()

    def _set_link(self, bus: str, board: int, state: LinkState) -> None:
        # caller holds self._cv
        b = self._boards.setdefault((bus, board), _Board())
        if b.link is state:
            return
        was, b.link = b.link, state
        if state is LinkState.OFFLINE:
            self._emit(DoorEventKind.BOARD_OFFLINE, None, f"{bus}/{board}")
        elif was is LinkState.OFFLINE:
            self._emit(DoorEventKind.BOARD_ONLINE, None, f"{bus}/{board}")

    def _observe(self, bus: str, status: BoardStatus) -> None:
        """Compare a board's status with what was known and emit the differences as events."""
        with self._cv:
            self._set_link(bus, status.board, LinkState.ONLINE)
            b = self._boards.get((bus, status.board))
            if b is None:
                return
            now = self._mono()
            for c in b.compartments:
                self._observe_door(c, status, now)

    def _observe_door(self, c: CompartmentConfig, status: BoardStatus, now: float) -> None:
        d = self._doors[c.number]
        new = status.doors.get(c.lock)
        if new is not None and new is not d.door:
            commanded = now <= d.commanded_until
            if new is DoorState.OPEN and (d.door is not None or commanded):
                kind = DoorEventKind.OPENED if commanded else DoorEventKind.OPENED_UNCOMMANDED
                d.commanded_until = NEVER
                if not commanded:
                    d.moving_until = now + self.timing.moving_s  # someone will close it
                self._emit(kind, c.number)
            elif new is DoorState.CLOSED and d.door is DoorState.OPEN:
                d.moving_until = NEVER
                self._emit(DoorEventKind.CLOSED, c.number)
            d.door = new
        item = status.items.get(c.lock)
        if item is not None:
            if d.item is not None and item != d.item:
                self._emit(DoorEventKind.ITEM_PRESENT if item else DoorEventKind.ITEM_ABSENT, c.number)
            d.item = item

    def _moving(self, key: tuple[str, int], now: float) -> bool:
        # caller holds self._cv
        for c in self._boards[key].compartments:
            d = self._doors[c.number]
            if d.moving_until > now and (d.door is DoorState.OPEN or d.commanded_until > now):
                return True
        return False

    def _run(self, bus: str) -> None:
        try:
            keys = sorted(k for k in self._boards if k[0] == bus)
            wake = self._wake[bus]
            while not self._stop.is_set():
                wake.clear()
                now = self._mono()
                with self._cv:
                    due = [k for k in keys if self._boards[k].next_poll <= now]
                for key in due:
                    if self._stop.is_set():
                        return
                    self._poll(key)
                with self._cv:
                    nxt = min((self._boards[k].next_poll for k in keys), default=now + self.timing.slow_poll_s)
                wake.wait(max(0.0, nxt - self._mono()))
        except BaseException as exc:
            log.exception("lock bank poller of bus %s died", bus)
            with self._cv:
                self._failure = exc
                self._cv.notify_all()
            raise

    def _poll(self, key: tuple[str, int]) -> None:
        bus, board = key
        driver = self._drivers[bus]
        try:
            if self.link(bus, board) is LinkState.OFFLINE and not driver.scan([board]):
                log.debug("bus %s: board %d still silent", bus, board)
            else:
                self._observe(bus, driver.status(board))
                return
        except BridgeError as exc:
            # Whether the board is offline is the link policy's decision (LinkPolicy.offline_after failures in a
            # row), which the driver's transport reports through link_changed: one failed poll is not enough.
            log.warning("bus %s: polling board %d failed: %s", bus, board, exc)
        finally:
            now = self._mono()
            with self._cv:
                fast = self._moving(key, now)
                period = self.timing.fast_poll_s if fast else self.timing.slow_poll_s
                self._boards[key].next_poll = now + period

    def boards(self) -> Iterable[tuple[str, int]]:
        """(bus, address) of every board in the compartment map."""
        return sorted(self._boards)
