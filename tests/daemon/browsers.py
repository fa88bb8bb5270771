"""The browsers, the scanner and the people at the doors of the concurrency test, in a process of their own.

Run by ``tests/daemon/test_concurrency.py`` as ``python -m tests.daemon.browsers URL SECONDS BADGE:PIN...``: threads
play two citizens, the staff (one thread per badge), the scanner, the people at the doors and a kiosk page over real
HTTP for SECONDS, then print one JSON line: the request counts and every failure. A process of its own, as real
browsers are: the load's HTTP work does not compete with the kiosk's event loop for the test process's GIL.
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable

import httpx

JAMMED = 12  # the xor-8a board's last lock: the test jams it, so its door never opens
HTTP_TIMEOUT_S = 60.0  # generous: a staff request waits for a door cycle behind others


class Load:
    """What the load threads share: the stop flag, their failures and counts."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.stop = threading.Event()
        self.failures: list[str] = []
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=HTTP_TIMEOUT_S)

    def note(self, what: str, r: httpx.Response, expected: int = 0) -> None:
        """Count a response; a server error fails the test unless it is the ``expected`` status."""
        with self._lock:
            self.counts[what] += 1
            if r.status_code >= 500 and r.status_code != expected:
                self.failures.append(f"{what}: HTTP {r.status_code}: {r.text[:200]}")

    def run(self, name: str, body: Callable[[Load], None]) -> threading.Thread:
        def loop() -> None:
            try:
                while not self.stop.is_set():
                    body(self)
            except Exception as exc:
                with self._lock:
                    self.failures.append(f"{name}: {type(exc).__name__}: {exc}")

        t = threading.Thread(target=loop, name=f"load-{name}", daemon=True)
        t.start()
        return t


def citizen(load: Load) -> None:
    """A citizen typing a wrong code, switching languages and starting over."""
    with load.client() as c:
        load.note("citizen", c.get("/"))
        for op in ("lang:en", "manual:", *(f"key:{d}" for d in "4711"), "ok:", "lang:de", "start:"):
            load.note("citizen", c.post("/act", data={"op": op}))


def staff(badge: str, pin: str) -> Callable[[Load], None]:
    """Staff logged in, opening compartments for maintenance: the jammed one, re-enabled after each failure."""

    def body(load: Load) -> None:
        with load.client() as c:
            r = c.post("/staff/login", data={"badge": badge, "pin": pin})
            load.note("staff", r)
            if r.status_code != 303:  # the staff list has not come from the hub yet
                time.sleep(0.2)
                return
            for _ in range(5):
                # the jammed door: 503 "did not open" after its unlock confirmation ran out (docs/kiosk-ui.md)
                jammed = c.post("/staff/act", data={"op": f"maint_open:{JAMMED}", "reason": "concurrency test"})
                load.note("staff", jammed, expected=503)
                for op in (f"enable:{JAMMED}", f"maint_open:{random.randint(1, 11)}"):
                    load.note("staff", c.post("/staff/act", data={"op": op, "reason": "concurrency test"}))
                load.note("staff", c.get("/staff"))
                load.note("staff", c.get("/staff/api/state"))
            load.note("staff", c.post("/staff/logout"))

    return body


def scans(load: Load) -> None:
    """The scanner reading codes that are none, and badges (which send the citizen screen to the staff login)."""
    with load.client() as c:
        for text in ("not a code", f"WIBOX1:{random.getrandbits(64):x}", "https://example.org/x"):
            load.note("scan", c.post("/sim/api/scan", json={"text": text}))


def doors(load: Load) -> None:
    """People at the doors: whatever stands open gets its item toggled and is shut again."""
    with load.client() as c:
        r = c.get("/sim/api/state")
        load.note("doors", r)
        for comp in r.json()["compartments"] if r.status_code == 200 else []:
            if comp["door_open"]:
                n = comp["number"]
                load.note("doors", c.post(f"/sim/api/doors/{n}/item", json={"present": random.random() < 0.5}))
                load.note("doors", c.post(f"/sim/api/doors/{n}/close"))
        time.sleep(0.05)


def screen(load: Load) -> None:
    """A kiosk page following the event stream, and its heartbeat."""
    with load.client() as c:
        load.note("heartbeat", c.post("/api/heartbeat"))
        with c.stream("GET", "/events") as r:
            for _line in r.iter_lines():
                load.counts["event-lines"] += 1
                if load.stop.is_set() or load.counts["event-lines"] % 50 == 0:
                    break


def main(argv: list[str]) -> int:
    base, seconds, *staff_logins = argv
    load = Load(base)
    threads = [
        load.run("citizen", citizen),
        load.run("citizen2", citizen),
        *(load.run(f"staff-{i}", staff(*login.rsplit(":", 1))) for i, login in enumerate(staff_logins)),
        load.run("scans", scans),
        load.run("doors", doors),
        load.run("screen", screen),
    ]
    deadline = time.monotonic() + float(seconds)
    while time.monotonic() < deadline and all(t.is_alive() for t in threads):
        time.sleep(0.2)
    load.stop.set()
    for t in threads:
        t.join(HTTP_TIMEOUT_S)
        if t.is_alive():
            load.failures.append(f"{t.name} did not finish")
    print(json.dumps({"counts": dict(load.counts), "failures": load.failures}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
