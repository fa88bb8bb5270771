"""The screen token: fresh at each start, written 0640 whatever the umask, a clear error where it cannot be."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from locker.errors import ConfigError
from wibox import screen_token


def test_a_fresh_token_is_written_for_the_kiosk_browser_only(tmp_path: Path) -> None:
    path = tmp_path / "token"
    old = os.umask(0o000)
    try:
        first, second = screen_token.issue(str(path)), screen_token.issue(str(path))
    finally:
        os.umask(old)
    assert first != second and len(second) >= 43  # 256 bits, new at each start
    assert path.read_text() == second + "\n"
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["token"]  # no temporary file left behind


def test_no_file_no_token(tmp_path: Path) -> None:
    assert screen_token.issue("") == ""


def test_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"display\.screen_token_file: cannot write"):
        screen_token.issue(str(tmp_path / "missing" / "token"))
