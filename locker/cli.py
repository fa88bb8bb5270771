"""The `wibox` command line: parses arguments and hands each subcommand to the module that owns it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from locker import __version__
from locker.errors import LockerError

Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _registrars() -> list[Registrar]:
    # The composition root: each package contributes its own subcommands.
    from backend_sync.hub import cli as hub_cli
    from firmware_bridge import board_cli
    from firmware_bridge.scanners import cli as scanner_cli
    from locker import cli_core

    return [cli_core.register, scanner_cli.register, board_cli.register, hub_cli.register]


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
