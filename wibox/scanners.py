"""The code scanners a station's configuration names (camera, keyboard-wedge, serial), feeding one scan stream."""

from __future__ import annotations

from typing import Any

from locker.clock import SystemClock
from locker.config import StationConfig
from locker.daemon import Service


def scanners(config: StationConfig, sink: Any, clock: SystemClock) -> list[Service]:
    """The scanners the configuration names, feeding one scan stream (``sink``: the scan hub)."""
    from firmware_bridge.scanners.camera import CameraScanner, CameraSettings, parse_device
    from firmware_bridge.scanners.chain import DecoderChain

    sc = config.scanners
    out: list[Service] = []
    if sc.camera.enabled:
        settings = CameraSettings(
            device=parse_device(sc.camera.device),
            width=sc.camera.width,
            height=sc.camera.height,
            fps=float(sc.camera.fps),
            dedup_s=sc.camera.dedup_s,
        )
        out.append(CameraScanner(settings, DecoderChain.from_spec(sc.chain.split(",")), sink, clock))
    if sc.wedge_device:
        from firmware_bridge.scanners.keymaps import KEYMAPS
        from firmware_bridge.scanners.wedge import WedgeScanner

        out.append(WedgeScanner(sc.wedge_device, sink, clock, keymap=KEYMAPS[sc.wedge_keymap]))
    if sc.serial_port:
        from firmware_bridge.scanners.serial_scanner import SerialScanner

        out.append(SerialScanner(sc.serial_port, sink, clock, baudrate=sc.serial_baud))
    return out
