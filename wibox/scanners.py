"""The code scanners a station's configuration names (camera, keyboard-wedge, serial) and its headset jack, feeding one
scan stream."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from locker.clock import SystemClock
from locker.config import CameraConfig, StationConfig
from locker.daemon import Service

if TYPE_CHECKING:
    from firmware_bridge.scanners.camera import CameraSettings


def camera_settings(camera: CameraConfig) -> CameraSettings:
    """The camera scanner's settings from ``scanners.camera`` (what `wibox run` and `wibox doctor` open)."""
    from firmware_bridge.scanners.camera import CameraSettings, parse_device

    return CameraSettings(
        device=parse_device(camera.device),
        width=camera.width,
        height=camera.height,
        fps=float(camera.fps),
        idle_fps=float(camera.idle_fps),
        active_hold_s=camera.active_hold_s,
        probe_every=camera.probe_every,
        dedup_s=camera.dedup_s,
    )


def scanners(config: StationConfig, sink: Any, clock: SystemClock) -> list[Service]:
    """The scanners the configuration names and the headset jack's switch, feeding one stream (``sink``: the scan
    hub)."""
    from firmware_bridge.scanners.camera import CameraScanner
    from firmware_bridge.scanners.chain import DecoderChain

    sc = config.scanners
    out: list[Service] = []
    if sc.camera.enabled:
        chain = DecoderChain.from_spec(sc.chain.split(","))
        out.append(CameraScanner(camera_settings(sc.camera), chain, sink, clock))
    if sc.wedge_device:
        from firmware_bridge.scanners.keymaps import KEYMAPS
        from firmware_bridge.scanners.wedge import WedgeScanner

        out.append(WedgeScanner(sc.wedge_device, sink, clock, keymap=KEYMAPS[sc.wedge_keymap]))
    if sc.serial_port:
        from firmware_bridge.scanners.serial_scanner import SerialScanner

        out.append(SerialScanner(sc.serial_port, sink, clock, baudrate=sc.serial_baud))
    if config.display.headset_device:
        from firmware_bridge.headset import HeadsetWatch

        out.append(HeadsetWatch(config.display.headset_device, sink, clock))
    return out
