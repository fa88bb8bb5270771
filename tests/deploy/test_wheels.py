"""The station installs on Raspberry Pi OS 64-bit from PyPI wheels alone: scripts/check_wheels.py for aarch64."""

from __future__ import annotations

import re
import tomllib
import urllib.request

import pytest

from scripts import check_wheels
from tests.deploy.conftest import ROOT, SYSTEMD


def _pypi_reachable() -> bool:
    request = urllib.request.Request(check_wheels.PYPI + "/pip/", method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=3):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def aarch64() -> check_wheels.Report:
    if not _pypi_reachable():
        pytest.skip(f"PyPI ({check_wheels.PYPI}) is not reachable: the aarch64 wheel check needs it")
    return check_wheels.check(check_wheels.station_requirements(), "aarch64")


def test_every_station_dependency_has_an_aarch64_wheel(aarch64: check_wheels.Report) -> None:
    assert aarch64.ok, check_wheels.render(aarch64)
    assert all(w.filename.endswith(".whl") for w in aarch64.wheels)
    assert {check_wheels.canonical(w.name) for w in aarch64.wheels} >= {
        check_wheels.requirement_name(r) for r in check_wheels.station_requirements()
    }, "every requirement is among the wheels: none is left out or built"


def test_the_pinned_versions_resolve_for_aarch64(aarch64: check_wheels.Report) -> None:
    picked = {check_wheels.canonical(w.name): w.version for w in aarch64.wheels}
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = [m for m in (re.match(r"([A-Za-z0-9._-]+)==([^;,\s]+)$", r) for r in dependencies) if m]
    assert pins, "pyproject pins no version any more: drop this test"
    for pin in pins:
        assert picked[check_wheels.canonical(pin.group(1))] == pin.group(2), pin.group(0)


def test_the_install_set_is_what_install_sh_installs() -> None:
    requirements = check_wheels.station_requirements()
    names = {check_wheels.requirement_name(r) for r in requirements}
    assert {"pymodbus", "gpiozero", "cryptography", "lgpio"} <= names
    assert "evdev" not in names, "wedge scanners are read by firmware_bridge.linux_input, in pure Python"
    assert not {"pytest", "playwright", "mypy"} & names, "the test extra is not installed on a station"
    install = (SYSTEMD / "install.sh").read_text()
    assert 'pip install --quiet --upgrade "${WHEEL:-$SRC_DIR}"' in install, "install.sh installs no extra"
    assert "pip install --quiet lgpio" in install


def test_nothing_builds_from_source_so_install_sh_installs_no_compiler() -> None:
    assert not hasattr(check_wheels, "SOURCE_ONLY"), "the wheel check allows no exception"
    apt = re.search(r"for pkg in ([^;]+); do", (SYSTEMD / "install.sh").read_text())
    assert apt is not None
    assert {"python3", "python3-venv", "libzbar0"} <= set(apt.group(1).split())
    assert not {"gcc", "g++", "build-essential", "python3-dev", "linux-libc-dev"} & set(apt.group(1).split())


def test_the_platform_tags_cover_bookworm_glibc_and_nothing_newer() -> None:
    tags = check_wheels.platform_tags("aarch64")
    assert tags[0] == "manylinux_2_36_aarch64"
    assert {"manylinux_2_17_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64", "manylinux2014_aarch64"} <= {
        *tags
    }
    assert "manylinux_2_37_aarch64" not in tags
    assert "linux_armv7l" in check_wheels.platform_tags("armv7l")


def test_pips_no_wheel_messages_are_read() -> None:
    output = (
        "ERROR: No matching distribution found for evdev<3,>=1.7\n"
        "Additionally, some packages in these conflicts have no matching distributions available for your "
        "environment:\n    cffi\n    Pillow\n\nTo fix this you could try to:\n"
    )
    assert check_wheels.unavailable(output) == ["evdev", "cffi", "pillow"]
