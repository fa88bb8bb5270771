"""A kiosk in its own process for the hub tests: one JSON request per line on stdin, one JSON answer per line out.

Run as ``python -m tests.hub.kiosk_proc --dir DIR --hub URL --device ID``. The kiosk is a harness station (its own
SQLite file, the in-process memory lock bank for the door physics) with a ``SyncClient`` talking to the hub over
HTTP. A request is ``{"op": name, ...arguments}``; the answer is ``{"ok": result}`` or ``{"error": "Type: text"}``.
``KioskProcess`` is the test's side of the pipe.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from backend_sync.client import SyncClient
from backend_sync.keys import KioskKeys
from firmware_bridge.sim.memory_bank import MemoryLockBank
from locker import audit, codes
from locker.clock import ManualClock
from tests.harness import STATEMENT, Station, station_config

ROOT = Path(__file__).resolve().parents[2]


class Kiosk:
    """The operations the test may ask for; each returns something JSON can carry."""

    def __init__(self, directory: Path, hub_url: str, device_id: str) -> None:
        cfg = station_config(directory / "wibox.db", 6)
        self.clock = ManualClock(time.time())
        bank = MemoryLockBank([c.number for c in cfg.compartments], self.clock, item_sensors=True)
        self.station = Station(cfg, self.clock, bank)
        self.client = SyncClient(
            hub_url, device_id, KioskKeys.generate(), self.station.flows, self.station.store, self.clock
        )

    def tick(self) -> None:
        """The kiosk's clock follows the wall clock between requests (the hub checks the messages' times)."""
        self.clock.advance(max(0.0, time.time() - self.clock.now()))

    def close(self) -> None:
        self.client.close()
        self.station.database.close()

    # -- hub ---------------------------------------------------------------------------------------------
    def enroll(self) -> str:
        return self.client.enroll().code

    def poll(self) -> str:
        return self.client.poll_enrollment()

    def sync(self) -> dict[str, int | None]:
        r = self.client.sync_once()
        return {"bundles": r.bundles, "events": r.events, "checkpoint": r.checkpoint}

    def pending(self) -> int:
        return len(self.station.store.pending(1000))

    # -- local state ---------------------------------------------------------------------------------------
    def order(self, order_id: str) -> dict[str, Any] | None:
        o = self.station.store.order(order_id)
        return None if o is None else {"state": o.state.value, "compartment": o.compartment}

    def door_open(self, compartment: int) -> bool:
        return self.station.bank.is_open(compartment)

    def audit_hash(self, seq: int) -> str | None:
        """The hash of the kiosk's audit entry ``seq`` (hex), to compare with a handover proof at the hub."""
        found = [e for e in audit.entries(self.station.database, seq - 1) if e.seq == seq]
        return found[0].hash.hex() if found else None

    # -- staff: loading through the flows ----------------------------------------------------------------------
    def staff_session(self) -> str:
        return self.station.staff_session()

    def load(self, sid: str, order_id: str) -> int:
        """Staff scan the order's label; the assigned door opens, they put the document in and close it."""
        st = self.station
        a = st.flows.loading.scan_label(sid, codes.label_payload(order_id))
        st.pump()
        if not st.bank.is_open(a.compartment):
            raise RuntimeError(f"compartment {a.compartment} did not open for loading")
        st.bank.put_item(a.compartment)
        st.bank.close(a.compartment)
        st.pump()
        return a.compartment

    # -- citizen: the pickup flow ----------------------------------------------------------------------------
    def pickup_qr(self, payload: str) -> int:
        """Scan the QR payload, verify, confirm receipt: the door opens; returns its compartment."""
        p = self.station.flows.pickup
        n = p.confirm_receipt(p.verify(p.scan_qr(payload)), STATEMENT)
        self.station.pump()
        return n

    def pickup_manual(self, pickup_number: str, pin: str) -> int:
        """Type the pickup number and PIN, verify, confirm receipt: the door opens; returns its compartment."""
        p = self.station.flows.pickup
        n = p.confirm_receipt(p.verify(p.enter_manual(pickup_number, pin)), STATEMENT)
        self.station.pump()
        return n

    def take_and_close(self, compartment: int) -> None:
        """The citizen takes the document out and closes the door (this completes the handover)."""
        self.station.bank.take_item(compartment)
        self.station.bank.close(compartment)
        self.station.pump()


def serve(kiosk: Kiosk, requests: TextIO, answers: TextIO) -> None:
    ops: dict[str, Callable[..., Any]] = {
        name: getattr(kiosk, name)
        for name in (
            "enroll",
            "poll",
            "sync",
            "pending",
            "order",
            "door_open",
            "audit_hash",
            "staff_session",
            "load",
            "pickup_qr",
            "pickup_manual",
            "take_and_close",
        )
    }
    for line in requests:
        request = json.loads(line)
        op = request.pop("op")
        if op == "quit":
            break
        kiosk.tick()
        try:
            answer: dict[str, Any] = {"ok": ops[op](**request)}
        except Exception as exc:  # every failure goes back to the test, which decides
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", required=True, type=Path, help="directory for the station's database")
    parser.add_argument("--hub", required=True, help="the hub's base URL")
    parser.add_argument("--device", required=True, help="the kiosk's device id")
    args = parser.parse_args(argv)
    answers = sys.stdout
    sys.stdout = sys.stderr  # stdout carries the answers only; anything printed goes to the log
    kiosk = Kiosk(args.dir, args.hub, args.device)
    try:
        serve(kiosk, sys.stdin, answers)
    finally:
        kiosk.close()
    return 0


class KioskError(Exception):
    """The kiosk process answered a request with an error."""


class KioskProcess:
    """The test's side: starts ``python -m tests.hub.kiosk_proc`` and sends it requests."""

    def __init__(self, directory: Path, hub_url: str, device_id: str, timeout: float = 20.0) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.log = directory / "kiosk.log"
        self.timeout = timeout
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.hub.kiosk_proc",
                    "--dir",
                    str(directory),
                    "--hub",
                    hub_url,
                    "--device",
                    device_id,
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                cwd=ROOT,
                text=True,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )

    def call(self, op: str, **args: Any) -> Any:
        """Send one request and wait for its answer; a kiosk error is raised as ``KioskError``."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            raise RuntimeError(f"kiosk process gave no answer to {op!r}: {self.log.read_text()[-2000:]}")
        answer = json.loads(line)
        if "error" in answer:
            raise KioskError(answer["error"])
        return answer["ok"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.write('{"op": "quit"}\n')
                self.proc.stdin.close()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


if __name__ == "__main__":
    sys.exit(main())
