"""`wibox doctor`: the checks composed from the station's configuration, run in order, printed with an exit code."""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware_bridge.registry import DRIVERS, DriverOptions, make_driver
from firmware_bridge.scanners.camera import open_capture
from locker.config import StationConfig
from wibox.doctor import boards, camera, clock, disk, gpio, hub, ports, report, services, station_db, web
from wibox.doctor.report import Check
from wibox.scanners import camera_settings


@dataclass(frozen=True)
class Host:
    """What the checks reach on this machine; the defaults are the real things (tests pass simulators' options)."""

    get: hub.Get = web.get
    run: clock.Runner = clock.run_quietly
    driver_options: DriverOptions = field(default_factory=DriverOptions)
    make_driver: boards.MakeDriver = make_driver
    open_capture: camera.Open = open_capture
    systemd_dir: Path = services.SYSTEMD_RUNNING
    model_file: Path = Path("/proc/device-tree/model")
    camera_s: float = 2.0


def device_checks(config: StationConfig) -> list[Check]:
    """Every serial port and scanner device the configuration names."""
    named = [(f"bus {b.name}", b.port) for b in config.buses if DRIVERS[b.driver].serial]
    sc = config.scanners
    named += [("serial scanner", sc.serial_port)] if sc.serial_port else []
    named += [("wedge scanner", sc.wedge_device)] if sc.wedge_device else []
    return [Check(f"device {p}", functools.partial(ports.check_port, what, p)) for what, p in named]


def checks(config: StationConfig, host: Host, daemon: services.DaemonView) -> list[Check]:
    """The whole list, in the order a technician reads it: daemon, wiring, boards, scanners, host, hub, services."""
    cam = config.scanners.camera
    database = Path(config.storage.database)
    data_dir = database.parent
    access = boards.Access(
        host.driver_options, host.make_driver, daemon.running, lambda: station_db.offline_boards(database)
    )
    uses_gpio = any(not DRIVERS[b.driver].serial for b in config.buses)
    return [
        Check("daemon", lambda: services.check_daemon(daemon)),
        Check("kiosk screen", lambda: services.check_screen(daemon)),
        *device_checks(config),
        *(Check(f"bus {b.name}", functools.partial(boards.check_bus, config, b, access)) for b in config.buses),
        Check(
            "camera",
            lambda: camera.check_camera(
                camera_settings(cam) if cam.enabled else None, host.open_capture, host.camera_s, daemon.running
            ),
        ),
        Check("decoder", lambda: camera.check_decoder(config.scanners.chain, cam.fps, cam.enabled)),
        Check("gpio", lambda: gpio.check_gpio(host.model_file, uses_gpio)),
        Check("disk", lambda: disk.check_free(data_dir)),
        Check("write speed", lambda: disk.check_write_speed(data_dir)),
        Check("clock", lambda: clock.check_ntp(host.run)),
        Check("hub", lambda: hub.check_hub(config.sync, host.get)),
        Check("enrollment", lambda: hub.check_enrollment(config.sync, database)),
        Check("systemd", lambda: services.check_units(host.run, host.systemd_dir)),
    ]


def doctor(config: StationConfig, host: Host, *, as_json: bool = False, out: Any = None) -> int:
    stream = out or sys.stdout
    daemon = services.find_daemon(config.ui.port, host.get, host.run)
    todo = checks(config, host, daemon)
    return report.print_json(todo, stream) if as_json else report.print_text(todo, stream)
