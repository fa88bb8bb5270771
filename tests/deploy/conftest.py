"""Shared fixtures of the deployment tests: the checkout, and an install of systemd/install.sh into a temp root."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SYSTEMD = ROOT / "systemd"
UNITS = [
    "wibox.service",
    "wibox-kiosk.service",
    "wibox-kiosk-watch.service",
    "wibox-kiosk-watch.timer",
    "wibox-hub.service",
]


def run_script(script: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """Runs systemd/<script> with bash and returns the finished process (never raises on failure)."""
    return subprocess.run(
        ["bash", str(SYSTEMD / script), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def install_into(prefix: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """install.sh into a temp root, without the slow venv step and without apt-get."""
    return run_script("install.sh", "--prefix", prefix, "--skip-venv", "--no-apt", *extra)


def stub_venv(prefix: Path) -> None:
    """Stands in for the venv that --skip-venv did not create: bin/python is this interpreter, bin/wibox a stub."""
    bin_dir = prefix / "opt/wibox/venv/bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    (bin_dir / "python").symlink_to(sys.executable)
    wibox = bin_dir / "wibox"
    wibox.write_text("#!/bin/sh\nexit 0\n")
    wibox.chmod(0o755)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A temp root holding what install.sh --prefix installs, plus a stub venv."""
    prefix = tmp_path_factory.mktemp("root")
    done = install_into(prefix)
    assert done.returncode == 0, done.stdout + done.stderr
    stub_venv(prefix)
    yield prefix
    shutil.rmtree(prefix, ignore_errors=True)
