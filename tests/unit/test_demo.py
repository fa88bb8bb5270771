"""`wibox demo`: the headless scenario in-process, and the interactive demo as a subprocess over real HTTP."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.hub.servers import free_port
from wibox.demo import run_scenario
from wibox.demo.scenario import SCENARIO

ROOT = Path(__file__).resolve().parents[2]
WIBOX = str(Path(sys.executable).with_name("wibox"))


def test_scenario_passes(tmp_path: Path) -> None:
    out = io.StringIO()
    assert run_scenario(tmp_path / "demo", out), out.getvalue()
    lines = out.getvalue().splitlines()
    assert lines[-1].startswith("scenario passed"), lines[-1]
    steps = [line.split()[1] for line in lines if line.startswith("ok ")]
    assert steps == ["start", *(name for name, _ in SCENARIO)]
    assert not any(line.startswith("FAIL") for line in lines)


def test_demo_never_wipes_a_folder_it_did_not_create(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    out = io.StringIO()
    assert not run_scenario(tmp_path, out)
    assert (tmp_path / "precious.txt").read_text() == "keep me"
    assert "FAIL start" in out.getvalue() and "not a demo folder" in out.getvalue()


def _until(what: str, check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
        except httpx.HTTPError:
            result = None
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_interactive_demo_over_http(tmp_path: Path) -> None:
    kiosk_port, hub_port = free_port(), free_port()
    codes_file = tmp_path / "codes.json"
    log = tmp_path / "demo.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [
                WIBOX,
                "demo",
                "--data",
                str(tmp_path / "demo"),
                "--codes-file",
                str(codes_file),
                "--kiosk-port",
                str(kiosk_port),
                "--hub-port",
                str(hub_port),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=os.environ | {"PYTHONUNBUFFERED": "1"},
        )
    try:
        _until("the codes file", lambda: proc.poll() is None and codes_file.exists(), 60)
        kiosk = httpx.Client(base_url=f"http://127.0.0.1:{kiosk_port}", timeout=10)
        assert kiosk.get("/healthz").status_code == 200
        state = kiosk.get("/sim/api/state").json()["compartments"]
        assert len(state) == 12
        hub = httpx.get(f"http://127.0.0.1:{hub_port}/healthz", timeout=10)
        assert hub.status_code == 200
        assert httpx.get(f"http://127.0.0.1:{hub_port}/", timeout=10).headers["location"] == "/admin/"

        # the codes file: the documented keys, stored orders only (each in the compartment the wall shows)
        orders = json.loads(codes_file.read_text())
        stored = {c["number"] for c in state if c["order_state"] == "stored"}
        assert orders and {o["compartment"] for o in orders} == stored
        assert all(set(o) == {"order", "qr", "pickup_number", "code", "compartment"} for o in orders)
        text = log.read_text()
        assert "http://127.0.0.1:" in text and orders[0]["qr"] in text and "ANNA-01" in text

        # a citizen: the QR code shown to the scanner (/sim), receipt confirmed on the screen, the door opens
        target = orders[0]
        assert kiosk.get("/").status_code == 200  # the session cookie of "the person at the screen"
        assert kiosk.post("/sim/api/scan", json={"text": target["qr"]}).json() == {"ok": True}
        _until("the confirm screen", lambda: 'value="confirm:"' in kiosk.get("/").text)
        assert kiosk.post("/act", data={"op": "confirm:"}, follow_redirects=False).status_code == 303

        def opened() -> list[int]:
            comps = kiosk.get("/sim/api/state").json()["compartments"]
            return [c["number"] for c in comps if c["door_open"]]

        assert _until("the door to open", opened) == [target["compartment"]]
        kiosk.close()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    output = log.read_text()
    assert rc == 0, output[-3000:]
    assert output.rstrip().endswith("demo stopped"), output[-3000:]
    assert "Traceback" not in output, output[-3000:]


def test_the_demo_cli_offers_every_wall() -> None:
    from wibox.cli import build_parser
    from wibox.demo.compose import BOARDS

    demo = build_parser()._subparsers._group_actions[0].choices["demo"]  # type: ignore[union-attr,index]
    boards = next(a for a in demo._actions if a.dest == "boards")
    assert tuple(boards.choices) == tuple(BOARDS)
