"""Hub under fleet heartbeats: N kiosks every 30 s against `wibox hub run` on SQLite and PostgreSQL (loopback).

Open-loop load: request i is due at t0 + i / rate; latency counts from the due time (so a stalled hub is not
hidden by a waiting client). Messages are signed before the clock starts. Hub CPU = the hub process's user+system
CPU time / wall time (1.0 = one core busy).

    .venv/bin/python benchmarks/hub_heartbeats.py [--seconds 20] [--kiosks 1000 10000] [--backends sqlite postgresql]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend_sync import protocol as p
from backend_sync.hub import tables as hubdb
from backend_sync.hub.db import HubStore
from backend_sync.keys import KioskKeys
from tests.hub.servers import HubProcess, PgCluster, find_initdb

INTERVAL_S = 30.0
KEY_POOL = 64  # kiosks share a few key pairs (each kiosk row still names its key; verification cost is the same)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def enroll_fleet(url: str, n: int, keys: list[KioskKeys]) -> None:
    store = HubStore.open(url, pool_size=2)
    now = time.time()
    rows = [
        {
            "device_id": f"k{i:05d}",
            "city_id": "wiesbaden",
            "name": f"k{i:05d}",
            "status": "approved",
            "sign_public": keys[i % len(keys)].public().sign_public.hex(),
            "enc_public": keys[i % len(keys)].public().enc_public.hex(),
            "created_at": now,
            "approved_at": now,
            "resync": False,
        }
        for i in range(n)
    ]
    with store.write() as conn:
        conn.execute(hubdb.kiosks.insert(), rows)
    store.close()


def heartbeat(device: str, keys: KioskKeys, now: int) -> bytes:
    health = p.HealthReport(now, 24, 10, 12, 1, 1, 0, 0, ("door_left_open",), 20_000, 48_000)
    body = p.HeartbeatBody(3, bytes(32), 120, bytes(32), now, 1, "wibox 0.1.0", health)
    return p.sign_kiosk_message(keys.signer, device, body, now)


def run_case(hub: HubProcess, n: int, keys: list[KioskKeys], seconds: float) -> dict[str, float]:
    rate = n / INTERVAL_S
    total = int(rate * seconds)
    now = int(time.time())
    messages = [heartbeat(f"k{i % n:05d}", keys[(i % n) % len(keys)], now) for i in range(total)]
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    threads = max(8, min(64, int(rate / 10)))
    assert hub.proc is not None
    cpu0, gen0, t0 = cpu_seconds(hub.proc.pid), cpu_seconds(os.getpid()), time.monotonic() + 0.2

    def worker(k: int) -> None:
        with httpx.Client(base_url=hub.url, timeout=30) as c:
            for i in range(k, total, threads):
                due = t0 + i / rate
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                try:
                    ok = c.post("/api/v1/kiosk/heartbeat", content=messages[i]).status_code == 200
                except httpx.HTTPError:
                    ok = False
                done = time.monotonic()
                with lock:
                    if ok:
                        latencies.append(done - due)
                    else:
                        errors[0] += 1

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    wall = time.monotonic() - t0
    cpu = cpu_seconds(hub.proc.pid) - cpu0
    gen_cpu = cpu_seconds(os.getpid()) - gen0
    latencies.sort()
    return {
        "target": rate,
        "achieved": len(latencies) / wall,
        "p50": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else float("nan"),
        "cpu": cpu / wall,
        "errors": errors[0],
        "generator_cpu": gen_cpu / wall,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--kiosks", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    args = ap.parse_args()
    keys = [KioskKeys.generate() for _ in range(KEY_POOL)]
    cluster = None
    results = []
    try:
        for backend in args.backends:
            if backend == "postgresql":
                if find_initdb() is None or os.geteuid() != 0:
                    print("postgresql: skipped (needs the postgresql package and root)")
                    continue
                cluster = cluster or PgCluster.start()
            for n in args.kiosks:
                tmp = Path(tempfile.mkdtemp(prefix="wibox-bench-hub-"))
                url = cluster.create_database() if backend == "postgresql" and cluster else f"sqlite:///{tmp}/hub.db"
                hub = HubProcess.create(tmp, url)
                enroll_fleet(url, n, keys)
                hub.start()
                try:
                    r = run_case(hub, n, keys, args.seconds)
                finally:
                    hub.stop()
                results.append((backend, n, r))
                print(f"{backend} {n}: {r}", file=sys.stderr)
    finally:
        if cluster is not None:
            cluster.stop()
    print("| database | kiosks | target req/s | achieved req/s | p50 ms | p99 ms | hub CPU (cores) | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for backend, n, r in results:
        print(
            f"| {backend} | {n:,} | {r['target']:.0f} | {r['achieved']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} |"
            f" {r['cpu']:.2f} | {r['errors']:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
