"""`wibox doctor`'s arguments; the checks (OpenCV, the drivers) load only when it runs, so `wibox --help` stays fast."""

from __future__ import annotations

import argparse
from typing import Any

DEFAULT_CONFIG = "/etc/wibox/station.toml"


def _main(args: argparse.Namespace) -> int:
    from firmware_bridge.registry import DRIVERS
    from locker.config import load_config
    from wibox.doctor.compose import Host, doctor

    config = load_config(args.config, DRIVERS)
    return doctor(config, Host(camera_s=args.camera_s), as_json=args.json)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "doctor",
        help="check this station on site: ports, boards, sensors, camera, decoder, disk, clock, hub, services",
        description=(
            "One PASS/WARN/FAIL/SKIP line per check, then a summary. Exit codes: 0 nothing failed (warnings do not "
            "fail), 1 a check failed, 2 the configuration cannot be read. While the daemon runs it owns the boards "
            "and the camera: doctor then reports the daemon's board_offline alarms instead of reading the boards "
            "(stop it with `systemctl stop wibox` to read them here). It pulses no lock and changes no file."
        ),
    )
    p.add_argument("--config", default=DEFAULT_CONFIG, help=f"station TOML file (default {DEFAULT_CONFIG})")
    p.add_argument("--json", action="store_true", help="one JSON object instead of the lines")
    p.add_argument("--camera-s", type=float, default=2.0, help="how long to count camera frames (default 2)")
    p.set_defaults(func=_main)
