"""The `wibox` command line: parses arguments and hands each subcommand to the package that owns it."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from locker import __version__
from locker.errors import LockerError

Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _registrars() -> list[Registrar]:
    # The composition root: each package contributes its own subcommands; running the station is this package's.
    from backend_sync import witness
    from backend_sync.hub import cli as hub_cli
    from firmware_bridge import board_cli
    from firmware_bridge.registry import DRIVERS
    from firmware_bridge.scanners import cli as scanner_cli
    from locker import cli_core
    from wibox.doctor import cli as doctor

    core = functools.partial(cli_core.register, drivers=DRIVERS, witness=lambda db: witness.check(db).as_dict())
    return [core, _register, doctor.register, scanner_cli.register, board_cli.register, hub_cli.register]


def _run(args: argparse.Namespace) -> int:
    from wibox import build  # wires drivers, scanners and the UI: imported only when asked for

    return build.main(args.config)


def _demo(args: argparse.Namespace) -> int:
    from wibox import demo  # the demo wires simulators and the hub: imported only when asked for

    codes_file = Path(args.codes_file) if args.codes_file else None
    return demo.main(Path(args.data), args.scenario, codes_file, args.kiosk_port, args.hub_port, boards=args.boards)


def _register(sub: Any) -> None:
    run = sub.add_parser("run", help="run the station daemon (what systemd starts)")
    run.add_argument("--config", required=True, help="station TOML file, e.g. /etc/wibox/station.toml")
    run.set_defaults(func=_run)

    dm = sub.add_parser("demo", help="run hub, kiosk and simulated lock boards on this machine (no hardware needed)")
    dm.add_argument("--data", default="data/demo", help="folder for the demo's hub and kiosk data (recreated each run)")
    dm.add_argument("--scenario", action="store_true", help="run the whole life cycle headless and check it")
    dm.add_argument("--codes-file", help="also write the stored demo orders and their codes as JSON to this file")
    dm.add_argument("--kiosk-port", type=int, default=8080, help="port of the kiosk UI on 127.0.0.1 (default 8080)")
    dm.add_argument("--hub-port", type=int, default=8090, help="port of the hub on 127.0.0.1 (default 8090)")
    dm.add_argument(
        "--boards",
        choices=("serial", "modbus", "gpio", "mixed"),
        default="serial",
        help="the simulated wall: serial (Kerong CU16 + 8A/80, default), modbus (two Modbus relay boards), "
        "gpio (12 locks on the Pi header), mixed (a Modbus relay board and the Pi header)",
    )
    dm.set_defaults(func=_demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wibox", description="WI-Box pickup station controller")
    parser.add_argument("--version", action="version", version=f"wibox {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for register in _registrars():
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except LockerError as exc:
        print(f"wibox: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
