"""The camera loop on real video files written with OpenCV: decoding, dedup, frame dropping, failure/recovery."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from firmware_bridge.scanners.camera import CameraScanner, CameraSettings, parse_device
from firmware_bridge.scanners.chain import ChainStep, DecoderChain
from firmware_bridge.scanners.decoders import Gray, make_decoder
from firmware_bridge.scanners.errors import ScannerConfigError
from firmware_bridge.scanners.hub import HubEvent, ScanHub, ScannerState, StatusChange
from firmware_bridge.scanners.variants import Variant
from locker.clock import SystemClock
from locker.ports import Scan, ScanSource
from tests.scanners.scanner_images import on_canvas, qr, write_video

PAYLOAD = "WB1:0000ABCD-camera-test"
WAIT_S = 30.0  # deadline for what the camera threads bring about (decoding is slow on a loaded machine)


def _video(path: Path, payload: str, empty: int = 4, coded: int = 12) -> Path:
    blank = np.full((240, 320), 180, dtype=np.uint8)
    frame = on_canvas(qr(payload, box=4), size=(320, 240), side=180)
    write_video(path, [blank] * empty + [frame] * coded)
    return path


def _settings(path: Path, **overrides: float) -> CameraSettings:
    values: dict[str, float] = {"fps": 120.0, "dedup_s": 60.0, "reopen_initial_s": 0.02, "reopen_max_s": 0.1}
    values.update(overrides)
    return CameraSettings(device=str(path), **values)  # type: ignore[arg-type]


def _collect_until(hub: ScanHub, done: Callable[[list[HubEvent]], bool], timeout: float = WAIT_S) -> list[HubEvent]:
    events: list[HubEvent] = []
    deadline = time.monotonic() + timeout
    while not done(events):
        assert time.monotonic() < deadline, f"timed out; events so far: {events}"
        event = hub.get(timeout=0.05)
        if event is not None:
            events.append(event)
    return events


def _wait_for(done: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    """Return as soon as ``done()``; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.01)


def _scans(events: list[HubEvent]) -> list[Scan]:
    return [e for e in events if isinstance(e, Scan)]


def _states(events: list[HubEvent]) -> list[ScannerState]:
    return [e.state for e in events if isinstance(e, StatusChange)]


@pytest.fixture
def chain() -> DecoderChain:
    return DecoderChain.from_spec(["zxing", "pyzbar"])


def test_a_code_in_a_video_is_reported_once_with_camera_ok(tmp_path: Path, chain: DecoderChain) -> None:
    video = _video(tmp_path / "letter.avi", PAYLOAD)
    hub = ScanHub()
    with CameraScanner(_settings(video), chain, hub, SystemClock()) as camera:
        # Let the file play through at least twice (EOF, reopen): the payload must still be reported once.
        events = _collect_until(hub, lambda ev: _states(ev).count(ScannerState.OK) >= 3)
        stats = camera.stats()
    scans = _scans(events)
    assert [(s.text, s.source) for s in scans] == [(PAYLOAD, ScanSource.CAMERA)]
    assert _states(events)[0] is ScannerState.OK
    assert stats.duplicates_suppressed >= 1
    assert stats.frames_captured >= stats.frames_decoded > 0
    assert stats.reopens >= 2


def test_camera_failure_is_reported_on_the_hub_and_recovers(tmp_path: Path, chain: DecoderChain) -> None:
    video = _video(tmp_path / "camera.avi", PAYLOAD)
    hub = ScanHub()
    with CameraScanner(_settings(video), chain, hub, SystemClock()) as camera:
        _collect_until(hub, lambda ev: len(_scans(ev)) == 1)
        video.unlink()  # the camera goes away: reads end, reopening fails
        events = _collect_until(hub, lambda ev: ScannerState.FAILED in _states(ev))
        failed = [e for e in events if isinstance(e, StatusChange)][-1]
        assert (failed.source, failed.name, failed.state) == (ScanSource.CAMERA, "camera", ScannerState.FAILED)
        assert hub.state_of("camera") is ScannerState.FAILED
        _wait_for(lambda: camera.stats().open_failures >= 2, "several reopen attempts fail while it is gone")
        assert camera.state is ScannerState.FAILED

        _video(video, "WB1:0000ABCD-after-replug")  # plugged in again
        events = _collect_until(hub, lambda ev: len(_scans(ev)) == 1)
    assert ScannerState.OK in _states(events)
    assert _scans(events)[0].text == "WB1:0000ABCD-after-replug"
    assert hub.state_of("camera") is ScannerState.OK


class _SlowDecoder:
    name = "slow"

    def __init__(self) -> None:
        self.calls = 0

    def decode(self, gray: Gray) -> str | None:
        self.calls += 1
        time.sleep(0.03)
        return None


def test_frames_are_dropped_while_the_decoder_is_busy(tmp_path: Path) -> None:
    video = _video(tmp_path / "busy.avi", PAYLOAD, empty=40, coded=0)
    slow = _SlowDecoder()
    hub = ScanHub()
    camera = CameraScanner(
        _settings(video, fps=240.0), DecoderChain([ChainStep(slow, Variant.PLAIN)]), hub, SystemClock()
    )
    with camera:
        _wait_for(lambda: camera.stats().frames_dropped > 0, "a frame is replaced while the decoder is busy")
    stats = camera.stats()
    assert stats.frames_dropped > 0
    # Every captured frame was either decoded, replaced in the one-slot handoff, or is the last one waiting.
    assert stats.frames_captured - stats.frames_decoded - stats.frames_dropped in (0, 1)
    assert stats.frames_decoded == slow.calls


def test_a_broken_decoder_never_stops_the_loop(tmp_path: Path) -> None:
    class Broken:
        name = "broken"

        def decode(self, gray: Gray) -> str | None:
            raise UnicodeDecodeError("utf-8", b"\x82", 0, 1, "invalid start byte")

    video = _video(tmp_path / "broken.avi", PAYLOAD)
    chain = DecoderChain([ChainStep(Broken(), Variant.PLAIN), ChainStep(make_decoder("zxing"), Variant.PLAIN)])
    hub = ScanHub()
    with CameraScanner(_settings(video), chain, hub, SystemClock()) as camera:
        events = _collect_until(hub, lambda ev: len(_scans(ev)) == 1)
    assert _scans(events)[0].text == PAYLOAD
    assert camera.stats().decoder_errors["broken"] >= 1


class _FlakyCapture:
    """A camera that delivers frames, then fails its reads like a device that was unplugged."""

    def __init__(self, frames: int) -> None:
        self.frames = frames
        self.released = False

    def isOpened(self) -> bool:  # noqa: N802
        return True

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.frames <= 0:
            return False, None
        self.frames -= 1
        return True, np.full((48, 64), 128, dtype=np.uint8)

    def set(self, prop_id: int, value: float) -> bool:
        return False

    def release(self) -> None:
        self.released = True


def test_read_failures_and_open_errors_from_a_device(chain: DecoderChain) -> None:
    # First open: 5 frames, then reads fail (unplugged). Second open: the device is gone. Third: back again.
    opened: list[_FlakyCapture] = []

    def factory(settings: CameraSettings) -> _FlakyCapture:
        if len(opened) == 1 and not getattr(factory, "failed_once", False):
            factory.failed_once = True  # type: ignore[attr-defined]
            raise OSError("No such device")
        opened.append(_FlakyCapture(frames=5 if not opened else 1000))
        return opened[-1]

    hub = ScanHub()
    settings = CameraSettings(device=0, fps=200.0, max_read_failures=2, reopen_initial_s=0.01, reopen_max_s=0.02)
    with CameraScanner(settings, chain, hub, SystemClock(), capture_factory=factory) as camera:
        events = _collect_until(hub, lambda ev: len(_states(ev)) >= 3)
        stats = camera.stats()
    assert _states(events)[:3] == [ScannerState.OK, ScannerState.FAILED, ScannerState.OK]
    assert opened[0].released
    assert stats.read_failures >= 2
    assert stats.open_failures == 1
    reasons = [e.reason for e in events if isinstance(e, StatusChange)]
    assert "2 reads in a row" in reasons[1]


def test_settings_are_range_checked() -> None:
    with pytest.raises(ScannerConfigError, match="fps"):
        CameraSettings(fps=0)
    with pytest.raises(ScannerConfigError, match="fourcc"):
        CameraSettings(fourcc="MJPEG")
    assert parse_device("0") == 0
    assert parse_device("/dev/video2") == "/dev/video2"
    assert CameraSettings(device="/dev/video0").is_device
    assert not CameraSettings(device="/tmp/x.avi").is_device
