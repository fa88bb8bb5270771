"""The core CLI commands: version, db check (sound and tampered databases), staff add."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from locker import __version__, codes
from tests.harness import make_station
from wibox.cli import main


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip() == f"wibox {__version__}"
    out = subprocess.run([sys.executable, "-m", "wibox", "--help"], capture_output=True, text=True, check=True)
    for cmd in ("version", "config", "db", "staff"):
        assert cmd in out.stdout


def test_db_check_sound_and_tampered(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    st = make_station(tmp_path)
    st.load(st.staff_session(), st.announce("ORD-0001"))
    path = st.config.storage.database
    assert main(["db", "check", path]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["integrity"] == "ok" and report["audit"]["ok"] and report["migrations"]["pending"] == []
    st.database.conn.execute("UPDATE audit SET event = event || ' ' WHERE seq = 3")
    assert main(["db", "check", path]) == 1
    assert json.loads(capsys.readouterr().out)["audit"]["ok"] is False


def test_db_check_on_a_file_that_is_not_a_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "x.db"
    bogus.write_bytes(b"this is not sqlite" * 100)
    assert main(["db", "check", str(bogus)]) == 2
    assert "cannot use database" in capsys.readouterr().err
    assert main(["db", "check", str(tmp_path / "missing.db")]) == 2
    assert not (tmp_path / "missing.db").exists()


def test_staff_add_then_login(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    st = make_station(tmp_path)
    path = st.config.storage.database
    assert main(["staff", "add", "CARL-03", "--pin", "13572468", "--role", "maintenance", "--database", path]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["roles"] == ["maintenance"]
    badge = codes.parse_badge(out["badge"])
    assert st.flows.staff.authenticate(out["badge"], "13572468") == badge.staff_id == "CARL-03"
    assert main(["staff", "add", "CARL-03", "--pin", "123", "--database", path]) == 2
    assert "PIN" in capsys.readouterr().err
