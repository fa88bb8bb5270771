"""Every shell script in the repository is shellcheck-clean (systemd/*.sh, scripts/*.sh, .ci/run)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.conftest import ROOT


def _shell_scripts() -> list[Path]:
    found = {*ROOT.glob("systemd/*.sh"), *ROOT.glob("scripts/*.sh")}
    for path in ROOT.glob(".ci/*"):
        if path.is_file() and path.read_bytes()[:64].split(b"\n", 1)[0] in {b"#!/bin/sh", b"#!/bin/bash"}:
            found.add(path)
    return sorted(found)


SCRIPTS = _shell_scripts()


def test_the_known_scripts_are_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in SCRIPTS}
    assert {"systemd/install.sh", "systemd/uninstall.sh", "systemd/wibox-kiosk.sh", "scripts/bootstrap.sh"} <= names


@pytest.mark.skipif(
    shutil.which("shellcheck") is None, reason="shellcheck is not installed (scripts/bootstrap.sh installs it)"
)
@pytest.mark.parametrize("script", SCRIPTS, ids=[p.relative_to(ROOT).as_posix() for p in SCRIPTS])
def test_shellcheck_finds_nothing(script: Path) -> None:
    done = subprocess.run(
        ["shellcheck", "--severity=style", str(script)], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0 and done.stdout == "", done.stdout + done.stderr
