"""The lock bank against the real simulators over pseudo-terminals: cu16 + xor-8a + modbus buses at once."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory  # type: ignore[import-untyped]

from firmware_bridge.errors import BridgeError, LockMapError, UnknownCompartment
from firmware_bridge.gpio_driver import GpioDriver, GpioPins
from firmware_bridge.link import LinkPolicy, LinkState
from firmware_bridge.lockbank import BankTiming, LockBank, pulse_hold_s
from firmware_bridge.registry import DriverOptions
from firmware_bridge.sim.gpio_sim import GpioWallSim
from firmware_bridge.sim.kerong_cu16 import KerongCu16Sim
from firmware_bridge.sim.modbus_sim import ModbusRelaySim
from firmware_bridge.sim.wall import Record, SimEvent, Wall
from firmware_bridge.sim.xor_8a import Xor8aSim
from locker.clock import ManualClock
from locker.config import BusConfig, CompartmentConfig, GpioPinConfig, StationConfig, TimingConfig
from locker.errors import HardwareError
from locker.model import DoorState, Size
from locker.ports import DoorEvent, DoorEventKind, DoorReading

K = DoorEventKind
SLOW_S = 0.5  # the slow poll period (no test measures how soon a poll comes: speed lives in benchmarks/)
TIMING = BankTiming(fast_poll_s=0.02, slow_poll_s=SLOW_S, confirm_poll_s=0.005, moving_s=5.0, commanded_grace_s=0.5)
LINK = LinkPolicy(read_retries=1, backoff_s=0.002, offline_after=3, probe_interval_s=0.1)
# Real time passes on the ptys and in the pollers. A reply takes milliseconds there, so a 1 s reply timeout
# survives a loaded machine (a silent board costs that much per attempt). Waits for a state or an event, and the
# confirm window of unlocks that should open, end as soon as the door or event is there; these are deadlines.
TIMEOUT_MS = 1000
CONFIRM_S = 10.0
WAIT_S = 20.0

# compartment -> (bus, board, lock)
MAP: dict[int, tuple[str, int, int]] = {
    1: ("cu", 0, 1),
    2: ("cu", 0, 2),
    3: ("cu", 0, 3),
    4: ("cu", 1, 1),
    5: ("cu", 1, 16),
    6: ("xor", 1, 1),
    7: ("xor", 1, 8),
    8: ("mb", 1, 1),
    9: ("mb", 1, 8),
}


def _bus(name: str, driver: str, port: str, channels: int = 16) -> BusConfig:
    return BusConfig(
        name=name, driver=driver, port=port, baud=19200, pulse_ms=50, gap_ms=0, timeout_ms=TIMEOUT_MS, channels=channels
    )


def station(ports: dict[str, str], db: str = ":memory:", confirm_s: float = 1.0) -> StationConfig:
    from locker.config import StorageConfig

    buses = (
        _bus("cu", "kerong-cu16", ports["cu"]),
        _bus("xor", "xor-8a", ports["xor"], channels=8),
        _bus("mb", "modbus-relay", ports["mb"], channels=8),
    )
    comps = tuple(
        CompartmentConfig(number=n, bus=b, board=bd, lock=lk, size=Size.M, height_mm=900)
        for n, (b, bd, lk) in MAP.items()
    )
    return StationConfig(
        station_id="t-1",
        buses=buses,
        compartments=comps,
        timing=TimingConfig(unlock_confirm_s=confirm_s),
        storage=StorageConfig(database=db),
    )


@dataclass
class Rig:
    wall: Wall
    cu: KerongCu16Sim
    xor: Xor8aSim
    mb: ModbusRelaySim
    bank: LockBank
    clock: ManualClock
    config: StationConfig
    seen: list[DoorEvent] = field(default_factory=list)

    def loc(self, compartment: int) -> tuple[str, int, int]:
        return MAP[compartment]

    def wait_event(self, kind: DoorEventKind, compartment: int | None = None, within: float = WAIT_S) -> DoorEvent:
        """The first event of ``kind`` (for ``compartment``), as soon as the bank reports it."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for e in self.seen:
                if e.kind is kind and (compartment is None or e.compartment == compartment):
                    self.seen.remove(e)
                    return e
            self.seen.extend(self.bank.poll_events(0.05))
        raise AssertionError(f"no {kind} for {compartment} within {within} s; saw {self.seen}")

    def wait_online(self) -> None:
        """Until the bank has heard from every board in the map (its pollers' first round)."""
        wait_until(
            lambda: all(self.bank.link(bus, board) is LinkState.ONLINE for bus, board in self.bank.boards()),
            "every board online",
        )


def wait_until(done: Callable[[], bool], what: str, within: float = WAIT_S) -> None:
    """Return as soon as ``done()``; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not done():
        assert time.monotonic() < deadline, f"not within {within} s: {what}"
        time.sleep(0.002)


class SteppedMonotonic:
    """Real monotonic time plus the jumps a test makes: lets the bank's windows pass without sleeping them out."""

    def __init__(self) -> None:
        self._offset = 0.0

    def now(self) -> float:
        return time.monotonic() + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds


@contextlib.contextmanager
def bank_rig(
    db: str = ":memory:",
    start: bool = True,
    spring_s: float = 0.01,
    monotonic: Callable[[], float] = time.monotonic,
) -> Iterator[Rig]:
    wall = Wall(spring_delay_s=spring_s)
    wall.add_board("cu", 0, 16, item_sensors=True)
    wall.add_board("cu", 1, 16, item_sensors=True)
    wall.add_board("xor", 1, 8)
    cu = KerongCu16Sim(wall, "cu")
    xor = Xor8aSim(wall, "xor", channels=8)
    mb = ModbusRelaySim([1], channels=8, baud=None, wall=wall, bus="mb")
    with contextlib.ExitStack() as stack:
        ports = {"cu": stack.enter_context(cu).port, "xor": stack.enter_context(xor).port}
        stack.enter_context(mb)
        ports["mb"] = mb.port
        cfg = station(ports, db)
        clock = ManualClock()
        bank = LockBank.open(cfg, clock=clock, options=DriverOptions(link=LINK), timing=TIMING, monotonic=monotonic)
        stack.callback(bank.close)
        if start:
            bank.start()
        yield Rig(wall, cu, xor, mb, bank, clock, cfg)
    assert cu.error is None and xor.error is None and mb.error is None


@pytest.fixture
def rig() -> Iterator[Rig]:
    with bank_rig() as r:
        yield r


def test_unlock_confirms_on_three_buses_and_reports_open_and_close(rig: Rig) -> None:
    for n in (1, 5, 6, 7, 8, 9):
        res = rig.bank.unlock(n, CONFIRM_S)
        assert res.opened, n
        assert res.compartment == n and res.ms > 0
        assert rig.wall.is_open(*rig.loc(n))
        assert rig.wait_event(K.OPENED, n).at == rig.clock.now()
        assert rig.bank.read(n).door is DoorState.OPEN
    for n in (1, 6, 8):
        rig.wall.close_door(*rig.loc(n))
        rig.wait_event(K.CLOSED, n)
        assert rig.bank.read(n).door is DoorState.CLOSED
    assert not [e for e in rig.seen if e.kind is K.OPENED_UNCOMMANDED]
    unlocks = [r.where for r in rig.wall.recorder.records(SimEvent.UNLOCK)]
    assert unlocks == ["cu/0/1", "cu/1/16", "xor/1/1", "xor/1/8", "mb/1/1", "mb/1/8"]  # one pulse each


def test_forced_door_is_uncommanded_and_reported_by_the_slow_poll(rig: Rig) -> None:
    rig.bank.read(2)  # baseline known
    rig.wall.force_open("cu", 0, 2)
    rig.wait_event(K.OPENED_UNCOMMANDED, 2)  # nothing but the poller reads the board meanwhile
    rig.wall.force_open("xor", 1, 8)
    rig.wait_event(K.OPENED_UNCOMMANDED, 7)
    rig.wall.close_door("cu", 0, 2)
    rig.wait_event(K.CLOSED, 2)


def test_item_sensor_events_on_cu16_and_none_elsewhere(rig: Rig) -> None:
    assert rig.bank.read(1).item is False
    assert rig.bank.read(6).item is None
    assert rig.bank.read(8).item is None
    rig.wall.set_item("cu", 0, 3, True)
    rig.wait_event(K.ITEM_PRESENT, 3)
    assert rig.bank.read(3).item is True
    rig.wall.set_item("cu", 0, 3, False)
    rig.wait_event(K.ITEM_ABSENT, 3)


def test_silent_board_goes_offline_and_recovers(rig: Rig) -> None:
    """The pollers alone notice a board falling silent and answering again; the rest of its bus keeps working.

    How soon depends on the poll period and the reply timeout; it is not asserted here (speed lives in benchmarks/).
    """
    rig.bank.read(4)
    rig.wait_online()  # the poller has seen every board
    rig.cu.set_silent(1)
    ev = rig.wait_event(K.BOARD_OFFLINE)
    assert ev.board == "cu/1" and ev.compartment is None
    assert rig.bank.link("cu", 1) is LinkState.OFFLINE
    with pytest.raises(HardwareError):
        rig.bank.read(4)
    assert rig.bank.read(1).door is DoorState.CLOSED  # the other board on the bus is fine
    rig.cu.set_silent(1, False)
    ev = rig.wait_event(K.BOARD_ONLINE)
    assert ev.board == "cu/1"
    assert rig.bank.unlock(4, CONFIRM_S).opened
    assert not [e for e in rig.seen if e.kind is K.BOARD_OFFLINE]


def test_modbus_board_offline_and_back(rig: Rig) -> None:
    rig.bank.read(8)
    rig.mb.set_silent(1)
    assert rig.wait_event(K.BOARD_OFFLINE).board == "mb/1"
    rig.mb.set_silent(1, False)
    assert rig.wait_event(K.BOARD_ONLINE).board == "mb/1"


def test_never_two_pulses_at_once_on_one_bus(rig: Rig) -> None:
    numbers = [1, 2, 3, 4, 5, 6, 7]
    results: dict[int, bool] = {}

    def go(n: int) -> None:
        results[n] = rig.bank.unlock(n, CONFIRM_S).opened

    threads = [threading.Thread(target=go, args=(n,)) for n in numbers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results[n] for n in numbers)
    hold = pulse_hold_s(rig.config.buses[0])
    times = sorted(r.t for r in rig.wall.recorder.records(SimEvent.UNLOCK) if r.where.startswith("cu/"))
    assert len(times) == 5
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= hold, gaps  # each pulse starts after the previous one on the bus has ended
    xor_times = [r.t for r in rig.wall.recorder.records(SimEvent.UNLOCK) if r.where.startswith("xor/")]
    assert len(xor_times) == 2


def test_jammed_lock_reports_not_opened_after_one_pulse() -> None:
    mono = SteppedMonotonic()  # the bank's clock
    with bank_rig(monotonic=mono.now) as rig:
        rig.wall.jam("cu", 0, 2)
        t0 = time.monotonic()
        res = rig.bank.unlock(2, 0.2)
        assert not res.opened
        assert time.monotonic() - t0 >= 0.2  # it read the door for the whole confirm window
        assert len(rig.wall.recorder.records(SimEvent.UNLOCK_JAMMED)) == 1
        assert not rig.wall.recorder.records(SimEvent.UNLOCK)
        # if the lock frees and the door springs open later, it was not commanded any more
        rig.wall.jam("cu", 0, 2, False)
        mono.advance(TIMING.commanded_grace_s + 0.1)  # the bank's clock passes the end of the commanded window
        rig.wall.force_open("cu", 0, 2)
        rig.wait_event(K.OPENED_UNCOMMANDED, 2)


def test_unknown_compartment_and_bad_lock_are_hardware_errors(rig: Rig) -> None:
    with pytest.raises(UnknownCompartment):
        rig.bank.unlock(99, 0.2)
    with pytest.raises(HardwareError):
        rig.bank.read(99)
    assert issubclass(LockMapError, BridgeError)


def test_silent_board_unlock_raises_and_pulses_nothing_twice(rig: Rig) -> None:
    rig.cu.set_silent(0)
    with pytest.raises(HardwareError):
        rig.bank.unlock(1, 0.1)

    def unlocks() -> list[Record]:
        return [r for r in rig.wall.recorder.records(SimEvent.RX) if r.where == "cu/0" and r.detail.split()[2] == "31"]

    wait_until(lambda: bool(unlocks()), "the board receives the unlock")
    assert len(unlocks()) == 1  # the unlock went out once and was never repeated


def test_missing_driver_for_a_bus_is_a_config_error() -> None:
    from locker.errors import ConfigError

    cfg = station({"cu": "x", "xor": "y", "mb": "z"})
    with pytest.raises(ConfigError, match="no driver for bus"):
        LockBank(cfg, {}, clock=ManualClock())


# -- GPIO: outputs are driven safe at start, at recovery and after an interrupted pulse ------------------------

PINS = (GpioPinConfig(lock=1, relay=5, door=17), GpioPinConfig(lock=2, relay=6, door=27))


def gpio_config() -> StationConfig:
    bus = BusConfig(name="g", driver="gpio", pulse_ms=50, pins=PINS)
    comps = tuple(CompartmentConfig(number=n, bus="g", board=0, lock=n, size=Size.S, height_mm=900) for n in (1, 2))
    return StationConfig(station_id="g-1", buses=(bus,), compartments=comps)


def test_gpio_bank_start_drives_relays_off_and_unlocks() -> None:
    factory = MockFactory()
    cfg = gpio_config()
    with GpioWallSim(factory, [GpioPins(p.relay, p.door) for p in PINS]) as sim:
        bank = LockBank.open(cfg, clock=ManualClock(), options=DriverOptions(pin_factory=factory), timing=TIMING)
        try:
            stray = factory.pin(6)
            stray.state = False  # active-low: lock 2 energised (as a crashed writer could have left it)
            bank.start()
            assert stray.state is True  # start drove it off
            assert bank.unlock(1, CONFIRM_S).opened
            assert sim.door_open(1)
            assert factory.pin(5).state is True  # the pulse has ended
            wait_until(lambda: len(sim.pulses()) >= 2, "the simulator has seen both relays switch off")
            assert [lock for lock, _s in sim.pulses()] == [2, 1]
        finally:
            bank.close()


def test_gpio_pulse_ends_in_finally_when_interrupted() -> None:
    factory = MockFactory()

    class Killed(BaseException):
        pass

    def dying_sleep(_s: float) -> None:
        raise Killed

    bus = gpio_config().buses[0]
    drv = GpioDriver(bus, [GpioPins(p.relay, p.door) for p in PINS], pin_factory=factory, sleep=dying_sleep)
    try:
        relay = factory.pin(5)
        relay.clear_states()
        with pytest.raises(Killed):
            drv.pulse(0, 1)
        assert relay.state is True  # off again
        assert [s.state for s in relay.states] == [True, False, True]  # on, then off in the finally
    finally:
        drv.close()


def test_gpio_driver_refused_off_a_pi_without_a_pin_factory(tmp_path: Path) -> None:
    from firmware_bridge.registry import make_driver

    model = tmp_path / "model"
    model.write_text("Some PC\n", encoding="utf-8")
    with pytest.raises(HardwareError, match="Raspberry Pi"):
        make_driver(gpio_config().buses[0], DriverOptions(pi_model_file=model))


def test_a_board_silent_at_start_does_not_stop_the_station() -> None:
    """Modbus safe state (all relays off) cannot reach a silent board: the bank starts anyway, reports the
    board offline, and the other buses work."""
    with bank_rig(start=False) as r:
        r.mb.set_silent(1)
        r.bank.start()  # logged, not raised
        assert r.wait_event(K.BOARD_OFFLINE).board == "mb/1"
        assert r.bank.unlock(1, CONFIRM_S).opened  # the Kerong bus is unaffected
        r.mb.set_silent(1, False)
        assert r.wait_event(K.BOARD_ONLINE).board == "mb/1"


def test_read_many_asks_each_board_once_and_names_the_silent_one() -> None:
    with bank_rig(start=False) as rig:  # no poller: every status request counted here is read_many's
        rig.wall.force_open("cu", 0, 2)
        rig.cu.set_silent(1)

        def requests(where: str) -> int:
            return sum(1 for r in rig.wall.recorder.records(SimEvent.RX) if r.where == where)

        readings = rig.bank.read_many([1, 2, 3, 4, 5, 6, 7])
        assert {w: requests(w) for w in ("cu/0", "xor/1")} == {"cu/0": 1, "xor/1": 1}  # one status per board
        assert isinstance(readings[1], DoorReading) and readings[1].door is DoorState.CLOSED
        assert isinstance(readings[2], DoorReading) and readings[2].door is DoorState.OPEN
        assert isinstance(readings[4], HardwareError) and isinstance(readings[5], HardwareError)  # cu/1 is silent
        assert isinstance(readings[6], DoorReading) and isinstance(readings[7], DoorReading)
