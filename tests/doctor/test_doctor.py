"""`wibox doctor` as a technician runs it: the real CLI in a subprocess over simulated boards on pseudo-terminals.

A sound station (its boards answer, its camera delivers frames, its hub answers), a deliberately broken one (a
port that does not exist, a board address that does not answer, a data folder that cannot be one, a hub URL where
nothing listens, a camera that is not there) and one whose daemon runs (doctor then leaves the boards to it).
Nothing here asserts a duration: the machine is shared.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from firmware_bridge.sim.station import SimulatedWall
from tests.daemon import rig
from tests.daemon.fake_hub import FakeHub
from wibox.demo.compose import demo_config
from wibox.doctor import compose
from wibox.doctor.station_db import offline_boards

HOST_CHECKS = ("disk ", "write speed ", "clock")  # depend on this machine, not on the station under test


def doctor(config: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wibox", "doctor", "--config", str(config), "--camera-s", "1", *extra],
        cwd=rig.ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def lines(out: str, status: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(f"{status}  ")]


def video(path: Path, frames: int = 30) -> Path:
    """A short MJPG file the camera check opens as its ``device`` (OpenCV reads files like cameras)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 15, (640, 480))
    for i in range(frames):
        writer.write(np.full((480, 640, 3), (i * 8) % 256, dtype=np.uint8))
    writer.release()
    return path


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its content hash (and every folder), to show that nothing was changed."""
    out = {}
    for p in sorted(root.rglob("*")):
        out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return out


@pytest.fixture
def station(tmp_path: Path) -> Iterator[rig.Station]:
    st = rig.build_station(tmp_path / "station", camera=str(video(tmp_path / "camera.avi")))
    try:
        yield st
    finally:
        st.close()


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    h = FakeHub("daemon-rig")
    try:
        yield h
    finally:
        h.close()


def with_sync(station: rig.Station, hub_url: str, key_dir: Path) -> Path:
    path = station.config_path
    path.write_text(path.read_text() + f'\n[sync]\nhub_url = "{hub_url}"\nkey_dir = "{key_dir}"\n')
    return path


def test_a_sound_station_passes_its_boards_ports_camera_and_hub(station: rig.Station, hub: FakeHub) -> None:
    config = with_sync(station, hub.url, station.dir / "keys")
    before = snapshot(station.dir)
    done = doctor(config)
    out = done.stdout
    passed = lines(out, "PASS")
    assert any(line.startswith("PASS  board bus0/0 (kerong-cu16) answers, 16 locks, 16 doors read") for line in passed)
    assert any("16 item sensors read" in line for line in passed), out
    assert any(line.startswith("PASS  board bus1/1 (xor-8a) answers, 8 locks, 8 doors read") for line in passed)
    for bus in station.config.buses:
        assert f"PASS  device {bus.port} (bus {bus.name}) is a character device" in out
    assert f"PASS  device {station.scanner.path} (serial scanner)" in out
    assert f"PASS  hub {hub.url} answers (/healthz ok)" in out
    assert "clock vs hub " in out and "FAIL  clock vs hub" not in out
    assert any(line.startswith("PASS  camera ") and "frames in" in line for line in passed), out
    decoder = next(line for line in out.splitlines() if " decoder chain " in line)
    assert decoder.startswith(("PASS", "WARN")) and "ms per empty 640x480 frame" in decoder  # speed: this CPU's
    assert "WARN  enrollment not enrolled: no key" in out  # the daemon never ran: no keys yet, none created
    assert "SKIP  daemon not running" in out
    assert "SKIP  kiosk screen the daemon does not answer" in out
    fails = lines(out, "FAIL")
    assert all(line.removeprefix("FAIL  ").startswith(HOST_CHECKS) for line in fails), out
    assert done.returncode == (1 if fails else 0), out
    assert out.splitlines()[-1].startswith("doctor: ")
    assert snapshot(station.dir) == before  # the write-speed sample was removed; no database, no keys


def test_json_output_carries_every_line(station: rig.Station) -> None:
    done = doctor(station.config_path, "--json")
    body = json.loads(done.stdout)
    boards = [c for c in body["checks"] if c["check"].startswith("board ")]
    assert [c["status"] for c in boards] == ["PASS", "PASS"], body
    assert body["ok"] is (done.returncode == 0)
    assert sum(body["counts"].values()) == len(body["checks"])


def broken_toml(station: rig.Station, tmp: Path) -> str:
    """The station's own TOML, broken on purpose in five ways."""
    text = station.config_path.read_text()
    bus0 = station.config.buses[0].port
    not_a_dir = tmp / "not-a-folder"
    not_a_dir.write_text("a file where the data folder should be\n")
    text = text.replace(f'port = "{bus0}"', 'port = "/dev/wibox-no-such-bus"')
    text = text.replace(f'database = "{station.config.storage.database}"', f'database = "{not_a_dir}/wibox.db"')
    text = text.replace(f'device = "{station.config.scanners.camera.device}"', 'device = "/dev/video-none"')
    # board 9 on bus1: no board has that address (the simulator has board 1 only)
    text += '\n[[compartments]]\nnumber = 99\nbus = "bus1"\nboard = 9\nlock = 1\nsize = "S"\nheight_mm = 900\n'
    nobody = rig.free_port()  # nothing listens there
    return text + f'\n[sync]\nhub_url = "http://127.0.0.1:{nobody}"\nkey_dir = "{tmp}/keys"\n'


def test_a_broken_station_fails_with_exit_1_and_changes_nothing(station: rig.Station, tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text(broken_toml(station, tmp_path))
    before = snapshot(tmp_path)
    done = doctor(config)
    out = done.stdout
    assert done.returncode == 1, out
    fails = "\n".join(lines(out, "FAIL"))
    assert "FAIL  device /dev/wibox-no-such-bus (bus bus0) does not exist" in fails
    assert "FAIL  bus bus0 (kerong-cu16) not read: /dev/wibox-no-such-bus does not exist" in fails
    assert "FAIL  board bus1/9 (xor-8a) does not answer on" in fails
    assert "PASS  board bus1/1 (xor-8a) answers" in out  # the other board on that bus still does
    assert f"FAIL  disk {tmp_path}/not-a-folder cannot be a folder: {tmp_path}/not-a-folder is a file" in fails
    assert "FAIL  hub http://127.0.0.1:" in fails and "does not answer" in fails
    assert "FAIL  camera /dev/video-none cannot be opened" in fails
    assert "      fix: " in out  # every failure says what to do
    assert out.splitlines()[-1].startswith("doctor: FAILED")
    assert snapshot(tmp_path) == before


def test_a_config_that_does_not_load_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "station.toml"
    bad.write_text('station_id = "x"\n')
    done = doctor(bad)
    assert done.returncode == 2
    assert done.stderr.startswith("wibox: error: ")


def test_with_the_daemon_running_doctor_reports_its_view_of_the_boards(tmp_path: Path) -> None:
    st = rig.build_station(tmp_path / "station")
    daemon = st.spawn()
    try:
        daemon.wait_serving()
        running = doctor(st.config_path).stdout
        st.hw.power("bus1", 1, False)  # the board loses power: the daemon raises board_offline
        rig.wait_for(lambda: "bus1/1" in (offline_boards(st.db_path) or {}), 60, "board_offline", daemon)
        lost = doctor(st.config_path)
    finally:
        daemon.stop()
        st.close()
    url = f"http://127.0.0.1:{st.config.ui.port}/healthz"
    assert f"PASS  daemon running: its kiosk UI answers on {url}" in running
    assert "WARN  kiosk screen no kiosk page has reported since the daemon started" in running  # no browser here
    assert "PASS  board bus0/0 (kerong-cu16) answers the daemon (no board_offline alarm); not read here" in running
    assert "PASS  board bus1/1 (xor-8a) answers the daemon" in running
    assert "16 locks" not in running  # no board was asked directly while the daemon owns the ports
    assert "PASS  board bus0/0 (kerong-cu16) answers the daemon" in lost.stdout
    assert "FAIL  board bus1/1 (xor-8a) offline for the daemon since " in lost.stdout
    assert lost.returncode == 1


def test_a_modbus_relay_board_and_the_gpio_header_are_read_through_the_same_drivers(tmp_path: Path) -> None:
    """The demo's mixed wall in this process: pymodbus's server on a pseudo-terminal and gpiozero's MockFactory
    pins (which only an in-process run can hand the gpio driver, as the daemon's tests do)."""
    config = demo_config(tmp_path, "", rig.free_port(), boards="mixed")
    with SimulatedWall(config) as hw:
        out = io.StringIO()
        code = compose.doctor(hw.station, compose.Host(driver_options=hw.driver_options()), out=out)
    text = out.getvalue()
    assert "PASS  board mb0/1 (modbus-relay) answers, 8 locks, 8 doors read (0 open)" in text
    assert "PASS  board gpio/0 (gpio) answers, 6 locks, 6 doors read (0 open)" in text
    assert code == (1 if lines(text, "FAIL") else 0)
