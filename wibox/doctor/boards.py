"""Lock boards: every board the compartment map uses answers, and its door (and item) sensors read."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from firmware_bridge.driver import BoardDriver, BoardStatus
from firmware_bridge.errors import FrameError
from firmware_bridge.registry import DRIVERS, DriverOptions
from locker.config import BusConfig, StationConfig
from locker.errors import BoardUnavailable, HardwareError, StoreError
from locker.model import DoorState
from wibox.doctor.report import Result, failed, passed, skipped

MakeDriver = Callable[[BusConfig, DriverOptions], BoardDriver]


def boards_of(config: StationConfig, bus: BusConfig) -> dict[int, list[int]]:
    """Board address -> the locks the compartment map uses on it."""
    out: dict[int, list[int]] = {}
    for c in config.compartments:
        if c.bus == bus.name:
            out.setdefault(c.board, []).append(c.lock)
    return dict(sorted(out.items()))


def _where(bus: BusConfig) -> str:
    return "the GPIO header" if not DRIVERS[bus.driver].serial else f"{bus.port} at {bus.baud} baud"


def _scan_hint(bus: BusConfig) -> str:
    if not DRIVERS[bus.driver].serial:
        return "check the relay HAT and reed-switch wiring on the configured BCM pins"
    return (
        f"check power, the A/B wiring, the address switches and the baud rate; "
        f"`wibox board --driver {bus.driver} --port {bus.port} --baud {bus.baud} scan` lists the boards that answer"
    )


def describe(st: BoardStatus) -> str:
    """What one status read returned: locks, doors read (open), item sensors read (occupied)."""
    read = [d for d in st.doors.values() if d is not DoorState.UNKNOWN]
    opened = sum(1 for d in read if d is DoorState.OPEN)
    text = f"answers, {len(st.doors)} locks, {len(read)} doors read ({opened} open)"
    items = [v for v in st.items.values() if v is not None]
    if items:
        text += f", {len(items)} item sensors read ({sum(items)} occupied)"
    return text


@dataclass(frozen=True)
class Access:
    """How the boards are reached: the daemon's driver factory and options, or its view while it runs."""

    options: DriverOptions
    make: MakeDriver
    daemon_running: bool
    offline: Callable[[], dict[str, float] | None] = dict  # the daemon's open board_offline alarms (None: no db)


def check_bus(config: StationConfig, bus: BusConfig, access: Access) -> list[Result]:
    """One line per board of ``bus`` the compartment map uses, read with the daemon's own driver and settings.

    While the daemon runs it owns the port: then its open board_offline alarms are what is reported."""
    boards = boards_of(config, bus)
    subjects = {b: f"board {bus.name}/{b} ({bus.driver})" for b in boards}
    if access.daemon_running:
        return [_daemons_view(bus, b, subjects[b], access.offline) for b in boards]
    if DRIVERS[bus.driver].serial and "://" not in bus.port and not Path(bus.port).exists():
        return [
            failed(f"bus {bus.name} ({bus.driver})", f"not read: {bus.port} does not exist", "see its `device` line")
        ]
    opts = dataclasses.replace(access.options, boards=tuple(boards))
    try:
        driver = access.make(bus, opts)
    except (HardwareError, ValueError) as exc:
        hint = "see this port's `device` line; is another program using it? (`fuser -v PORT`)"
        if not DRIVERS[bus.driver].serial:
            hint = "run doctor on the station's Raspberry Pi; see the `gpio pin factory` line"
        return [failed(f"bus {bus.name} ({bus.driver})", f"cannot be opened: {exc}", hint)]
    try:
        return [_board(driver, bus, b, used, subjects[b]) for b, used in boards.items()]
    finally:
        driver.close()


def _daemons_view(bus: BusConfig, board: int, subject: str, offline: Callable[[], dict[str, float] | None]) -> Result:
    owned = "the running daemon owns this bus (`systemctl stop wibox` to read the board here)"
    try:
        alarms = offline()
    except StoreError as exc:
        return skipped(subject, f"not checked: {owned}; its database: {exc}")
    if alarms is None:
        return skipped(subject, f"not checked: {owned}")
    since = alarms.get(f"{bus.name}/{board}")
    if since is None:
        return passed(subject, f"answers the daemon (no board_offline alarm); not read here: {owned}")
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(since))
    return failed(subject, f"offline for the daemon since {when} (board_offline alarm)", _scan_hint(bus))


def _board(driver: BoardDriver, bus: BusConfig, board: int, used: list[int], subject: str) -> Result:
    try:
        st = driver.status(board)
    except BoardUnavailable:
        return failed(subject, f"does not answer on {_where(bus)}", _scan_hint(bus))
    except FrameError as exc:
        return failed(subject, f"answers with bytes that are not a {bus.driver} reply: {exc}", _scan_hint(bus))
    except HardwareError as exc:
        return failed(subject, f"cannot be read: {exc}", _scan_hint(bus))
    missing = sorted(set(used) - set(st.doors))
    if missing:
        return failed(
            subject,
            f"reports locks 1..{len(st.doors)} only, the compartment map uses lock(s) {missing}",
            "fix the compartment map or the bus's `channels`",
        )
    return passed(subject, describe(st))
