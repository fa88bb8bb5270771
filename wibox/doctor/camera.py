"""The camera (frames arriving for a few seconds) and the decoder chain's speed on this CPU."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import cv2
import numpy as np
import qrcode  # type: ignore[import-untyped]

from firmware_bridge.scanners.camera import CameraSettings, VideoSource
from firmware_bridge.scanners.chain import DecoderChain
from firmware_bridge.scanners.errors import ScannerConfigError
from wibox.doctor.report import Result, failed, passed, skipped, warned

WIDTH, HEIGHT = 640, 480
PAYLOAD = "WIBOX-DOCTOR-0001"
ROUNDS = 3
Open = Callable[[CameraSettings], VideoSource]


def qr_frame(payload: str = PAYLOAD) -> np.ndarray:
    """A 640x480 grayscale frame with one QR code of ``payload`` in its middle (modules of 6 px)."""
    matrix = np.array(_matrix(payload), dtype=bool)
    code = np.where(np.kron(matrix, np.ones((6, 6), dtype=bool)), 0, 255).astype(np.uint8)
    frame = np.full((HEIGHT, WIDTH), 255, dtype=np.uint8)
    h, w = code.shape
    top, left = (HEIGHT - h) // 2, (WIDTH - w) // 2
    frame[top : top + h, left : left + w] = code
    return frame


def _matrix(payload: str) -> list[list[bool]]:
    qr = qrcode.QRCode(border=4)
    qr.add_data(payload)
    qr.make(fit=True)
    return qr.get_matrix()  # type: ignore[no-any-return]


def empty_frame() -> np.ndarray:
    """A 640x480 frame with no code: mid-grey with a little fixed noise (every step of the chain runs)."""
    noise = np.random.default_rng(0).integers(-12, 12, size=(HEIGHT, WIDTH))
    return (128 + noise).astype(np.uint8)


def _ms(chain: DecoderChain, frame: np.ndarray) -> tuple[float, str | None]:
    times, text = [], None
    chain.decode(frame)  # warm-up: first calls load tables
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        result = chain.decode(frame)
        times.append((time.perf_counter() - t0) * 1000)
        text = result.text if result is not None else None
    return statistics.median(times), text


def check_decoder(chain_spec: str, fps: int, camera_enabled: bool) -> Result:
    subject = f"decoder chain {chain_spec}"
    if not camera_enabled:
        return skipped(subject, "not timed: no camera configured")
    try:
        chain = DecoderChain.from_spec(chain_spec.split(","))
    except ScannerConfigError as exc:
        return failed(subject, f"cannot be built: {exc}", "fix scanners.chain (or install libzbar0 for pyzbar)")
    empty_ms, _ = _ms(chain, empty_frame())
    qr_ms, text = _ms(chain, qr_frame())
    if text != PAYLOAD:
        return failed(subject, f"did not decode a generated QR code (got {text!r})", "fix scanners.chain")
    budget = 1000 / fps
    text_ms = f"{empty_ms:.0f} ms per empty {WIDTH}x{HEIGHT} frame, {qr_ms:.1f} ms per QR frame"
    if empty_ms > budget:
        most = 1000 / empty_ms
        return warned(
            subject,
            f"{text_ms}: at most {most:.1f} fps on this CPU, the camera delivers {fps} (frames are skipped)",
            "shorten scanners.chain or lower the camera's fps/resolution",
        )
    return passed(subject, f"{text_ms}: fits {fps} fps ({budget:.0f} ms per frame)")


def check_camera(settings: CameraSettings | None, open_capture: Open, seconds: float, daemon_running: bool) -> Result:
    if settings is None:
        return skipped("camera", "not checked: no camera configured (scanners.camera.enabled = false)")
    subject = f"camera {settings.device}"
    if daemon_running:
        return skipped(subject, "not checked: the running daemon owns the camera (`systemctl stop wibox` first)")
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # the result line says it; no backend chatter
    cap = open_capture(settings)
    try:
        if not cap.isOpened():
            return failed(subject, "cannot be opened", "plug the camera in; `ls -l /dev/video*`; user in group video")
        frames, shape, t0 = 0, (0, 0), time.monotonic()
        while time.monotonic() - t0 < seconds:
            ok, image = cap.read()
            if not ok or not isinstance(image, np.ndarray) or image.size == 0:
                if frames:
                    break  # a video file ended
                continue
            frames, shape = frames + 1, image.shape[:2]
        elapsed = time.monotonic() - t0
    finally:
        cap.release()
    if not frames:
        return failed(subject, f"opened, but no frame arrived in {elapsed:.1f} s", "reconnect it; try another port")
    rate = frames / max(elapsed, 1e-6)
    text = f"{frames} frames in {elapsed:.1f} s ({rate:.1f} fps, {shape[1]}x{shape[0]})"
    if not settings.is_device:
        return passed(subject, f"{text}, a video file (read as fast as the disk allows)")
    if (shape[1], shape[0]) != (settings.width, settings.height):
        return warned(subject, f"{text}, not the configured {settings.width}x{settings.height}", "pick a size it has")
    if rate < settings.fps / 2:
        return warned(subject, f"{text}, configured {settings.fps:g} fps", "more light, or lower the resolution")
    return passed(subject, text)
