"""Camera failure reaches the flows (an alarm the UI reads) and the manual code keeps working meanwhile."""

from __future__ import annotations

import time
from pathlib import Path

from firmware_bridge.scanners.camera import CameraScanner, CameraSettings
from firmware_bridge.scanners.chain import DecoderChain
from firmware_bridge.scanners.hub import HubEvent, ScanHub, StatusChange
from locker.clock import SystemClock
from locker.model import AlarmKind
from locker.ports import Scan
from tests.harness import STATEMENT, make_station
from tests.scanners.test_scanners_camera import WAIT_S, _video


def test_camera_failure_reported_to_flows_manual_path_stays(tmp_path: Path) -> None:
    st = make_station(tmp_path)
    sid = st.staff_session()
    codes = st.announce("ORD-0001")
    n = st.load(sid, codes)
    video = _video(tmp_path / "camera.avi", codes.qr)
    hub = ScanHub()
    scans: list[str] = []

    def bridge(event: HubEvent) -> None:  # what the daemon does, in its own thread
        if isinstance(event, StatusChange):
            st.flows.health.report(event.name, event.state == "ok", event.reason)
        elif isinstance(event, Scan):
            scans.append(event.text)

    hub.subscribe(bridge)
    settings = CameraSettings(device=str(video), fps=120.0, dedup_s=60.0, reopen_initial_s=0.02, reopen_max_s=0.1)
    with CameraScanner(settings, DecoderChain.from_spec(["zxing", "pyzbar"]), hub, SystemClock()):
        deadline = time.monotonic() + WAIT_S  # the waits end as soon as the scan / the failure is there
        while not scans:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert scans[0] == codes.qr  # the camera reads the letter's QR code
        assert st.flows.health.failed() == []
        video.unlink()
        deadline = time.monotonic() + WAIT_S
        while not st.flows.health.failed():
            assert time.monotonic() < deadline
            time.sleep(0.02)
    assert st.flows.health.failed() == ["camera"]
    assert any(k == AlarmKind.SCANNER_FAILED for k, _c, _b, _t in st.store.open_alarms())
    # The citizen types the code instead.
    v = st.flows.pickup.verify(st.flows.pickup.enter_manual(codes.pickup_number, codes.pin))
    assert st.flows.pickup.confirm_receipt(v, STATEMENT) == n
    st.flows.health.report("camera", True)
    assert st.flows.health.failed() == []
