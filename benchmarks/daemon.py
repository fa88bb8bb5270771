"""`wibox run` as systemd runs it: start to READY, resident memory, idle CPU, and scan-to-open latency.

Everything is the real daemon in its own process (`python -m wibox run --config FILE`) with the real drivers on
pseudo-terminals of byte-level board simulators that run in this process, at the boards' baud rates
(``SimulatedWall(wire_timing=True)``: every reply carries its wire time, 10 bits a byte), a serial code scanner on a
pty and a fake systemd notify socket. Prints a Markdown table.

* start to READY: from just before the process is spawned to the ``READY=1`` datagram (median of ``--starts``);
* memory: ``VmRSS`` of /proc/<pid>/status when idle and while the camera loop decodes a looping video file written
  with OpenCV's VideoWriter (an empty scene, then a QR code; the code reaching the kiosk proves frames are decoded);
* CPU: utime+stime of /proc/<pid>/stat over ``--cpu-s`` seconds, as % of one core; for the camera loop (configured
  at ``--camera-fps``) on three looping videos: an empty scene (sensor noise only), a scene where something moves
  but no code is shown, and the empty-then-code video above;
* scan to open: from the QR payload written to the scanner pty to ``door_confirmed_at`` (the lock bank read the
  door open: the start of the transaction that records it) for a citizen pickup; the receipt is confirmed over HTTP
  the moment the kiosk shows the confirmation screen (polled every 5 ms). Next to it the wire-time floor: the
  frames of one unlock and one status exchange at the bus's baud rate, plus the simulated spring delay. Pickups
  are spaced by PICKUP_SPACING_S so that the spacing of pulses on a bus is not measured.

    .venv/bin/python benchmarks/daemon.py [--starts 5] [--pickups 40] [--cpu-s 20] [--spring-ms 50] [--camera-fps 30]
        [--camera-only]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from firmware_bridge.protocols import kerong_cu16, xor_8a
from firmware_bridge.sim.memory_bank import MemoryLockBank
from firmware_bridge.sim.wall import SimEvent
from locker import codes
from locker.clock import SystemClock
from locker.db import Database
from locker.flows import Flows
from locker.store import Store
from tests.daemon.rig import BUSES, DaemonProcess, OrderCodes, Station, build_station, seed, wait_for
from tests.scanners.scanner_images import noisy, on_canvas, qr, write_video

COMPARTMENTS = 8  # 4 on each bus
# A bus energises one lock at a time: an unlock waits until the previous pulse on its bus has ended (pulse_ms = 500,
# the default). Back-to-back pickups would measure that wait; citizens come at least seconds apart.
PICKUP_SPACING_S = 0.6
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid: int) -> float:
    m = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.MULTILINE)
    assert m is not None
    return int(m.group(1)) / 1024


def cpu_percent(pid: int, seconds: float) -> tuple[float, list[float]]:
    """% of one core over ``seconds``, and RSS samples (MB) taken once a second meanwhile."""
    rss = []
    c0, t0 = cpu_seconds(pid), time.monotonic()
    while time.monotonic() - t0 < seconds:
        time.sleep(1.0)
        rss.append(rss_mb(pid))
    return 100 * (cpu_seconds(pid) - c0) / (time.monotonic() - t0), rss


def wire_floor_ms(bus: str) -> float:
    """One unlock and one status exchange (request and reply each) at the bus's baud rate, 10 bits a byte."""
    _name, driver, baud, channels, _board = next(b for b in BUSES if b[0] == bus)
    if driver == "kerong-cu16":  # the unlock is answered with a status frame
        n = 2 * (kerong_cu16.TABLE["status"].length + kerong_cu16.TABLE["status_reply"].length)
    else:
        t = xor_8a.table(channels)
        n = t["open"].length + t["open_reply"].length + t["query"].length + t["query_all_reply"].length
    return n * 10 / baud * 1000


def stock(st: Station) -> list[tuple[int, OrderCodes]]:
    """Load one order into every compartment through the flows (daemon stopped), and into the simulated wall."""
    orders, _badge = seed(st.config, COMPARTMENTS, prefix=f"B{time.monotonic_ns() % 10**9:09d}")
    clock = SystemClock()
    database = Database(st.db_path)
    out = []
    try:
        bank = MemoryLockBank([c.number for c in st.config.compartments], clock)
        flows = Flows(Store.open(database, clock, st.config.compartments), bank, clock, st.config)
        who = flows.staff.authenticate(flows.staff.add("BEN-0001", "135790").payload, "135790")
        sid = flows.staff.open_session(who).id
        for o in orders:
            n = flows.loading.scan_label(sid, codes.label_payload(o.order_id)).compartment
            bank.put_item(n)
            bank.close(n)
            flows.doors.pump(0)
            st.hw.set_item(n, True)
            out.append((n, o))
    finally:
        database.close()
    return out


def screen(client: httpx.Client) -> str:
    m = re.search(r'data-screen="([^"]*)"', client.get("/").text)
    return m.group(1) if m else "?"


def pickup(st: Station, d: DaemonProcess, client: httpx.Client, n: int, o: OrderCodes) -> dict[str, float]:
    """One timed pickup; returns the moments (time.time()) of its steps."""
    client.post("/act", data={"op": "cancel:"})  # this browser receives the scans
    t_scan = time.time()
    st.scanner.scan(o.qr)
    wait_for(lambda: screen(client) != "start", 10, "the scan", d)
    t_screen = time.time()
    shown = screen(client)
    assert shown == "confirm", shown
    assert client.post("/act", data={"op": "confirm:"}).status_code == 303
    with sqlite3.connect(st.db_path, timeout=10) as conn:
        confirmed = conn.execute("SELECT door_confirmed_at FROM compartments WHERE number = ?", (n,)).fetchone()[0]
    assert confirmed is not None
    st.hw.set_item(n, False)
    st.hw.close(n)
    # a board without item sensor cannot tell the compartment is empty: the screen asks the citizen, who took it
    wait_for(lambda: screen(client) in {"taken", "done"}, 10, "the screen after the door closed", d)
    if screen(client) == "taken":
        assert client.post("/act", data={"op": "taken:"}).status_code == 303

    def collected() -> bool:
        with sqlite3.connect(st.db_path, timeout=10) as conn:
            row = conn.execute("SELECT state FROM orders WHERE id = ?", (o.order_id,)).fetchone()
        return bool(row[0] == "collected")

    wait_for(collected, 10, f"{o.order_id} collected", d)
    return {"scan": t_scan, "screen": t_screen, "confirmed": float(confirmed)}


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * len(s)) - 1))]


def empty_video(path: Path, fps: int) -> None:
    """5 s of an empty scene: the same wall in every frame, fresh sensor noise in each."""
    wall = np.full((480, 640), 150, dtype=np.uint8)
    write_video(path, [noisy(wall, sigma=6, seed=i) for i in range(5 * fps)], fps=fps)


def moving_video(path: Path, fps: int) -> None:
    """5 s of something moving across the view (a dark shape, like a person passing), no code."""
    frames = []
    for i in range(5 * fps):
        frame = np.full((480, 640), 150, dtype=np.uint8)
        x = (i * 640 // fps) % 640
        frame[60:420, max(0, x - 120) : x + 40] = 60
        frames.append(noisy(frame, sigma=6, seed=i))
    write_video(path, frames, fps=fps)


def camera_video(path: Path, payload: str, fps: int) -> None:
    """10 s: 5 s of an empty, noisy scene, then 5 s of a QR code held up."""
    empty = noisy(np.full((480, 640), 150, dtype=np.uint8), sigma=12)
    code = noisy(on_canvas(qr(payload), (640, 480), 260, 150), sigma=12, seed=3)
    write_video(path, [empty] * (5 * fps) + [code] * (5 * fps), fps=fps)


def camera_rows(tmp: Path, fps: int, cpu_s: float, spring_s: float) -> list[tuple[str, str, str]]:
    """The camera loop's CPU on an empty and on a moving scene, and its memory and CPU while it reads a code."""
    rows: list[tuple[str, str, str]] = []
    video = tmp / "camera.avi"
    cam = build_station(
        tmp / "camera", compartments=COMPARTMENTS, spring_delay_s=spring_s, camera=str(video), camera_fps=fps
    )
    try:
        for label, make in (("an empty scene", empty_video), ("a moving scene, no code", moving_video)):
            make(video, fps)
            d = cam.spawn("camera")
            d.wait_serving()
            d.wait_output("scanner camera (camera) is ok")
            time.sleep(5.0)  # past the start-up and the full-rate hold of the first frame
            cpu, _rss = cpu_percent(d.pid, cpu_s)
            rows.append((f"CPU, camera loop, {label}", f"{cpu:.1f} %", f"of one core over {cpu_s:.0f} s; {fps} fps"))
            assert d.stop() == 0
        stocked = stock(cam)
        camera_video(video, stocked[0][1].qr, fps)  # a stored order's code: it must reach the confirmation screen
        d = cam.spawn("camera")
        d.wait_serving()
        d.wait_output("scanner camera (camera) is ok")
        with httpx.Client(base_url=cam.url, timeout=10) as client:
            client.post("/act", data={"op": "cancel:"})  # this browser receives the scans
            wait_for(lambda: screen(client) == "confirm", 30, "the camera to decode the QR code", d)
        cpu, rss = cpu_percent(d.pid, cpu_s)
        rows.append(
            (
                "resident memory, camera loop running",
                f"{statistics.median(rss):.1f} MB",
                f"median of {len(rss)} samples, max {max(rss):.1f} MB; 640x480 MJPG video, {fps} fps, looping",
            )
        )
        rows.append(
            (
                "CPU, camera loop, 5 s empty then 5 s a code",
                f"{cpu:.1f} %",
                f"of one core over {cpu_s:.0f} s; {fps} fps; the code decoded",
            )
        )
        assert d.stop() == 0
    finally:
        cam.close()
    return rows


def station_rows(tmp: Path, args: argparse.Namespace) -> list[tuple[str, str, str]]:
    """Start to READY, idle memory and CPU, scan to open: camera off."""
    rows: list[tuple[str, str, str]] = []
    spring_s = args.spring_ms / 1000
    st = build_station(
        tmp / "plain", compartments=COMPARTMENTS, spring_delay_s=spring_s, wire_timing=True, unlock_confirm_s=3.0
    )
    try:
        seed(st.config, 1)
        starts, serving = [], []
        for i in range(args.starts):
            d = st.spawn(f"start-{i}")
            starts.append(d.wait_ready())
            d.wait_serving()
            serving.append(time.monotonic() - d.spawned)
            assert d.stop() == 0
        print(f"start to READY (s): {[round(s, 3) for s in starts]}", file=sys.stderr)
        rows.append(
            (
                f"start to READY, median of {args.starts}",
                f"{statistics.median(starts):.2f} s",
                f"min {min(starts):.2f}, max {max(starts):.2f} s; to the UI answering: median "
                f"{statistics.median(serving):.2f} s",
            )
        )
        samples: dict[str, list[dict[str, float]]] = {"bus0": [], "bus1": []}
        opened_rss: list[float] = []
        idle_done = False
        while sum(len(v) for v in samples.values()) < args.pickups:
            stocked = stock(st)
            d = st.spawn("pickups")
            d.wait_serving()
            if not idle_done:
                time.sleep(3.0)
                idle_rss = rss_mb(d.pid)
                cpu, rss = cpu_percent(d.pid, args.cpu_s)
                rows.append(
                    ("resident memory, idle", f"{idle_rss:.1f} MB", f"max {max(rss):.1f} MB over {args.cpu_s:.0f} s")
                )
                rows.append(
                    ("CPU, idle", f"{cpu:.2f} %", f"of one core over {args.cpu_s:.0f} s (lock-bank polls, UI ticker)")
                )
                idle_done = True
            with httpx.Client(base_url=st.url, timeout=10) as client:
                for n, o in stocked:
                    if sum(len(v) for v in samples.values()) >= args.pickups:
                        break
                    bus = st.config.compartment(n).bus
                    samples[bus].append(pickup(st, d, client, n, o))
                    opened_rss.append(rss_mb(d.pid))
                    time.sleep(PICKUP_SPACING_S)
            assert d.stop() == 0
        opened = st.hw.wall.recorder.records(SimEvent.DOOR_OPENED)
        print(f"doors opened in the simulator: {len(opened)}", file=sys.stderr)
        rows.append(("resident memory after the pickups", f"{max(opened_rss):.1f} MB", "max, camera off"))
        for bus, values in samples.items():
            _name, driver, baud, _ch, _board = next(b for b in BUSES if b[0] == bus)
            total = [(v["confirmed"] - v["scan"]) * 1000 for v in values]
            to_screen = [(v["screen"] - v["scan"]) * 1000 for v in values]
            to_door = [(v["confirmed"] - v["screen"]) * 1000 for v in values]
            floor = wire_floor_ms(bus)
            rows.append(
                (
                    f"scan to door confirmed open, `{driver}` at {baud} baud ({len(values)} pickups)",
                    f"p50 {statistics.median(total):.0f} ms, p99 {pct(total, 0.99):.0f} ms",
                    f"floor {floor + args.spring_ms:.1f} ms = wire {floor:.1f} ms + spring {args.spring_ms:.0f} ms; "
                    f"medians: scan to confirm screen {statistics.median(to_screen):.0f} ms, "
                    f"confirm to door confirmed {statistics.median(to_door):.0f} ms",
                )
            )
    finally:
        st.close()

    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--starts", type=int, default=5)
    ap.add_argument("--pickups", type=int, default=40, help="timed pickups, alternating over the two buses")
    ap.add_argument("--cpu-s", type=float, default=20.0)
    ap.add_argument("--spring-ms", type=float, default=50.0, help="a released door swings open after this long")
    ap.add_argument("--camera-fps", type=int, default=30, help="scanners.camera.fps of the camera runs")
    ap.add_argument("--camera-only", action="store_true", help="measure the camera loop only")
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="wibox-bench-daemon-"))
    rows: list[tuple[str, str, str]] = []
    spring_s = args.spring_ms / 1000

    if not args.camera_only:
        rows += station_rows(tmp, args)
    rows += camera_rows(tmp, args.camera_fps, args.cpu_s, spring_s)

    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, {platform.machine()}, Linux {platform.release()}")
    print(
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}; {dt.date.today().isoformat()}; "
        f"load average before: {load_before:.2f}; after: {os.getloadavg()[0]:.2f}"
    )
    print(f"spring delay {args.spring_ms:.0f} ms; unlock_confirm_s 3.0; bus gap_ms 30 (the default)")
    print()
    print("| what | value | notes |")
    print("|---|---|---|")
    for what, value, note in rows:
        print(f"| {what} | {value} | {note} |")


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    main()
