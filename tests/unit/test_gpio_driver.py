"""The gpio driver against gpiozero's MockFactory pins, with the wall's door physics behind them."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from gpiozero.pins.mock import MockFactory  # type: ignore[import-untyped]

from firmware_bridge.errors import NoReply
from firmware_bridge.gpio_driver import GpioDriver, GpioPins
from firmware_bridge.sim.gpio_sim import GpioWallSim
from firmware_bridge.sim.wall import SimEvent
from locker.config import BusConfig, Polarity
from locker.model import DoorState

OPEN, CLOSED = DoorState.OPEN, DoorState.CLOSED
PINS = [GpioPins(relay=5, door=17), GpioPins(relay=6, door=27), GpioPins(relay=13, door=22)]


def bus(polarity: Polarity = Polarity.OPEN_HIGH, pulse_ms: int = 100) -> BusConfig:
    return BusConfig(name="gpio", driver="gpio", polarity=polarity, pulse_ms=pulse_ms)


@pytest.fixture
def factory() -> MockFactory:
    return MockFactory()


@pytest.fixture
def sim(factory: MockFactory) -> Iterator[GpioWallSim]:
    with GpioWallSim(factory, PINS) as s:
        yield s


@pytest.fixture
def driver(sim: GpioWallSim, factory: MockFactory) -> Iterator[GpioDriver]:
    d = GpioDriver(bus(), PINS, pin_factory=factory)
    yield d
    d.close()


def wait_for(driver: GpioDriver, lock: int, state: DoorState, within: float = 1.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if driver.status(0).doors[lock] is state:
            return
        time.sleep(0.005)
    raise AssertionError(f"lock {lock} did not read {state} within {within} s")


def test_outputs_are_off_from_the_start(factory: MockFactory) -> None:
    d = GpioDriver(bus(), PINS, pin_factory=factory)
    try:
        for p in PINS:
            pin = factory.pin(p.relay)
            assert pin.function == "output"
            assert pin.state is True  # active-low relay board: high = off
            assert all(s.state for s in pin.states[1:])  # never went low (on) while being set up
        assert d.relays(0) == {1: False, 2: False, 3: False}
    finally:
        d.close()


def test_status_reads_the_reed_switches(sim: GpioWallSim, driver: GpioDriver) -> None:
    assert driver.status(0).doors == {1: CLOSED, 2: CLOSED, 3: CLOSED}
    sim.force_open(2)
    assert driver.status(0).doors == {1: CLOSED, 2: OPEN, 3: CLOSED}
    assert [r.where for r in sim.records(SimEvent.DOOR_FORCED)] == ["gpio/0/2"]


def test_pulse_times_the_relay_and_the_door_opens(sim: GpioWallSim, driver: GpioDriver) -> None:
    relay = sim.relay_pin(1)
    relay.clear_states()
    driver.pulse(0, 1)
    relay.assert_states_and_times([(0.0, True), (0.0, False), (0.1, True)])
    wait_for(driver, 1, OPEN)
    assert driver.status(0).doors[2] is CLOSED
    time.sleep(0.02)
    assert [lock for lock, _s in sim.pulses()] == [1]
    assert sim.pulses()[0][1] == pytest.approx(0.1, abs=0.05)
    sim.close_door(1)
    assert driver.status(0).doors[1] is CLOSED


def test_pulse_ends_even_when_something_raises_mid_pulse(sim: GpioWallSim, factory: MockFactory) -> None:
    def exploding_sleep(_s: float) -> None:
        raise KeyboardInterrupt  # e.g. the daemon is being stopped mid-pulse

    d = GpioDriver(bus(), PINS, pin_factory=factory, sleep=exploding_sleep)
    try:
        relay = factory.pin(PINS[2].relay)
        relay.clear_states()
        with pytest.raises(KeyboardInterrupt):
            d.pulse(0, 3)
        assert relay.state is True  # off again
        assert [s.state for s in relay.states] == [True, False, True]
        assert d.relays(0)[3] is False
    finally:
        d.close()


def test_jammed_lock_stays_shut(sim: GpioWallSim, driver: GpioDriver) -> None:
    sim.jam(3)
    driver.pulse(0, 3)
    with pytest.raises(AssertionError):
        wait_for(driver, 3, OPEN, within=0.2)
    assert [r.where for r in sim.records(SimEvent.UNLOCK_JAMMED)] == ["gpio/0/3"]


@pytest.mark.parametrize("polarity", [Polarity.OPEN_HIGH, Polarity.OPEN_LOW])
def test_polarity_both_ways(factory: MockFactory, polarity: Polarity) -> None:
    with GpioWallSim(factory, PINS, polarity=polarity) as s:
        d = GpioDriver(bus(polarity), PINS, pin_factory=factory)
        try:
            s.force_open(1)
            time.sleep(0.01)
            assert d.status(0).doors == {1: OPEN, 2: CLOSED, 3: CLOSED}
            level = factory.pin(PINS[0].door).state
            assert level is (polarity is Polarity.OPEN_HIGH)
        finally:
            d.close()


def test_driving_the_reed_pins_directly(factory: MockFactory) -> None:
    """Without the simulator: magnet near pulls the input low (pressed) = closed with open-high."""
    d = GpioDriver(bus(), PINS, pin_factory=factory)
    try:
        assert d.status(0).doors[1] is OPEN  # pull-up, no magnet: high
        factory.pin(PINS[0].door).drive_low()
        assert d.status(0).doors[1] is CLOSED
    finally:
        d.close()


def test_only_board_zero(driver: GpioDriver) -> None:
    assert driver.scan(range(0, 4)) == [0]
    assert driver.scan([1, 2]) == []
    with pytest.raises(NoReply):
        driver.status(1)
    with pytest.raises(ValueError, match="lock 4"):
        driver.pulse(0, 4)


def test_safe_state_and_close_switch_everything_off(factory: MockFactory) -> None:
    d = GpioDriver(bus(), PINS, pin_factory=factory)
    relay = factory.pin(PINS[0].relay)
    relay.state = False  # something switched relay 1 on behind the driver's back
    d.safe_state()
    assert relay.state is True
    relay.state = False
    d.close()
    assert relay.state is True


def test_pins_used_twice_are_refused(factory: MockFactory) -> None:
    with pytest.raises(ValueError, match="twice"):
        GpioDriver(bus(), [GpioPins(5, 17), GpioPins(5, 27)], pin_factory=factory)
