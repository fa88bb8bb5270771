"""The camera scanner: a capture thread hands the latest frame to a decoder thread; failures are reported."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import cv2
import numpy as np

from firmware_bridge.scanners.backoff import Backoff
from firmware_bridge.scanners.chain import DecoderChain
from firmware_bridge.scanners.decoders import DecodeResult
from firmware_bridge.scanners.dedup import Deduplicator
from firmware_bridge.scanners.errors import ScannerConfigError
from firmware_bridge.scanners.frameslot import LatestSlot
from firmware_bridge.scanners.gate import FallbackGate
from firmware_bridge.scanners.hub import ScannerState, ScanSink, StatusChange
from firmware_bridge.scanners.live import LiveDecoder
from firmware_bridge.scanners.motion import MotionDetector
from firmware_bridge.scanners.rate import RatePolicy
from locker.ports import Clock, Scan, ScanSource

log = logging.getLogger(__name__)


class VideoSource(Protocol):
    """The part of ``cv2.VideoCapture`` the camera loop uses (a fake can stand in for it)."""

    def isOpened(self) -> bool: ...  # noqa: N802 - OpenCV's name

    def read(self) -> tuple[bool, Any]: ...

    def set(self, prop_id: int, value: float) -> bool: ...

    def release(self) -> None: ...


CaptureFactory = Callable[["CameraSettings"], VideoSource]
DecodeObserver = Callable[[DecodeResult, float], None]


@dataclass(frozen=True)
class CameraSettings:
    """Which camera to open and how; ``device`` is an index (0), a device path or a video file / URL."""

    device: int | str = 0
    width: int = 1280
    height: int = 720
    fps: float = 15.0  # the full rate, while something moves in view or part of a code is seen
    idle_fps: float = 5.0  # the rate once nothing moved and no unread code was seen for active_hold_s
    active_hold_s: float = 2.0
    probe_every: int = 15  # while active, the chain's fallbacks run on one frame in this many (and on candidates)
    fourcc: str = "MJPG"  # asked of camera devices only; empty: the driver's default
    dedup_s: float = 3.0  # the same payload is reported once while seen within this many seconds
    max_read_failures: int = 3  # consecutive failed reads before the camera counts as FAILED
    reopen_initial_s: float = 0.5
    reopen_max_s: float = 10.0
    name: str = "camera"

    def __post_init__(self) -> None:
        checks = {
            "width": 16 <= self.width <= 8192,
            "height": 16 <= self.height <= 8192,
            "fps": 0.5 <= self.fps <= 240,
            "idle_fps": 0.5 <= self.idle_fps <= 240,
            "active_hold_s": 0 <= self.active_hold_s <= 3600,
            "probe_every": 1 <= self.probe_every <= 1000,
            "dedup_s": 0 <= self.dedup_s <= 3600,
            "max_read_failures": 1 <= self.max_read_failures <= 1000,
            "reopen_initial_s": 0 < self.reopen_initial_s <= self.reopen_max_s <= 3600,
            "fourcc": len(self.fourcc) in (0, 4),
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ScannerConfigError(f"camera setting out of range: {', '.join(bad)}")

    @property
    def is_device(self) -> bool:
        """True for a camera (index or /dev path), False for a video file or stream URL."""
        return isinstance(self.device, int) or self.device.startswith("/dev/")


def parse_device(text: str) -> int | str:
    """``"0"`` → camera index 0; anything else is a path or URL."""
    return int(text) if text.isdigit() else text


def open_capture(settings: CameraSettings) -> VideoSource:
    """Open ``settings.device`` with OpenCV and ask a camera for the configured size and rate."""
    cap = cv2.VideoCapture(settings.device)
    if cap.isOpened() and settings.is_device:
        if settings.fourcc:
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*settings.fourcc))
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, settings.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, settings.height)
        cap.set(cv2.CAP_PROP_FPS, settings.fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a stale one from the driver's queue
    return cap


def live_decoder(chain: DecoderChain, settings: CameraSettings, monotonic: Callable[[], float]) -> LiveDecoder:
    """The per-frame decoding a camera with ``settings`` runs: its rate policy, fallback gate and motion test."""
    policy = RatePolicy(settings.fps, settings.idle_fps, settings.active_hold_s, monotonic)
    return LiveDecoder(chain, policy, FallbackGate(settings.probe_every), MotionDetector())


@dataclass(frozen=True)
class Frame:
    image: np.ndarray
    at: float  # clock time of capture


@dataclass
class CameraStats:
    """Counters for health and metrics."""

    frames_captured: int = 0
    frames_decoded: int = 0
    frames_dropped: int = 0  # replaced in the slot while the decoder was busy
    read_failures: int = 0
    open_failures: int = 0
    reopens: int = 0
    scans_reported: int = 0
    duplicates_suppressed: int = 0
    loop_errors: int = 0
    last_decode_ms: float = 0.0
    fallback_frames: int = 0  # frames the chain's fallbacks ran on (probes and candidates)
    decoder_errors: dict[str, int] = field(default_factory=dict)


class CameraScanner:
    """Reads frames from a camera, decodes them in a worker thread and publishes scans and status changes.

    The capture thread never waits for the decoder: it leaves only the newest frame in a one-slot handoff.
    It reads at ``fps`` while the decoder sees motion or part of a code, at ``idle_fps`` otherwise (``LiveDecoder``).
    When reads fail ``max_read_failures`` times in a row (camera unplugged, file gone) it reports FAILED,
    releases the device and reopens it with exponential backoff, reporting OK once frames arrive again.
    """

    def __init__(
        self,
        settings: CameraSettings,
        chain: DecoderChain,
        sink: ScanSink,
        clock: Clock,
        *,
        capture_factory: CaptureFactory = open_capture,
        on_decode: DecodeObserver | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._chain = chain
        self._live = live_decoder(chain, settings, monotonic)
        self._sink = sink
        self._clock = clock
        self._capture_factory = capture_factory
        self._on_decode = on_decode
        self._dedup = Deduplicator(clock, settings.dedup_s)
        self._slot: LatestSlot[Frame] = LatestSlot()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._state: ScannerState | None = None
        self._stats = CameraStats()
        self._lock = threading.Lock()

    @property
    def state(self) -> ScannerState | None:
        """OK or FAILED once the first open was tried; None before."""
        with self._lock:
            return self._state

    def stats(self) -> CameraStats:
        with self._lock:
            snapshot = CameraStats(**{k: v for k, v in vars(self._stats).items() if k != "decoder_errors"})
        snapshot.frames_dropped = self._slot.dropped
        snapshot.duplicates_suppressed = self._dedup.suppressed
        snapshot.decoder_errors = dict(self._chain.error_counts())
        return snapshot

    def start(self) -> None:
        if self._threads:
            raise RuntimeError("camera scanner already started")
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._capture_loop, name=f"{self.settings.name}-capture", daemon=True),
            threading.Thread(target=self._decode_loop, name=f"{self.settings.name}-decode", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._slot.close()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    def __enter__(self) -> CameraScanner:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- capture thread -------------------------------------------------------------------------------------

    def _capture_loop(self) -> None:
        backoff = Backoff(self.settings.reopen_initial_s, self.settings.reopen_max_s)
        cap: VideoSource | None = None
        failures = 0
        opened_once = False
        try:
            while not self._stop.is_set():
                if cap is None:
                    cap, reason = self._open()
                    if cap is None:
                        self._set_state(ScannerState.FAILED, reason)
                        self._stop.wait(backoff.next_delay())
                        continue
                    if opened_once:
                        self._count("reopens")
                    opened_once = True
                    failures = 0
                started = time.monotonic()
                frame = self._read(cap)
                if frame is None:
                    failures += 1
                    self._count("read_failures")
                    if failures >= self.settings.max_read_failures:
                        self._release(cap)
                        cap = None
                        self._set_state(ScannerState.FAILED, f"{failures} reads in a row returned no frame")
                        self._stop.wait(backoff.next_delay())
                    else:
                        self._stop.wait(self._live.policy.period)
                    continue
                failures = 0
                backoff.reset()
                self._set_state(ScannerState.OK, "frames arriving")
                self._count("frames_captured")
                self._slot.put(Frame(frame, self._clock.now()))
                # A camera paces itself; a video file would be read as fast as the disk allows.
                self._stop.wait(max(0.0, self._live.policy.period - (time.monotonic() - started)))
        finally:
            if cap is not None:
                self._release(cap)

    def _open(self) -> tuple[VideoSource | None, str]:
        try:
            cap = self._capture_factory(self.settings)
        except Exception as exc:  # noqa: BLE001 - cv2.error or OSError from the backend: reported as FAILED
            self._count("open_failures")
            log.warning("camera %s: open failed: %r", self.settings.device, exc)
            return None, f"open failed: {exc}"
        if not cap.isOpened():
            self._count("open_failures")
            self._release(cap)
            return None, f"cannot open {self.settings.device}"
        return cap, ""

    def _read(self, cap: VideoSource) -> np.ndarray | None:
        try:
            ok, frame = cap.read()
        except Exception as exc:  # noqa: BLE001 - a read error is a failed read: counted, then reopened
            log.warning("camera %s: read failed: %r", self.settings.device, exc)
            return None
        if not ok or not isinstance(frame, np.ndarray) or frame.size == 0:
            return None
        return frame

    def _release(self, cap: VideoSource) -> None:
        try:
            cap.release()
        except Exception as exc:  # noqa: BLE001 - releasing a vanished device may fail; nothing else to do
            self._count("loop_errors")
            log.warning("camera %s: release failed: %r", self.settings.device, exc)

    def _set_state(self, state: ScannerState, reason: str) -> None:
        with self._lock:
            if self._state is state:
                return
            self._state = state
        self._sink.publish_status(StatusChange(ScanSource.CAMERA, self.settings.name, state, self._clock.now(), reason))

    def _count(self, name: str, by: int = 1) -> None:
        with self._lock:
            setattr(self._stats, name, getattr(self._stats, name) + by)

    # -- decoder thread -------------------------------------------------------------------------------------

    def _decode_loop(self) -> None:
        while not self._stop.is_set():
            frame = self._slot.take(timeout=0.2)
            if frame is None:
                continue
            try:
                self._decode(frame)
            except Exception:  # the loop must survive a faulty sink or observer; counted and logged
                self._count("loop_errors")
                log.exception("camera %s: handling a frame failed", self.settings.name)

    def _decode(self, frame: Frame) -> None:
        started = time.perf_counter()
        attempt = self._live.decode(frame.image)
        result = attempt.result
        ms = (time.perf_counter() - started) * 1000
        with self._lock:
            self._stats.frames_decoded += 1
            self._stats.fallback_frames += attempt.fallbacks_ran
            self._stats.last_decode_ms = ms
        if result is None:
            return
        if self._on_decode is not None:
            self._on_decode(result, ms)
        if self._dedup.accept(result.text):
            self._count("scans_reported")
            self._sink.publish(Scan(result.text, ScanSource.CAMERA, frame.at))
