"""The driver registry: one DriverSpec per lock-board driver (factory, simulator, pulse hold, config rules)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware_bridge.driver import BoardDriver
from firmware_bridge.errors import TransportError
from firmware_bridge.gpio_driver import GpioDriver, GpioPins
from firmware_bridge.link import LinkListener, LinkPolicy
from firmware_bridge.modbus_relay import FLASH_UNIT_MS, ModbusRelayDriver, flash_value
from firmware_bridge.serial_drivers import KerongCu16Driver, KerongCu48Driver, Xor8aDriver
from firmware_bridge.sim import registry as sims
from firmware_bridge.sim.registry import SimFactory
from firmware_bridge.transport import Transport
from locker.config import BusConfig, CompartmentConfig
from locker.errors import ConfigError


@dataclass(frozen=True)
class DriverOptions:
    """Settings a driver may need beyond its BusConfig (all optional)."""

    link: LinkPolicy = field(default_factory=LinkPolicy)
    on_link_change: LinkListener | None = None  # called (board, LinkState) when a board goes offline/online
    channels: int | None = None  # overrides bus.channels (locks per board: xor-8a, modbus-relay)
    item_sensors: bool = True  # kerong-cu16: the IR item sensors are fitted
    boards: tuple[int, ...] = ()  # addresses the station uses (modbus-relay: safe_state covers them from start)
    pin_factory: Any = None  # gpio: a gpiozero pin factory (MockFactory in tests); None: the Pi's default
    pi_model_file: Path = Path("/proc/device-tree/model")  # where "really on a Pi" is read from

    def channels_of(self, bus: BusConfig) -> int:
        return self.channels if self.channels is not None else bus.channels


DriverFactory = Callable[[BusConfig, DriverOptions], BoardDriver]


def _transport(bus: BusConfig, opts: DriverOptions) -> Transport:
    return Transport.from_bus(bus, policy=opts.link, on_link_change=opts.on_link_change)


def _kerong_cu16(bus: BusConfig, opts: DriverOptions) -> BoardDriver:
    return KerongCu16Driver(_transport(bus, opts), polarity=bus.polarity, item_sensors=opts.item_sensors)


def _kerong_cu48(bus: BusConfig, opts: DriverOptions) -> BoardDriver:
    return KerongCu48Driver(_transport(bus, opts), polarity=bus.polarity)


def _xor_8a(bus: BusConfig, opts: DriverOptions) -> BoardDriver:
    return Xor8aDriver(_transport(bus, opts), polarity=bus.polarity, channels=opts.channels_of(bus))


def _modbus_relay(bus: BusConfig, opts: DriverOptions) -> BoardDriver:
    return ModbusRelayDriver(
        bus,
        channels=opts.channels_of(bus),
        boards=opts.boards,
        policy=opts.link,
        on_link_change=opts.on_link_change,
    )


def on_a_pi(model_file: Path) -> bool:
    """True when the device tree names a Raspberry Pi (the only place gpiozero's default factory may be used)."""
    try:
        return "Raspberry Pi" in model_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def _gpio(bus: BusConfig, opts: DriverOptions) -> BoardDriver:
    factory = opts.pin_factory
    if factory is None and not on_a_pi(opts.pi_model_file):
        raise TransportError(
            f"bus {bus.name}: the gpio driver needs a Raspberry Pi ({opts.pi_model_file} does not name one); "
            "tests and simulations pass a pin factory such as gpiozero's MockFactory"
        )
    pins = [GpioPins(relay=p.relay, door=p.door) for p in sorted(bus.pins, key=lambda p: p.lock)]
    return GpioDriver(bus, pins, pin_factory=factory, relay_active_high=bus.relay_active_high)


def _board_timed(bus: BusConfig) -> float:
    """The board times the pulse: the lock may be energised for ``pulse_ms`` after the command returns."""
    return bus.pulse_ms / 1000


def _modbus_flash(bus: BusConfig) -> float:
    """A relay flash runs for whole 100 ms units after the write returns."""
    return flash_value(bus.pulse_ms) * FLASH_UNIT_MS / 1000


def _host_timed(bus: BusConfig) -> float:
    """The host times the pulse (gpio): it has ended when ``pulse()`` returns."""
    return 0.0


@dataclass(frozen=True)
class DriverSpec:
    """Everything the station knows of one lock-board driver: how to build it and simulate it, how long its pulse
    outlasts the command, what the configuration must say for it, and the commissioning tools' defaults.
    Add a driver by adding one entry to ``DRIVERS``; the configuration's allowed names are that table's keys."""

    name: str
    build: DriverFactory
    simulate: SimFactory
    pulse_hold: Callable[[BusConfig], float] = _board_timed
    serial: bool = True  # opens ``port``; False: the GPIO header (``pins`` instead)
    fixed_locks: int | None = None  # locks per board the protocol fixes; None: ``channels`` (or the pins) say
    default_locks: int = 16  # `wibox board` / `wibox sim board` when --locks is not given
    baud: int = 9600  # the commissioning tools' default speed
    scan: range = range(0, 16)  # board addresses `wibox board scan` asks when none are given
    item_sensors: bool = False  # the board reports item sensors (the simulators fit them)

    def pulse_hold_s(self, bus: BusConfig) -> float:
        """How long after a pulse call returns the lock may still be energised."""
        return self.pulse_hold(bus)

    def locks_on(self, bus: BusConfig) -> int:
        """Locks per board on ``bus``."""
        if not self.serial:
            return len(bus.pins)
        return self.fixed_locks if self.fixed_locks is not None else bus.channels

    # -- configuration rules (locker.config.DriverRules) ----------------------------------------------------
    def check_bus(self, where: str, bus: BusConfig) -> None:
        if self.serial:
            if not bus.port:
                raise ConfigError(f"{where}.port: required for driver {self.name}")
            if bus.pins:
                raise ConfigError(f"{where}.pins: only allowed for driver gpio, not {self.name}")
            if bus.relay_active_high:
                raise ConfigError(f"{where}.relay_active_high: only allowed for driver gpio, not {self.name}")
            return
        _check_pins(where, bus)

    def check_compartment(self, where: str, c: CompartmentConfig, bus: BusConfig) -> None:
        if not self.serial:
            if c.board != 0:
                raise ConfigError(f"{where}.board: a gpio bus has only board 0, not {c.board}")
            if c.lock > len(bus.pins):
                raise ConfigError(f"{where}.lock: bus {bus.name} has pins for locks 1..{len(bus.pins)} only")
        elif c.lock > self.locks_on(bus):
            per = "channels" if self.fixed_locks is None else f"locks ({self.name})"
            raise ConfigError(f"{where}.lock: bus {bus.name} has {self.locks_on(bus)} {per} per board")


def _check_pins(where: str, bus: BusConfig) -> None:
    """gpio buses need their pins: locks 1..n, every BCM pin used once."""
    if not bus.pins:
        raise ConfigError(f"{where}.pins: required for driver gpio (one {{lock, relay, door}} per lock)")
    locks = sorted(p.lock for p in bus.pins)
    if locks != list(range(1, len(bus.pins) + 1)):
        raise ConfigError(f"{where}.pins: locks must be numbered 1..{len(bus.pins)} once each, got {locks}")
    seen: set[int] = set()
    for j, p in enumerate(bus.pins):
        for what, pin in (("relay", p.relay), ("door", p.door)):
            if pin in seen:
                raise ConfigError(f"{where}.pins[{j}].{what}: BCM pin {pin} is used twice")
            seen.add(pin)


# Register a driver here: one DriverSpec per configuration name.
DRIVERS: dict[str, DriverSpec] = {
    spec.name: spec
    for spec in (
        DriverSpec(
            "kerong-cu16",
            _kerong_cu16,
            sims.kerong_cu16,
            fixed_locks=16,
            baud=19200,
            item_sensors=True,
        ),
        DriverSpec("kerong-cu48", _kerong_cu48, sims.kerong_cu48, fixed_locks=48, default_locks=48),
        DriverSpec("xor-8a", _xor_8a, sims.xor_8a, scan=range(1, 33)),
        DriverSpec(
            "modbus-relay",
            _modbus_relay,
            sims.modbus_relay,
            pulse_hold=_modbus_flash,
            default_locks=8,
            scan=range(1, 17),
        ),
        DriverSpec(
            "gpio",
            _gpio,
            sims.gpio,
            pulse_hold=_host_timed,
            serial=False,
            default_locks=0,
            baud=19200,
            scan=range(0, 1),
        ),
    )
}


def spec_of(driver: str) -> DriverSpec:
    """The spec of a configured driver name; ConfigError for one the registry does not know."""
    spec = DRIVERS.get(driver)
    if spec is None:
        raise ConfigError(f"driver {driver!r} is not available (have {', '.join(DRIVERS)})")
    return spec


def make_driver(bus: BusConfig, options: DriverOptions | None = None) -> BoardDriver:
    """Build (and open) the driver named by ``bus.driver``; raises ConfigError for an unknown name."""
    if bus.driver not in DRIVERS:
        raise ConfigError(f"buses.{bus.name}.driver: {bus.driver!r} is not available (have {', '.join(DRIVERS)})")
    return DRIVERS[bus.driver].build(bus, options or DriverOptions())
