"""Benchmark applying a sync bundle of 1,000 and 10,000 orders at the kiosk: verify+decrypt vs the DB transaction."""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import cryptography

from backend_sync import protocol as p
from backend_sync import schema
from backend_sync.builder import BuiltBundle, Recipient, build_bundle
from backend_sync.keys import KioskKeys, Signer, load_ed25519_public
from backend_sync.receiver import BundleReceiver, HpkeDecryptor, OpenedBundle, SyncPolicy, check_manifest, to_core
from firmware_bridge.sim.memory_bank import MemoryLockBank
from locker import codes
from locker.clock import ManualClock
from locker.config import BusConfig, CompartmentConfig, StationConfig, StorageConfig
from locker.db import Database
from locker.doctypes import DocumentType
from locker.flows.bundle import BundleContent, BundleFlow, HubKey
from locker.flows.common import FlowContext
from locker.model import NewOrder, Size
from locker.store import Store

DAY = 86400
DEVICE = "bench-1"
T = TypeVar("T")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.split(":")[0].strip() in ("model name", "Model", "Hardware"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


@dataclass
class Kiosk:
    flow: BundleFlow
    receiver: BundleReceiver
    decryptor: HpkeDecryptor
    database: Database


def kiosk(directory: Path, hub: Signer, keys: KioskKeys, clock: ManualClock) -> Kiosk:
    comps = tuple(
        CompartmentConfig(number=i + 1, bus="bus0", board=0, lock=i + 1, size=Size.M, height_mm=800) for i in range(16)
    )
    cfg = StationConfig(
        station_id=DEVICE,
        buses=(BusConfig(name="bus0", driver="kerong-cu16", port="/dev/null"),),
        compartments=comps,
        storage=StorageConfig(database=str(directory / "wibox.db")),
    )
    database = Database(cfg.storage.database)
    store = Store.open(database, clock, comps)
    bank = MemoryLockBank([c.number for c in comps], clock)
    flow = BundleFlow(FlowContext(store, bank, clock, cfg))
    flow.pin_hub_keys([HubKey(hub.key_id, hub.public_raw)])
    decryptor = HpkeDecryptor(keys.enc_private)
    return Kiosk(flow, BundleReceiver(flow, DEVICE, decryptor, clock, SyncPolicy()), decryptor, database)


def bundle(
    hub: Signer, keys: KioskKeys, n: int, now: int, verifier: str, seq: int = 1, prev: bytes = p.GENESIS_HASH
) -> BuiltBundle:
    orders = [
        NewOrder(
            id=f"ORD-{i:06d}",
            pickup_number=f"{i:08d}",
            document_kind=DocumentType.ID_CARD,
            size=Size.S,
            reachable=i % 10 == 0,
            return_old_id=i % 3 == 0,
            valid_from=float(now),
            valid_until=float(now + 7 * DAY),
            qr_verifier=codes.qr_verifier(f"ORD-{i:06d}", i.to_bytes(16, "big")),
            pin_verifier=verifier,
        )
        for i in range(n)
    ]
    return build_bundle(
        hub,
        Recipient(DEVICE, keys.public().enc_public),
        seq=seq,
        prev_hash=prev,
        issued_at=now,
        orders=orders,
        full_sync=seq > 1,
    )


@dataclass
class Run:
    build: float
    size: int
    verify: float  # parse + signature + content hash + manifest checks
    decrypt: float  # HPKE open
    decode: float  # payload JSON + schema + conversion to core types
    apply: float  # one DB transaction (BEGIN IMMEDIATE .. COMMIT, synchronous=FULL)
    resend: float  # a second, full-sync bundle with the same orders: everything at the kiosk (all skipped)

    @property
    def verify_decrypt(self) -> float:
        return self.verify + self.decrypt + self.decode


def one_run(n: int, verifier: str, directory: Path) -> Run:
    clock = ManualClock()
    hub, keys = Signer.generate(), KioskKeys.generate()
    k = kiosk(directory, hub, keys, clock)
    built, t_build = timed(lambda: bundle(hub, keys, n, int(clock.now()), verifier))
    pinned = {hub.key_id: load_ed25519_public(hub.public_raw)}

    def verify() -> p.ParsedBundle:
        parsed = p.parse_bundle(built.data)
        check_manifest(
            parsed,
            device_id=DEVICE,
            enc_key_id=k.decryptor.enc_key_id,
            pinned=pinned,
            head=k.flow.head(),
            now=clock.now(),
            policy=SyncPolicy(),
        )
        return parsed

    parsed, t_verify = timed(verify)
    m = parsed.bundle.manifest
    plaintext, t_decrypt = timed(lambda: k.decryptor.decrypt(parsed.bundle.ciphertext, p.bundle_info(DEVICE, m.seq)))

    def decode() -> BundleContent:
        payload = schema.decode(p.BundlePayload, schema.loads(plaintext), "payload")
        return to_core(OpenedBundle(m, parsed.manifest_hash, payload))

    content, t_decode = timed(decode)
    assert content == k.receiver.open(built.data)  # the same steps as the receiver's
    result, t_apply = timed(lambda: k.flow.apply(content))
    assert len(result.inserted) == n
    again = bundle(hub, keys, n, int(clock.now()), verifier, seq=2, prev=built.manifest_hash)
    result, t_resend = timed(lambda: k.receiver.receive(again.data))
    assert len(result.skipped) == n
    k.database.close()
    return Run(t_build, len(built.data), t_verify, t_decrypt, t_decode, t_apply, t_resend)


def median(runs: list[Run], f: Callable[[Run], float]) -> float:
    return statistics.median(f(r) for r in runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="1000,10000", help="comma-separated bundle sizes (orders)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per size, each on a fresh database; median reported")
    ap.add_argument("--dir", type=Path, default=None, help="where the database files go (default: a temp dir)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    verifier = codes.pin_verifier("BENCH", "123456")
    print(f"- Machine: {cpu_model()}, {platform.machine()}, Linux {platform.release()}")
    print(
        f"- Python {platform.python_version()}, cryptography {cryptography.__version__}, "
        f"SQLite {sqlite3.sqlite_version}; {dt.date.today().isoformat()}"
    )
    print(
        "- Every order carries the same argon2id PIN verifier string (creating 10,000 real ones would take"
        " ≈ 5 min at ≈ 30 ms each); the kiosk only checks its format while applying, so the timing is unaffected."
    )
    print(f"- Median of {args.repeat} runs per size, each on a fresh database file (WAL, synchronous=FULL).")
    print()
    print(
        "| orders | bundle size | verify (sig, hash, checks) | decrypt (HPKE) | decode + convert |"
        " verify + decrypt total | DB transaction | total at kiosk | same orders re-sent (full sync) | hub: build |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n in sizes:
        runs: list[Run] = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory(dir=args.dir) as d:
                runs.append(one_run(n, verifier, Path(d)))
        cells = [
            f"{n:,}",
            f"{runs[0].size / 1e6:.2f} MB",
            *(
                f"{median(runs, f):.3f} s"
                for f in (
                    lambda r: r.verify,
                    lambda r: r.decrypt,
                    lambda r: r.decode,
                    lambda r: r.verify_decrypt,
                    lambda r: r.apply,
                    lambda r: r.verify_decrypt + r.apply,
                    lambda r: r.resend,
                    lambda r: r.build,
                )
            ),
        ]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
