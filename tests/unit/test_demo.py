"""`wibox demo`: the headless scenario over the real drivers and simulators, and the terminal demo."""

from __future__ import annotations

import io
import json
from pathlib import Path

from locker.cli import main
from locker.demo import run_scenario, run_terminal


def test_scenario_passes(tmp_path: Path) -> None:
    out = io.StringIO()
    assert run_scenario(tmp_path / "demo", out), out.getvalue()
    lines = out.getvalue().splitlines()
    assert lines[-1] == "scenario passed"
    assert sum(line.startswith("ok ") for line in lines) == 8


def test_terminal_demo_pickup_by_pasted_qr(tmp_path: Path) -> None:
    codes_file = tmp_path / "codes.json"
    # First run only prints the codes (EOF ends it); the codes file tells us what to type in the second run.
    run_terminal(tmp_path / "d1", codes_file, io.StringIO(""), io.StringIO())
    orders = json.loads(codes_file.read_text())
    assert len(orders) == 3 and all(o["compartment"] for o in orders)
    assert set(orders[0]) == {"order", "qr", "pickup_number", "code", "compartment"}
    out = io.StringIO()
    run_terminal(tmp_path / "d2", codes_file, io.StringIO("nonsense\npin 12345678 000000\nstate\nquit\n"), out)
    text = out.getvalue()
    assert "refused: code not accepted" in text
    assert "occupied" in text and "QR code of DEMO-0001" in text


def test_cli_demo_scenario(tmp_path: Path) -> None:
    assert main(["demo", "--scenario", "--data", str(tmp_path / "demo")]) == 0
