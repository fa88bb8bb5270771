"""Maps a bus's ``driver`` name to the BoardDriver that speaks it; add a driver by adding one entry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware_bridge.driver import BoardDriver
from firmware_bridge.errors import TransportError
from firmware_bridge.gpio_driver import GpioDriver, GpioPins
from firmware_bridge.modbus_relay import ModbusRelayDriver
from firmware_bridge.serial_drivers import KerongCu16Driver, KerongCu48Driver, Xor8aDriver
from firmware_bridge.transport import LinkListener, LinkPolicy, Transport
from locker.config import BusConfig
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


# Register a driver here: config name -> factory.
FACTORIES: dict[str, DriverFactory] = {
    "kerong-cu16": _kerong_cu16,
    "kerong-cu48": _kerong_cu48,
    "xor-8a": _xor_8a,
    "modbus-relay": _modbus_relay,
    "gpio": _gpio,
}


def make_driver(bus: BusConfig, options: DriverOptions | None = None) -> BoardDriver:
    """Build (and open) the driver named by ``bus.driver``; raises ConfigError for an unknown name."""
    factory = FACTORIES.get(bus.driver)
    if factory is None:
        raise ConfigError(f"buses.{bus.name}.driver: {bus.driver!r} is not available (have {', '.join(FACTORIES)})")
    return factory(bus, options or DriverOptions())
