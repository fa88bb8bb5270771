"""`wibox decode` and `wibox scan` through the real `wibox` entry point."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.scanners.scanner_images import bgr, on_canvas, qr, write_video
from wibox.cli import main

PAYLOAD = "WB1:CLI-test-0001"


def test_decode_prints_one_json_line_per_file_and_exits_2_for_unreadable_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = tmp_path / "letter.png"
    cv2.imwrite(str(code), bgr(on_canvas(qr(PAYLOAD))))
    blank = tmp_path / "blank.jpg"
    cv2.imwrite(str(blank), np.full((120, 160, 3), 200, dtype=np.uint8))
    garbage = tmp_path / "notes.png"
    garbage.write_text("not an image")
    missing = tmp_path / "missing.png"

    rc = main(["decode", str(code), str(missing), str(garbage), str(blank)])

    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert rc == 2
    assert [line["file"] for line in lines] == [str(code), str(blank)]
    assert lines[0]["text"] == PAYLOAD
    assert lines[0]["decoder"] == "zxing"
    assert lines[1]["text"] is None
    assert lines[1]["decoder"] is None
    assert all(isinstance(line["ms"], float) for line in lines)
    assert f"cannot read {missing}" in err
    assert f"{garbage} is not an image" in err


def test_decode_exits_0_when_every_file_reads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = tmp_path / "code.png"
    cv2.imwrite(str(code), on_canvas(qr(PAYLOAD)))
    assert main(["decode", "--chain", "pyzbar", str(code)]) == 0
    line = json.loads(capsys.readouterr().out)
    assert (line["text"], line["decoder"]) == (PAYLOAD, "pyzbar")


def test_decode_refuses_an_unknown_decoder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "--chain", "zxing,quagga", str(tmp_path / "x.png")]) == 2
    assert "unknown decoder 'quagga'" in capsys.readouterr().err


class _CtrlCAfterAScan(io.StringIO):
    """Standard output for `wibox scan` that presses Ctrl-C once a scan line is complete, as a person would."""

    def write(self, text: str, /) -> int:
        n = super().write(text)
        if text.endswith("\n") and any("text" in json.loads(line) for line in self.getvalue().splitlines()):
            raise KeyboardInterrupt
        return n


def test_scan_prints_status_and_live_decodes_from_a_camera(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    video = tmp_path / "commissioning.avi"
    write_video(video, [on_canvas(qr(PAYLOAD, box=4), size=(320, 240), side=180)] * 10)
    out = _CtrlCAfterAScan()
    monkeypatch.setattr(sys, "stdout", out)
    # Ctrl-C ends the command as soon as the scan is printed; --seconds is only a backstop if none comes.
    assert main(["scan", "--camera", str(video), "--fps", "60", "--seconds", "60"]) == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[0]["status"] == "ok"
    assert lines[0]["scanner"] == "camera"
    scans = [line for line in lines if "text" in line]
    assert [(s["source"], s["text"]) for s in scans] == [("camera", PAYLOAD)]
    assert scans[0]["decoder"].startswith("zxing")
