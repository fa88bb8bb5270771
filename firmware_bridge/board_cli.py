"""`wibox board` and `wibox sim board`: talk to lock boards directly while commissioning, or simulate a bus."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any, TextIO

from firmware_bridge.driver import BoardDriver
from firmware_bridge.errors import BridgeError, LockMapError
from firmware_bridge.pulse import pulse_and_confirm
from firmware_bridge.registry import DRIVERS, DriverOptions, make_driver
from locker.config import BusConfig, GpioPinConfig, Polarity
from locker.errors import BadInput, BoardUnavailable

EXIT_OK = 0
EXIT_NO_ANSWER = 2  # also: bad input, errors
EXIT_NOT_OPENED = 3


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    board = sub.add_parser(
        "board",
        help="talk to the lock boards of one bus directly (commissioning): scan, status, open",
        description=(
            "Locks are numbered from 1 on every driver, boards by their bus address. Exit codes: 0 ok, "
            "2 the board did not answer (or bad input), 3 (open) the door did not read open. "
            "For --driver gpio, --port is ignored and --pins is required."
        ),
    )
    board.add_argument("--driver", required=True, choices=DRIVERS)
    board.add_argument("--port", default="", help="serial device or pty path (ignored for gpio)")
    board.add_argument("--baud", type=int, help="default: the driver's usual rate (cu16 19200, others 9600)")
    board.add_argument("--polarity", choices=[p.value for p in Polarity], default=Polarity.OPEN_HIGH.value)
    board.add_argument("--channels", type=int, help="locks per board (xor-8a, modbus-relay)")
    board.add_argument("--pulse-ms", type=int, default=500)
    board.add_argument("--timeout-ms", type=int, default=300)
    board.add_argument("--gap-ms", type=int, default=30)
    board.add_argument("--confirm-s", type=float, default=3.0, help="open: how long to wait for the door")
    board.add_argument("--addresses", metavar="A-B", help="addresses to scan (default per driver)")
    board.add_argument("--pins", metavar="RELAY:DOOR,...", help="gpio: BCM pins of lock 1, 2, ... in order")
    board.add_argument("--relay-active-high", action="store_true", help="gpio: relays switch on with a high output")
    bsub = board.add_subparsers(dest="board_command", metavar="ACTION")
    bsub.required = True
    st = bsub.add_parser("status", help="one JSON line per lock: board, lock, door, item")
    st.add_argument("board", nargs="?", type=int, metavar="BOARD", help="default: every board that answers")
    st.set_defaults(func=cmd_status)
    op = bsub.add_parser("open", help="unlock one lock and confirm it by reading the door")
    op.add_argument("target", metavar="BOARD:LOCK")
    op.set_defaults(func=cmd_open)
    sc = bsub.add_parser("scan", help="one JSON line per board that answers")
    sc.set_defaults(func=cmd_scan)

    sim = sub.add_parser("sim", help="simulators")
    ssub = sim.add_subparsers(dest="sim_command", metavar="WHAT")
    ssub.required = True
    sb = ssub.add_parser(
        "board",
        help="simulate the boards of one bus on a pseudo-terminal; prints its path first, runs until Ctrl-C",
    )
    sb.add_argument("--driver", required=True, choices=DRIVERS)
    sb.add_argument("--boards", type=int, default=1, help="how many boards (addresses from the first one)")
    sb.add_argument("--locks", type=int, help="locks per board (default per driver)")
    sb.add_argument("--polarity", choices=[p.value for p in Polarity], default=Polarity.OPEN_HIGH.value)
    sb.add_argument("--baud", type=int, help="add the wire time of this baud rate to every reply (default: none)")
    sb.add_argument("--spring-s", type=float, default=0.2, help="an unlatched door swings open after this")
    sb.set_defaults(func=cmd_sim_board)


# -- wibox board ---------------------------------------------------------------------------------------------


def _parse_pins(text: str | None) -> tuple[GpioPinConfig, ...]:
    if not text:
        raise BadInput("--pins is required for --driver gpio (e.g. --pins 5:17,6:27)")
    out = []
    for n, part in enumerate(text.split(","), start=1):
        try:
            relay, door = (int(x) for x in part.split(":"))
        except ValueError as exc:
            raise BadInput(f"--pins: {part!r} is not RELAY:DOOR") from exc
        if not (0 <= relay <= 27 and 0 <= door <= 27):
            raise BadInput(f"--pins: {part!r}: BCM pins are 0..27")
        out.append(GpioPinConfig(lock=n, relay=relay, door=door))
    return tuple(out)


def _addresses(args: argparse.Namespace) -> range:
    if not args.addresses:
        return DRIVERS[args.driver].scan
    try:
        lo, _, hi = args.addresses.partition("-")
        return range(int(lo), int(hi or lo) + 1)
    except ValueError as exc:
        raise BadInput(f"--addresses: {args.addresses!r} is not A-B") from exc


def bus_from_args(args: argparse.Namespace) -> BusConfig:
    d = DRIVERS[args.driver]
    if d.serial and not args.port:
        raise BadInput(f"--port is required for --driver {args.driver}")
    gpio = not d.serial
    return BusConfig(
        name="cli",
        driver=args.driver,
        port="" if gpio else args.port,
        baud=args.baud or d.baud,
        polarity=Polarity(args.polarity),
        pulse_ms=args.pulse_ms,
        gap_ms=args.gap_ms,
        timeout_ms=args.timeout_ms,
        channels=args.channels or max(d.default_locks, 1),
        relay_active_high=args.relay_active_high if gpio else False,
        pins=_parse_pins(args.pins) if gpio else (),
    )


@contextlib.contextmanager
def _driver(args: argparse.Namespace) -> Iterator[BoardDriver]:
    bus = bus_from_args(args)
    try:
        driver = make_driver(bus, DriverOptions())
    except ValueError as exc:
        raise BadInput(str(exc)) from exc
    try:
        yield driver
    finally:
        driver.close()


def _emit(out: TextIO, obj: dict[str, Any]) -> None:
    out.write(json.dumps(obj) + "\n")
    out.flush()


def cmd_status(args: argparse.Namespace) -> int:
    with _driver(args) as driver:
        boards = [args.board] if args.board is not None else driver.scan(_addresses(args))
        if not boards:
            print("wibox: error: no board answered", file=sys.stderr)
            return EXIT_NO_ANSWER
        for b in boards:
            st = driver.status(b)
            for lock, door in sorted(st.doors.items()):
                _emit(sys.stdout, {"board": b, "lock": lock, "door": door.value, "item": st.items.get(lock)})
    return EXIT_OK


def _target(text: str) -> tuple[int, int]:
    try:
        b, _, lk = text.partition(":")
        return int(b), int(lk)
    except ValueError as exc:
        raise BadInput(f"{text!r} is not BOARD:LOCK (e.g. 0:1)") from exc


def cmd_open(args: argparse.Namespace) -> int:
    board, lock = _target(args.target)
    with _driver(args) as driver:
        try:
            res = pulse_and_confirm(driver, board, lock, args.confirm_s)
        except LockMapError as exc:
            raise BadInput(str(exc)) from exc
        except BoardUnavailable as exc:
            print(f"wibox: error: board {board} did not answer: {exc}", file=sys.stderr)
            return EXIT_NO_ANSWER
        opened = res.opened
        _emit(sys.stdout, {"board": board, "lock": lock, "opened": opened, "ms": round(res.ms)})
    return EXIT_OK if opened else EXIT_NOT_OPENED


def cmd_scan(args: argparse.Namespace) -> int:
    with _driver(args) as driver:
        found = driver.scan(_addresses(args))
        for b in found:
            _emit(sys.stdout, {"board": b})
    if not found:
        print("wibox: error: no board answered", file=sys.stderr)
        return EXIT_NO_ANSWER
    return EXIT_OK


# -- wibox sim board -----------------------------------------------------------------------------------------


def cmd_sim_board(args: argparse.Namespace) -> int:
    from firmware_bridge.sim.registry import make_simulator
    from firmware_bridge.sim.wall import Wall

    d = DRIVERS[args.driver]
    if not d.serial:
        raise BadInput("gpio has no serial port to simulate; tests use gpiozero's MockFactory (GpioWallSim)")
    locks = args.locks or d.default_locks
    if not 1 <= args.boards <= len(d.scan):
        raise BadInput(f"--boards must be 1..{len(d.scan)} for {args.driver}")
    fixed = d.fixed_locks or 48
    if not 1 <= locks <= fixed:
        raise BadInput(f"--locks must be 1..{fixed} for {args.driver}")
    polarity = Polarity(args.polarity)
    addresses = tuple(d.scan)[: args.boards]
    wall = Wall(spring_delay_s=args.spring_s)
    bus = BusConfig(name="sim", driver=args.driver, port="sim", baud=args.baud or d.baud, polarity=polarity)
    for a in addresses:
        wall.add_board("sim", a, locks, item_sensors=d.item_sensors)
    sim = make_simulator(wall, bus, channels=locks, wire_timing=args.baud is not None, boards=addresses)
    port = sim.start()
    stop = threading.Event()

    def on_signal(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        print(port, flush=True)
        print(
            json.dumps({"driver": args.driver, "port": port, "boards": addresses, "locks": locks}),
            file=sys.stderr,
            flush=True,
        )
        while not stop.wait(0.2):
            error = getattr(sim, "error", None)
            if error is not None:
                raise BridgeError(f"simulator stopped: {error!r}") from error
    finally:
        signal.signal(signal.SIGTERM, previous)
        sim.stop()
    return EXIT_OK
