"""`wibox board` against simulators over real ptys, and `wibox sim board` in a subprocess used by another one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_bridge.sim.kerong_cu16 import KerongCu16Sim
from firmware_bridge.sim.modbus_sim import ModbusRelaySim
from firmware_bridge.sim.wall import SimEvent, Wall
from firmware_bridge.sim.xor_8a import Xor8aSim
from wibox.cli import main

ROOT = Path(__file__).resolve().parents[2]
# Reply timeout 10x the old 40 ms: a loaded CI machine delays the simulator thread; absent addresses each cost it once.
FAST = ["--timeout-ms", "400", "--gap-ms", "0", "--pulse-ms", "50", "--confirm-s", "5"]


@pytest.fixture
def wall() -> Wall:
    w = Wall(spring_delay_s=0.01)
    w.add_board("b", 0, 16, item_sensors=True)
    w.add_board("b", 2, 16, item_sensors=True)
    return w


@pytest.fixture
def cu16(wall: Wall) -> Iterator[KerongCu16Sim]:
    with KerongCu16Sim(wall, "b") as sim:
        yield sim  # type: ignore[misc]


ERR: list[str] = []


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, object]]]:
    """Run the CLI in-process; its stderr is kept in ERR[-1]."""
    code = main(list(argv))
    captured = capsys.readouterr()
    ERR.append(captured.err)
    return code, [json.loads(line) for line in captured.out.splitlines() if line.strip()]


def board(port: str, *rest: str, driver: str = "kerong-cu16") -> list[str]:
    return ["board", "--driver", driver, "--port", port, *FAST, *rest]


def test_status_of_one_board(capsys: pytest.CaptureFixture[str], wall: Wall, cu16: KerongCu16Sim) -> None:
    wall.force_open("b", 2, 3)
    wall.set_item("b", 2, 4, True)
    code, lines = run(capsys, *board(cu16.port, "status", "2"))
    assert code == 0
    assert len(lines) == 16
    assert lines[0] == {"board": 2, "lock": 1, "door": "closed", "item": False}
    assert lines[2]["door"] == "open"
    assert lines[3]["item"] is True


def test_status_without_board_scans(capsys: pytest.CaptureFixture[str], cu16: KerongCu16Sim) -> None:
    code, lines = run(capsys, *board(cu16.port, "status"))
    assert code == 0
    assert sorted({int(str(line["board"])) for line in lines}) == [0, 2]
    assert len(lines) == 32


def test_scan(capsys: pytest.CaptureFixture[str], cu16: KerongCu16Sim) -> None:
    code, lines = run(capsys, *board(cu16.port, "--addresses", "0-5", "scan"))
    assert (code, lines) == (0, [{"board": 0}, {"board": 2}])


def test_open_confirms(capsys: pytest.CaptureFixture[str], wall: Wall, cu16: KerongCu16Sim) -> None:
    code, lines = run(capsys, *board(cu16.port, "open", "2:16"))
    assert code == 0
    assert len(lines) == 1
    assert lines[0]["board"] == 2 and lines[0]["lock"] == 16 and lines[0]["opened"] is True
    assert isinstance(lines[0]["ms"], int)
    assert wall.is_open("b", 2, 16)


def test_open_jammed_lock_exits_3(capsys: pytest.CaptureFixture[str], wall: Wall, cu16: KerongCu16Sim) -> None:
    wall.jam("b", 0, 1)
    code, lines = run(capsys, *board(cu16.port, "--confirm-s", "0.1", "open", "0:1"))
    assert code == 3
    assert lines[0]["opened"] is False
    assert len(wall.recorder.records(SimEvent.UNLOCK_JAMMED)) == 1  # one pulse, no retry


def test_open_silent_board_exits_2(capsys: pytest.CaptureFixture[str], cu16: KerongCu16Sim) -> None:
    cu16.set_silent(0)
    code, lines = run(capsys, *board(cu16.port, "--confirm-s", "0.1", "open", "0:1"))
    assert code == 2
    assert lines == []
    assert "did not answer" in ERR[-1]


def test_open_absent_board_and_bad_input(capsys: pytest.CaptureFixture[str], cu16: KerongCu16Sim) -> None:
    assert run(capsys, *board(cu16.port, "--confirm-s", "0.1", "open", "5:1"))[0] == 2
    assert run(capsys, *board(cu16.port, "open", "0:17"))[0] == 2  # no lock 17 on a cu16
    assert run(capsys, *board(cu16.port, "open", "zero"))[0] == 2
    assert run(capsys, "board", "--driver", "xor-8a", "scan")[0] == 2  # --port missing
    assert "--port is required" in ERR[-1]


def test_xor_and_modbus_over_ptys(capsys: pytest.CaptureFixture[str]) -> None:
    wall = Wall(spring_delay_s=0.01)
    wall.add_board("x", 1, 8)
    with Xor8aSim(wall, "x", channels=8) as xs:
        code, lines = run(capsys, *board(xs.port, "--channels", "8", "open", "1:8", driver="xor-8a"))
        assert code == 0 and lines[0]["opened"] is True
        code, lines = run(capsys, *board(xs.port, "--channels", "8", "--addresses", "1-3", "scan", driver="xor-8a"))
        assert lines == [{"board": 1}]
    with ModbusRelaySim([1, 2], channels=8, baud=None) as ms:
        code, lines = run(
            capsys, *board(ms.port, "--channels", "8", "--addresses", "1-3", "status", driver="modbus-relay")
        )
        assert code == 0 and len(lines) == 16 and lines[0]["item"] is None
        code, lines = run(capsys, *board(ms.port, "--channels", "8", "open", "2:3", driver="modbus-relay"))
        assert code == 0 and lines[0]["opened"] is True


def test_gpio_needs_pins_and_a_pi(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["board", "--driver", "gpio", "status"]) == 2
    assert "--pins is required" in capsys.readouterr().err
    if not Path("/proc/device-tree/model").exists():
        assert main(["board", "--driver", "gpio", "--pins", "5:17", "status"]) == 2
        assert "Raspberry Pi" in capsys.readouterr().err


def test_sim_board_in_a_subprocess_serves_another_subprocess() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, "-m", "wibox"]
    sim = subprocess.Popen(
        [*cli, "sim", "board", "--driver", "kerong-cu16", "--boards", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        assert sim.stdout is not None
        port = sim.stdout.readline().strip()
        assert port.startswith("/dev/")
        done = subprocess.run(
            [*cli, "board", "--driver", "kerong-cu16", "--port", port, "--timeout-ms", "1000", "status"],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        lines = [json.loads(line) for line in done.stdout.splitlines()]
        assert len(lines) == 32
        assert {line["board"] for line in lines} == {0, 1}
        assert all(line["door"] == "closed" and line["item"] is False for line in lines)
    finally:
        sim.terminate()
        assert sim.wait(timeout=10) == 0
