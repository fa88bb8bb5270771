"""Maps a bus's ``driver`` name to the BoardDriver that speaks it; add a driver by adding one entry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from firmware_bridge.driver import BoardDriver
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
    channels: int = 16  # locks per board where the protocol cannot tell (xor-8a)
    item_sensors: bool = True  # kerong-cu16: the IR item sensors are fitted


DriverFactory = Callable[[BusConfig, DriverOptions], BoardDriver]


def _transport(bus: BusConfig, opts: DriverOptions) -> Transport:
    return Transport.from_bus(bus, policy=opts.link, on_link_change=opts.on_link_change)


def _kerong_cu16(bus: BusConfig, opts: DriverOptions) -> BoardDriver:
    return KerongCu16Driver(_transport(bus, opts), polarity=bus.polarity, item_sensors=opts.item_sensors)


def _kerong_cu48(bus: BusConfig, opts: DriverOptions) -> BoardDriver:
    return KerongCu48Driver(_transport(bus, opts), polarity=bus.polarity)


def _xor_8a(bus: BusConfig, opts: DriverOptions) -> BoardDriver:
    return Xor8aDriver(_transport(bus, opts), polarity=bus.polarity, channels=opts.channels)


def _modbus_relay(bus: BusConfig, opts: DriverOptions) -> BoardDriver:
    return ModbusRelayDriver(bus, channels=opts.channels, policy=opts.link, on_link_change=opts.on_link_change)


# Register a driver here: config name -> factory. (modbus-relay and gpio are added by their modules' owner.)
FACTORIES: dict[str, DriverFactory] = {
    "kerong-cu16": _kerong_cu16,
    "kerong-cu48": _kerong_cu48,
    "xor-8a": _xor_8a,
    "modbus-relay": _modbus_relay,
}


def make_driver(bus: BusConfig, options: DriverOptions | None = None) -> BoardDriver:
    """Build (and open) the driver named by ``bus.driver``; raises ConfigError for an unknown name."""
    factory = FACTORIES.get(bus.driver)
    if factory is None:
        raise ConfigError(f"buses.{bus.name}.driver: {bus.driver!r} is not available (have {', '.join(FACTORIES)})")
    return factory(bus, options or DriverOptions())
