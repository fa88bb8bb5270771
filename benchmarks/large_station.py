"""A 456-compartment station: door change to screen, p50/p99, and the poll load per bus. Prints a Markdown table.

The station is what `wibox run` builds (`wibox.build.build_station`): the real lock bank and Kerong CU48 drivers
on pseudo-terminals of byte-level board simulators at 19200 baud with wire timing (10 bits a byte), ten 48-lock
boards on three buses (4 + 3 + 3 boards; 456 compartments, the last board half used), the kiosk UI served over
loopback HTTP with its `/sim` panel.

* door to screen: a door is forced open (or closed again) in the simulated wall at t0; the client polls
  `GET /sim/api/state` (every 5 ms) until that compartment's `door_open` shows the change: the path through the
  board's status frame, the lock bank's poll, the daemon's door-event task, the flows' transaction and the
  UI's state read. Random compartments, one change at a time.
* poll load: status requests each bus's simulator received per second while the station is idle, and the share of
  the bus's wire time they take.

    .venv/bin/python benchmarks/large_station.py [--changes 60] [--idle-s 10]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from firmware_bridge.lockbank import LockBank
from firmware_bridge.protocols import kerong_cu48
from firmware_bridge.registry import DRIVERS
from firmware_bridge.scanners.hub import ScanHub
from firmware_bridge.sim.panel import Panel
from firmware_bridge.sim.station import SimulatedWall
from firmware_bridge.sim.wall import SimEvent
from locker.config import StationConfig, parse_config
from locker.sdnotify import InProcessNotify
from wibox.build import build_station
from wibox.demo.common import listen

BOARDS = {"bus0": 4, "bus1": 3, "bus2": 3}
COMPARTMENTS = 456
BAUD = 19200
DEADLINE_S = 30.0


def config(folder: Path, port: int) -> StationConfig:
    parts = [
        f'station_id = "bench-456"\n\n[storage]\ndatabase = "{folder / "wibox.db"}"\n\n[ui]\nport = {port}\n\n'
        "[scanners.camera]\nenabled = false\n"
    ]
    for bus in BOARDS:
        parts.append(
            f'\n[[buses]]\nname = "{bus}"\ndriver = "kerong-cu48"\nport = "simulated"\nbaud = {BAUD}\nchannels = 48\n'
        )
    places = [(bus, board, lock) for bus, n in BOARDS.items() for board in range(n) for lock in range(1, 49)]
    for number, (bus, board, lock) in enumerate(places[:COMPARTMENTS], start=1):
        parts.append(
            f'\n[[compartments]]\nnumber = {number}\nbus = "{bus}"\nboard = {board}\nlock = {lock}\nsize = "M"\n'
            f"height_mm = {150 + (lock % 12) * 140}\n"
        )
    return parse_config("".join(parts), DRIVERS)


def door_shown(client: httpx.Client, number: int, is_open: bool) -> float:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        row = client.get("/sim/api/state").json()["compartments"][number - 1]
        if row["door_open"] is is_open:
            return time.monotonic()
        time.sleep(0.005)
    raise RuntimeError(f"compartment {number} did not show door_open={is_open} within {DEADLINE_S} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--changes", type=int, default=60, help="door changes measured (each an open and a close)")
    ap.add_argument("--idle-s", type=float, default=10.0, help="idle window for the poll load")
    ap.add_argument("--seed", type=int, default=456)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="wibox-bench-456-") as tmp:
        sock = listen(0)
        cfg = config(Path(tmp), sock.getsockname()[1])
        hardware = SimulatedWall(cfg, wire_timing=True)
        station = hardware.start()
        hub = ScanHub()
        notifier = InProcessNotify()
        built = build_station(
            station,
            notifier=notifier,
            bank=lambda c, clock: LockBank.open(c, clock=clock),
            scan_hub=hub,
            sim=lambda d: Panel(hardware, d.station, hub),
            ui_socket=sock,
        )
        loop = asyncio.new_event_loop()
        rc: list[int] = []
        runner = threading.Thread(target=lambda: rc.append(loop.run_until_complete(built.daemon.run())))
        t_start = time.monotonic()
        runner.start()
        try:
            if not notifier.up.wait(120):
                raise RuntimeError("the station did not become ready")
            ready_s = time.monotonic() - t_start
            url = f"http://127.0.0.1:{sock.getsockname()[1]}"
            with httpx.Client(base_url=url, timeout=DEADLINE_S) as client:
                deadline = time.monotonic() + DEADLINE_S
                while client.get("/healthz").status_code != 200:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the kiosk UI did not come up")
                    time.sleep(0.05)
                opened: list[float] = []
                closed: list[float] = []
                for number in rng.sample(range(1, COMPARTMENTS + 1), args.changes):
                    t0 = time.monotonic()
                    hardware.force(number)
                    opened.append(door_shown(client, number, True) - t0)
                    t0 = time.monotonic()
                    hardware.close(number)
                    closed.append(door_shown(client, number, False) - t0)
                time.sleep(2.0)  # the pollers fall back to their slow period
                before = {b: len(_status_requests(hardware, b)) for b in BOARDS}
                time.sleep(args.idle_s)
                after = {b: len(_status_requests(hardware, b)) for b in BOARDS}
        finally:
            loop.call_soon_threadsafe(built.daemon.stop)
            runner.join(60)
            loop.close()
            hardware.stop()
    both = opened + closed
    print(f"456-compartment station ({sum(BOARDS.values())} Kerong CU48 boards on {len(BOARDS)} buses at {BAUD} baud)")
    print(f"start to READY: {ready_s:.2f} s; {args.changes} door openings and closings, seed {args.seed}\n")
    print("| measure | p50 | p99 | max |")
    print("|---|---|---|---|")
    for name, values in (("door opened to screen", opened), ("door closed to screen", closed), ("both", both)):
        ms = [v * 1000 for v in values]
        p99 = statistics.quantiles(ms, n=100, method="inclusive")[98]
        print(f"| {name} | {statistics.median(ms):.0f} ms | {p99:.0f} ms | {max(ms):.0f} ms |")
    print("\n| bus | boards | status requests/s (idle) | wire time used |")
    print("|---|---|---|---|")
    for bus, n in BOARDS.items():
        rate = (after[bus] - before[bus]) / args.idle_s
        frame_bits = 10 * (_REQUEST_BYTES + _REPLY_BYTES)
        print(f"| {bus} | {n} | {rate:.1f} | {rate * frame_bits / BAUD * 100:.1f} % |")
    return 0 if rc == [0] else 1


# one CU48 status exchange on the wire (lock-boards.md): the request and its reply
_REQUEST_BYTES = len(kerong_cu48.encode_status(0))
_REPLY_BYTES = kerong_cu48.TABLE["status_reply"].length


def _status_requests(hardware: SimulatedWall, bus: str) -> list[object]:
    return [r for r in hardware.wall.recorder.records(SimEvent.RX) if r.where.split("/")[0] == bus]


if __name__ == "__main__":
    sys.exit(main())
