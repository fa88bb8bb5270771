"""`wibox decode` and `wibox scan`: decode image files, and watch live scans while commissioning a station."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from firmware_bridge.scanners.defaults import DEFAULT_CHAIN, KEYMAP_NAMES
from firmware_bridge.scanners.errors import ImageReadError, ScannerConfigError
from locker.clock import SystemClock
from locker.ports import HeadsetChange, Scan, ScanEvent

# OpenCV and the decoders load only when a scanner command runs, so `wibox --help` stays fast.
if TYPE_CHECKING:
    import numpy as np

    from firmware_bridge.scanners.camera import CameraScanner
    from firmware_bridge.scanners.chain import DecoderChain
    from firmware_bridge.scanners.decoders import DecodeResult
    from firmware_bridge.scanners.device_loop import DeviceReader

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    decode = sub.add_parser(
        "decode",
        help="decode QR codes in image files (one JSON line per file)",
        description='Prints {"file", "text", "decoder", "ms"} per file; exit 2 if a file cannot be read.',
    )
    decode.add_argument("files", nargs="+", metavar="FILE", help="image files (PNG, JPEG, ...)")
    decode.add_argument("--chain", default=",".join(DEFAULT_CHAIN), help="decoder chain, e.g. zxing,pyzbar")
    decode.set_defaults(func=cmd_decode)

    scan = sub.add_parser(
        "scan",
        help="print live scans and scanner status as JSON lines until Ctrl-C (commissioning)",
        description="Without a source option the first camera (index 0) is used.",
    )
    scan.add_argument("--camera", metavar="N|PATH", help="camera index, device path or video file")
    scan.add_argument("--width", type=int, default=1280)
    scan.add_argument("--height", type=int, default=720)
    scan.add_argument("--fps", type=float, default=15.0)
    scan.add_argument("--chain", default=",".join(DEFAULT_CHAIN), help="decoder chain, e.g. zxing,pyzbar")
    scan.add_argument("--wedge", metavar="EVENT_DEVICE", help="keyboard-wedge scanner, /dev/input/by-id/...")
    scan.add_argument("--keymap", default="us", choices=KEYMAP_NAMES, help="keyboard layout of the wedge")
    scan.add_argument("--serial", metavar="PORT", help="serial or USB-CDC scanner port")
    scan.add_argument("--baud", type=int, default=9600)
    scan.add_argument("--seconds", type=float, default=None, help="stop after this many seconds")
    scan.set_defaults(func=cmd_scan)


def _chain(spec: str) -> DecoderChain:
    from firmware_bridge.scanners.chain import DecoderChain

    return DecoderChain.from_spec([part.strip() for part in spec.split(",") if part.strip()])


def read_image(path: Path) -> np.ndarray:
    """Load an image file in colour; ImageReadError with the reason when it is missing or not an image."""
    import cv2
    import numpy as np

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageReadError(f"cannot read {path}: {exc.strerror or exc}") from exc
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ImageReadError(f"{path} is not an image OpenCV can read")
    return np.asarray(image)


def cmd_decode(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        chain = _chain(args.chain)
    except ScannerConfigError as exc:
        print(f"wibox decode: {exc}", file=err)
        return EXIT_BAD_INPUT
    rc = EXIT_OK
    for name in args.files:
        try:
            image = read_image(Path(name))
        except ImageReadError as exc:
            print(f"wibox decode: {exc}", file=err)
            rc = EXIT_BAD_INPUT
            continue
        started = time.perf_counter()
        result = chain.decode(image)
        ms = (time.perf_counter() - started) * 1000
        line = {
            "file": name,
            "text": result.text if result else None,
            "decoder": _decoder_label(result),
            "ms": round(ms, 1),
        }
        print(json.dumps(line), file=out, flush=True)
    return rc


def _decoder_label(result: DecodeResult | None) -> str | None:
    if result is None:
        return None
    return result.decoder if result.variant == "plain" else f"{result.decoder}:{result.variant}"


def _event_line(event: ScanEvent, decoded_by: dict[str, str]) -> dict[str, Any]:
    if isinstance(event, HeadsetChange):  # `wibox scan` starts no headset watch; typed for completeness
        return {"headset": "plugged" if event.plugged else "pulled", "at": round(event.at, 3)}
    if isinstance(event, Scan):
        line: dict[str, Any] = {"source": event.source.value, "text": event.text, "at": round(event.at, 3)}
        if event.text in decoded_by:
            line["decoder"] = decoded_by[event.text]
        return line
    return {
        "status": event.state.value,
        "scanner": event.name,
        "source": event.source.value,
        "reason": event.reason,
        "at": round(event.at, 3),
    }


def cmd_scan(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    from firmware_bridge.scanners.camera import CameraScanner, CameraSettings, parse_device
    from firmware_bridge.scanners.hub import ScanHub
    from firmware_bridge.scanners.keymaps import keymap_named
    from firmware_bridge.scanners.serial_scanner import SerialScanner

    clock = SystemClock()
    hub = ScanHub()
    decoded_by: dict[str, str] = {}
    lock = threading.Lock()

    def remember(result: DecodeResult, ms: float) -> None:
        with lock:
            decoded_by[result.text] = f"{_decoder_label(result)} {ms:.1f} ms"

    cameras: list[CameraScanner] = []
    devices: list[DeviceReader[Any]] = []
    try:
        if args.camera is not None or not (args.wedge or args.serial):
            settings = CameraSettings(
                device=parse_device(args.camera or "0"), width=args.width, height=args.height, fps=args.fps
            )
            cameras.append(CameraScanner(settings, _chain(args.chain), hub, clock, on_decode=remember))
        if args.wedge:
            from firmware_bridge.scanners.wedge import WedgeScanner  # reads a Linux input event device

            devices.append(WedgeScanner(args.wedge, hub, clock, keymap=keymap_named(args.keymap)))
        if args.serial:
            devices.append(SerialScanner(args.serial, hub, clock, baudrate=args.baud))
    except ScannerConfigError as exc:
        print(f"wibox scan: {exc}", file=err)
        return EXIT_BAD_INPUT
    running: list[CameraScanner | DeviceReader[Any]] = [*cameras, *devices]
    for scanner in running:
        scanner.start()
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    try:
        while deadline is None or time.monotonic() < deadline:
            event = hub.get(timeout=0.2)
            if event is not None:
                with lock:
                    line = _event_line(event, decoded_by)
                print(json.dumps(line), file=out, flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        for scanner in running:
            scanner.stop()
    return EXIT_OK
