"""Station configuration: one TOML file parsed once at start into typed, validated objects."""

from __future__ import annotations

import enum
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from locker import config_schema
from locker.config_schema import build_section, spec
from locker.errors import ConfigError
from locker.model import Size

__all__ = ["build_section", "spec"]  # the hub builds its settings with the same machinery


class Polarity(enum.StrEnum):
    """How a door-switch bit reads: ``open-high`` means a set bit reads "open"."""

    OPEN_HIGH = "open-high"
    OPEN_LOW = "open-low"


@dataclass(frozen=True)
class GpioPinConfig:
    """The header pins of one lock on a gpio bus (BCM numbers)."""

    lock: int = field(metadata=spec("lock number on the gpio bus, from 1", lo=1, hi=28))
    relay: int = field(metadata=spec("BCM pin of the relay output", lo=0, hi=27))
    door: int = field(metadata=spec("BCM pin of the door (reed) input", lo=0, hi=27))


@dataclass(frozen=True)
class BusConfig:
    """One serial bus (or the GPIO header) with the boards on it."""

    name: str = field(metadata=spec("name compartments refer to", pattern=r"^[a-z0-9_-]{1,32}$"))
    driver: str = field(metadata=spec("lock-board driver, a name of the driver registry (docs/hardware.md lists them)"))
    port: str = field(default="", metadata=spec("serial device, e.g. /dev/wibox-bus0 (empty for gpio)"))
    baud: int = field(default=19200, metadata=spec("serial speed in baud", lo=1200, hi=115200))
    polarity: Polarity = field(default=Polarity.OPEN_HIGH, metadata=spec("door-switch polarity"))
    pulse_ms: int = field(default=500, metadata=spec("lock pulse length in ms", lo=50, hi=5000))
    gap_ms: int = field(default=30, metadata=spec("pause between requests on the bus in ms", lo=0, hi=1000))
    timeout_ms: int = field(default=300, metadata=spec("reply timeout in ms", lo=20, hi=5000))
    rs485_rts: bool = field(default=False, metadata=spec("let the kernel switch RTS for RS485 direction"))
    channels: int = field(
        default=16, metadata=spec("locks per board (xor-8a reply length, modbus-relay relays)", lo=1, hi=48)
    )
    relay_active_high: bool = field(
        default=False, metadata=spec("gpio only: relays switch on with a high output (most HATs: false)")
    )
    pins: tuple[GpioPinConfig, ...] = field(
        default=(), metadata=spec("gpio only: one {lock, relay, door} table per lock (required for gpio)")
    )


@dataclass(frozen=True)
class CompartmentConfig:
    """One compartment and the lock channel that opens it."""

    number: int = field(metadata=spec("compartment number shown to people", lo=1, hi=9999))
    bus: str = field(metadata=spec("name of the bus the board is on"))
    board: int = field(metadata=spec("board address on the bus", lo=0, hi=255))
    lock: int = field(metadata=spec("lock channel on the board, from 1", lo=1, hi=255))
    size: Size = field(metadata=spec("S, M or L"))
    height_mm: int = field(metadata=spec("height of the door handle above the floor in mm", lo=0, hi=2500))
    column: int = field(default=0, metadata=spec("column in the wall picture, from 1 (0: auto)", lo=0, hi=99))
    row: int = field(default=0, metadata=spec("row in the wall picture, from 1 at the top (0: auto)", lo=0, hi=99))


@dataclass(frozen=True)
class TimingConfig:
    """Durations that govern orders, doors and sessions."""

    pickup_window_days: int = field(default=7, metadata=spec("days an order may be collected", lo=1, hi=60))
    door_open_alarm_s: int = field(default=120, metadata=spec("door open longer than this: alarm", lo=10, hi=3600))
    staff_session_timeout_s: int = field(
        default=300, metadata=spec("idle staff session ends after this", lo=30, hi=3600)
    )
    unlock_confirm_s: float = field(
        default=3.0, metadata=spec("how long to wait for a door to read open", lo=0.2, hi=30)
    )
    rearm_window_s: int = field(
        default=600,
        metadata=spec("a handover interrupted by a restart may be re-armed this long", lo=0, hi=3600),
    )
    answer_s: int = field(
        default=120,
        metadata=spec(
            "a door closed on a board without item sensor waits this long for a person's answer", lo=30, hi=3600
        ),
    )


@dataclass(frozen=True)
class PolicyConfig:
    """What the city decides."""

    second_factor: bool = field(
        default=False,
        metadata=spec(
            "ask for the date of birth as a second factor, for every document type the hub has sent no policy for"
        ),
    )
    four_eyes_loading: bool = field(default=False, metadata=spec("two staff must log in to load"))
    old_id_return: bool = field(
        default=False,
        metadata=spec(
            "citizens put the old ID card or passport back, for every document type the hub has sent no policy for"
        ),
    )
    pin_length: int = field(default=6, metadata=spec("digits in a manual PIN", lo=6, hi=12))
    manual_max_failures: int = field(
        default=5, metadata=spec("wrong PINs before an order's manual path is off", lo=1, hi=20)
    )
    reachable_min_mm: int = field(default=380, metadata=spec("lowest reachable handle height", lo=0, hi=2500))
    reachable_max_mm: int = field(default=1220, metadata=spec("highest reachable handle height", lo=0, hi=2500))


@dataclass(frozen=True)
class ThrottleConfig:
    """Throttle of wrong codes per identity (screen session, staff badge) under a device budget (security.md)."""

    free_failures: int = field(
        default=3, metadata=spec("failures of one identity in the window before its delays start", lo=1, hi=100)
    )
    window_s: int = field(default=900, metadata=spec("length of the counting window", lo=60, hi=86400))
    base_delay_s: float = field(default=5.0, metadata=spec("first delay; doubles per further failure", lo=1, hi=60))
    max_delay_s: float = field(default=300.0, metadata=spec("longest delay (never a lockout)", lo=5, hi=900))
    device_budget_per_hour: int = field(
        default=2400, metadata=spec("failures per hour at the station before every attempt waits", lo=10, hi=5000)
    )
    alarm_failures: int = field(
        default=10, metadata=spec("failures at the station in the window that raise brute_force", lo=2, hi=1000)
    )


@dataclass(frozen=True)
class StorageConfig:
    """Where the station keeps its state."""

    database: str = field(default="/var/lib/wibox/wibox.db", metadata=spec("SQLite database file"))


class KeypadKey(enum.StrEnum):
    """What a key of the citizen's keypad does (the default map: these keys themselves)."""

    D0 = "0"
    D1 = "1"
    D2 = "2"
    D3 = "3"
    D4 = "4"
    D5 = "5"
    D6 = "6"
    D7 = "7"
    D8 = "8"
    D9 = "9"
    OK = "Enter"  # OK / confirm / next
    DELETE = "Backspace"
    CANCEL = "Escape"
    HELP = "+"  # speech on, the keys explained, then the screen


@dataclass(frozen=True)
class KeyConfig:
    """One key of the station's own keypad that sends something else than the default map expects."""

    key: str = field(
        metadata=spec(
            "the key as the browser names it (KeyboardEvent.key), e.g. F1, PageDown, *, #",
            pattern=r"^[!-~]{1,24}$",
        )
    )
    does: KeypadKey = field(
        metadata=spec("what it does: a digit 0-9, Enter (OK), Backspace (delete), Escape (cancel) or + (help)")
    )


@dataclass(frozen=True)
class DisplayConfig:
    """The kiosk screen: its physical size (touch targets are sized in millimetres) and inactivity timing."""

    diagonal_in: float = field(default=10.1, metadata=spec("visible screen diagonal in inches", lo=4, hi=43))
    width_px: int = field(default=1280, metadata=spec("screen width in CSS pixels", lo=320, hi=7680))
    height_px: int = field(default=800, metadata=spec("screen height in CSS pixels", lo=320, hi=7680))
    key_mm: float = field(default=15.0, metadata=spec("edge of a keypad key in mm (EN 301 549: 15 mm)", lo=9, hi=40))
    idle_timeout_s: int = field(default=90, metadata=spec("citizen inactivity before input is cleared", lo=40, hi=900))
    idle_warning_s: int = field(
        default=30, metadata=spec("warning with sound this long before the timeout (at least 20)", lo=20, hi=300)
    )
    keys: tuple[KeyConfig, ...] = field(
        default=(),
        metadata=spec(
            "the station's own keypad: one [[display.keys]] table {key, does} per key that sends something else"
            " than the default map (digits, Enter, Backspace, Escape, +, which keep working)"
        ),
    )
    headset_device: str = field(
        default="",
        metadata=spec(
            "input event device of the headset jack's switch (SW_HEADPHONE_INSERT), e.g."
            " /dev/input/by-path/...-event: plugging a headset in turns speech on for the person at the screen,"
            " pulling it out turns it off ('' = none)"
        ),
    )
    screen_token_file: str = field(
        default="",
        metadata=spec(
            "file the daemon writes a fresh screen token to at each start (0640), for the kiosk browser's launcher to"
            " claim the screen with; once claimed, scans go to that browser alone. Empty: no token, scans go to"
            " the page in front (development)"
        ),
    )


@dataclass(frozen=True)
class CameraConfig:
    """The camera that reads QR codes held up by citizens."""

    enabled: bool = field(default=True, metadata=spec("read codes with a camera"))
    device: str = field(default="0", metadata=spec("camera index (0, 1, ...) or device path, e.g. /dev/video0"))
    width: int = field(default=1280, metadata=spec("capture width in pixels", lo=160, hi=4096))
    height: int = field(default=720, metadata=spec("capture height in pixels", lo=120, hi=3072))
    fps: int = field(
        default=15,
        metadata=spec("capture frame rate while something moves in view or part of a code is seen", lo=1, hi=120),
    )
    idle_fps: int = field(
        default=5,
        metadata=spec(
            "capture frame rate once nothing moved and no unread code was seen for active_hold_s", lo=1, hi=120
        ),
    )
    active_hold_s: float = field(
        default=2.0, metadata=spec("seconds the full rate lasts after the last motion or unread code", lo=0, hi=600)
    )
    probe_every: int = field(
        default=15,
        metadata=spec(
            "while something moves in view, the decoder chain's fallbacks run on one frame in this many (and on every"
            " frame where the first decoder located a code it could not read)",
            lo=1,
            hi=1000,
        ),
    )
    dedup_s: float = field(default=3.0, metadata=spec("the same code within this time is reported once", lo=0, hi=60))


@dataclass(frozen=True)
class ScannersConfig:
    """Code scanners: the camera, a USB keyboard-wedge scanner, a serial scanner."""

    camera: CameraConfig = field(default_factory=CameraConfig, metadata=spec("camera"))
    chain: str = field(
        default="zxing,pyzbar,pyzbar:downscale,zxing:clahe",
        metadata=spec("decoder chain, comma-separated", pattern=r"^[a-z]+(:[a-z]+)?(,[a-z]+(:[a-z]+)?)*$"),
    )
    wedge_device: str = field(default="", metadata=spec("keyboard-wedge scanner event device ('' = none)"))
    wedge_keymap: str = field(default="us", metadata=spec("keyboard layout of the wedge scanner", choices=("us", "de")))
    serial_port: str = field(default="", metadata=spec("serial/USB-CDC scanner port ('' = none)"))
    serial_baud: int = field(default=9600, metadata=spec("serial scanner speed", lo=1200, hi=115200))


@dataclass(frozen=True)
class UiConfig:
    """The local kiosk UI server (always on loopback)."""

    port: int = field(default=8080, metadata=spec("TCP port on 127.0.0.1", lo=1024, hi=65535))


@dataclass(frozen=True)
class SyncConfig:
    """The connection to the city's hub."""

    hub_url: str = field(default="", metadata=spec("hub base URL, https://... ('' = run offline)"))
    key_dir: str = field(default="/var/lib/wibox/keys", metadata=spec("folder of the kiosk's key files (0600)"))
    poll_s: int = field(default=30, metadata=spec("seconds between syncs (each carries a heartbeat)", lo=5, hi=3600))
    max_data_age_h: int = field(
        default=72,
        metadata=spec(
            "hours without a fresh bundle before the stale_data alarm, until a bundle brings the city's limit",
            lo=1,
            hi=2880,
        ),
    )


_TEXT_LINE = r"^[^\x00-\x1f\x7f]{0,120}$"  # one printable line


@dataclass(frozen=True)
class OfficeConfig:
    """Where citizens go when the station cannot hand a document over: shown on the screens that say so."""

    name: str = field(
        default="", metadata=spec("office name, e.g. Bürgerbüro Mitte (empty: not shown)", pattern=_TEXT_LINE)
    )
    address: str = field(default="", metadata=spec("office address, one line", pattern=_TEXT_LINE))
    hours: str = field(default="", metadata=spec("opening hours, one line as the city writes them", pattern=_TEXT_LINE))
    phone: str = field(default="", metadata=spec("phone number", pattern=r"^[0-9 +()/-]{0,30}$"))


@dataclass(frozen=True)
class StationConfig:
    """The whole station configuration."""

    station_id: str = field(metadata=spec("station id", pattern=r"^[a-z0-9][a-z0-9-]{0,62}$"))
    buses: tuple[BusConfig, ...] = field(metadata=spec("lock buses"))
    compartments: tuple[CompartmentConfig, ...] = field(metadata=spec("compartment map"))
    timing: TimingConfig = field(default_factory=TimingConfig, metadata=spec("timing"))
    policy: PolicyConfig = field(default_factory=PolicyConfig, metadata=spec("city policy"))
    throttle: ThrottleConfig = field(default_factory=ThrottleConfig, metadata=spec("throttle"))
    storage: StorageConfig = field(default_factory=StorageConfig, metadata=spec("storage"))
    display: DisplayConfig = field(default_factory=DisplayConfig, metadata=spec("kiosk screen"))
    scanners: ScannersConfig = field(default_factory=ScannersConfig, metadata=spec("code scanners"))
    ui: UiConfig = field(default_factory=UiConfig, metadata=spec("kiosk UI server"))
    sync: SyncConfig = field(default_factory=SyncConfig, metadata=spec("hub connection"))
    office: OfficeConfig = field(default_factory=OfficeConfig, metadata=spec("citizens' office"))

    def compartment(self, number: int) -> CompartmentConfig:
        for c in self.compartments:
            if c.number == number:
                return c
        raise ConfigError(f"compartments: no compartment {number}")

    def is_reachable(self, number: int) -> bool:
        c = self.compartment(number)
        return self.policy.reachable_min_mm <= c.height_mm <= self.policy.reachable_max_mm


class DriverRules(Protocol):
    """What the configuration checks for a bus's driver (``firmware_bridge.registry.DriverSpec`` implements it;
    the core knows no driver by name). ``where`` is the key to name in the error, e.g. ``buses[0]``."""

    def check_bus(self, where: str, bus: BusConfig) -> None: ...

    def check_compartment(self, where: str, c: CompartmentConfig, bus: BusConfig) -> None: ...


def _cross_check(cfg: StationConfig, drivers: Mapping[str, DriverRules]) -> None:
    names = [b.name for b in cfg.buses]
    for i, b in enumerate(cfg.buses):
        if names.count(b.name) > 1:
            raise ConfigError(f"buses[{i}].name: {b.name!r} is used twice")
        rules = drivers.get(b.driver)
        if rules is None:
            raise ConfigError(f"buses[{i}].driver: {b.driver!r} is not one of {', '.join(drivers)}")
        rules.check_bus(f"buses[{i}]", b)
    if not cfg.compartments:
        raise ConfigError("compartments: at least one compartment is required")
    seen_numbers: set[int] = set()
    seen_channels: set[tuple[str, int, int]] = set()
    for i, c in enumerate(cfg.compartments):
        if c.number in seen_numbers:
            raise ConfigError(f"compartments[{i}].number: {c.number} is used twice")
        seen_numbers.add(c.number)
        if c.bus not in names:
            raise ConfigError(f"compartments[{i}].bus: no bus named {c.bus!r}")
        bus = cfg.buses[names.index(c.bus)]
        drivers[bus.driver].check_compartment(f"compartments[{i}]", c, bus)
        chan = (c.bus, c.board, c.lock)
        if chan in seen_channels:
            raise ConfigError(f"compartments[{i}].lock: bus {c.bus} board {c.board} lock {c.lock} is used twice")
        seen_channels.add(chan)
    if cfg.policy.reachable_min_mm > cfg.policy.reachable_max_mm:
        raise ConfigError("policy.reachable_min_mm: must not exceed policy.reachable_max_mm")
    mapped: set[str] = set()
    for i, k in enumerate(cfg.display.keys):
        if k.key in mapped:
            raise ConfigError(f"display.keys[{i}].key: {k.key!r} is mapped twice")
        mapped.add(k.key)
    if cfg.display.idle_warning_s >= cfg.display.idle_timeout_s:
        raise ConfigError("display.idle_warning_s: must be shorter than display.idle_timeout_s")


def parse_config(text: str, drivers: Mapping[str, DriverRules]) -> StationConfig:
    """Parse and validate TOML text against the available ``drivers`` (``firmware_bridge.registry.DRIVERS``);
    raises ConfigError naming the offending key."""
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}") from exc
    cfg: StationConfig = build_section(StationConfig, table, "")
    _cross_check(cfg, drivers)
    return cfg


def load_config(path: str | Path, drivers: Mapping[str, DriverRules]) -> StationConfig:
    """Read and validate a configuration file (see ``parse_config``)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {p}: {exc.strerror}") from exc
    return parse_config(text, drivers)


def describe_keys(cls: type[Any] = StationConfig, prefix: str = "") -> list[tuple[str, str, str]]:
    """Every configuration key as (key, type, description), for `config check --explain` and the docs test."""
    return config_schema.describe_keys(cls, prefix)
