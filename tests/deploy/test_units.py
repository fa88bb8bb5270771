"""The systemd units and udev/tmpfiles files: systemd-analyze verify and security, and syntax of rules and tmpfiles.

verify method: the units are taken from an install.sh --prefix root (so the installer's layout is checked too), with
a stub venv there; every "/opt/wibox/" in them is rewritten to "<root>/opt/wibox/" and nothing else changes, so verify
reads the real unit content and finds every Exec*= target as an existing executable.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.deploy.conftest import ROOT, SYSTEMD, UNITS

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed (Debian package systemd)"
)

EXPOSURE = re.compile(r"Overall exposure level for (\S+): (\d+\.\d)")
# Exposure gates, on systemd-analyze's 0.0-10.0 scale. The kiosk runs a browser, which needs user namespaces (its
# sandbox) and W+X memory (V8), so it only gets a regression gate.
GATES = {"wibox.service": 2.5, "wibox-hub.service": 2.5, "wibox-kiosk-watch.service": 2.5, "wibox-kiosk.service": 5.5}


def _rewritten(installed: Path, dest: Path, names: list[str]) -> list[Path]:
    dest.mkdir(exist_ok=True)
    out = []
    for name in names:
        text = (installed / "etc/systemd/system" / name).read_text()
        path = dest / name
        path.write_text(text.replace("/opt/wibox/", f"{installed}/opt/wibox/"))
        out.append(path)
    return out


def _analyze(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["systemd-analyze", *map(str, args)], capture_output=True, text=True, check=False, timeout=60)


def test_installed_units_are_the_shipped_ones(installed: Path) -> None:
    for name in UNITS:
        assert (installed / "etc/systemd/system" / name).read_bytes() == (SYSTEMD / name).read_bytes()


def test_verify_prints_nothing_for_every_unit(installed: Path, tmp_path: Path) -> None:
    units = _rewritten(installed, tmp_path / "units", UNITS)
    done = _analyze("verify", "--man=no", *units)
    assert done.returncode == 0 and done.stdout == "" and done.stderr == "", done.stdout + done.stderr


def test_verify_does_speak_up_on_a_misspelled_key(installed: Path, tmp_path: Path) -> None:
    """The control for the test above: verify exits 0 on an unknown key but prints it, so output is the signal."""
    [unit] = _rewritten(installed, tmp_path / "units", ["wibox.service"])
    unit.write_text(unit.read_text().replace("Restart=on-failure", "Restrat=on-failure"))
    done = _analyze("verify", "--man=no", unit)
    assert "Restrat" in done.stdout + done.stderr


def _exposure(unit: Path, *extra: str) -> tuple[float, int]:
    done = _analyze("security", "--offline=yes", "--no-pager", *extra, unit)
    match = EXPOSURE.search(done.stdout)
    assert match, done.stdout + done.stderr
    return float(match.group(2)), done.returncode


@pytest.mark.parametrize("name", sorted(GATES))
def test_security_exposure(installed: Path, tmp_path: Path, name: str) -> None:
    [unit] = _rewritten(installed, tmp_path / "units", [name])
    score, _ = _exposure(unit)
    assert score <= GATES[name], f"{name} exposure {score} is above {GATES[name]}"
    # --threshold=N compares N with the exposure in tenths (systemd 252: 2.5 is --threshold=25): exit 0 at or below.
    _, code = _exposure(unit, f"--threshold={round(GATES[name] * 10)}")
    assert code == 0


def test_threshold_is_in_tenths(installed: Path, tmp_path: Path) -> None:
    """Pins the meaning of --threshold: one tenth below the measured exposure fails, the exposure itself passes."""
    [unit] = _rewritten(installed, tmp_path / "units", ["wibox.service"])
    score, _ = _exposure(unit)
    tenths = round(score * 10)
    assert _exposure(unit, f"--threshold={tenths}")[1] == 0
    assert _exposure(unit, f"--threshold={tenths - 1}")[1] != 0


def test_daemon_unit_facts() -> None:
    text = (SYSTEMD / "wibox.service").read_text()
    for line in [
        "Type=notify",
        "NotifyAccess=main",
        "Restart=on-failure",
        "User=wibox",
        "SupplementaryGroups=dialout gpio input video",
        "StateDirectory=wibox",
        "ConfigurationDirectory=wibox",
        "UMask=0077",
        "MemoryDenyWriteExecute=yes",
        "DevicePolicy=closed",
        "DeviceAllow=char-ttyUSB rw",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        "ExecStart=/opt/wibox/venv/bin/wibox run --config /etc/wibox/station.toml",
    ]:
        assert line in text.splitlines(), line
    assert re.search(r"^WatchdogSec=\d+s$", text, re.M)
    assert re.search(r"^StartLimitBurst=\d+$", text, re.M) and re.search(r"^StartLimitIntervalSec=", text, re.M)


# --- udev rules -----------------------------------------------------------------------------------------------
UDEV_KEYS = {"ACTION", "SUBSYSTEM", "KERNEL", "ENV", "ATTRS", "GROUP", "MODE", "SYMLINK", "GOTO", "LABEL", "TAG"}
UDEV_TOKEN = re.compile(r'^([A-Z]+)(\{[A-Za-z0-9_]+\})?(==|!=|\+=|-=|:=|=)"([^"]*)"$')


def _udev_rules() -> list[list[tuple[str, str, str, str]]]:
    rules = []
    for number, line in enumerate((SYSTEMD / "99-wibox.rules").read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        assert not line.endswith("\\"), f"line {number}: no continuation lines"
        tokens = []
        for raw in line.split(", "):
            match = UDEV_TOKEN.match(raw.strip())
            assert match, f"line {number}: cannot parse {raw!r}"
            key, attr, op, value = match.groups()
            assert key in UDEV_KEYS, f"line {number}: unknown key {key}"
            tokens.append((key, attr or "", op, value))
        rules.append(tokens)
    return rules


def test_udev_rules_parse_and_name_every_device() -> None:
    rules = _udev_rules()
    gotos = {v for r in rules for k, _a, _o, v in r if k == "GOTO"}
    labels = {v for r in rules for k, _a, _o, v in r if k == "LABEL"}
    assert gotos <= labels, f"GOTO without LABEL: {gotos - labels}"
    symlinks = {v for r in rules for k, _a, _o, v in r if k == "SYMLINK"}
    assert {"wibox-bus0", "wibox-bus1", "wibox-scanner", "wibox-wedge"} <= symlinks
    for rule in rules:
        if any(k == "SYMLINK" and v.startswith("wibox-bus") for k, _a, _o, v in rule):
            assert ("ENV", "{ID_MM_DEVICE_IGNORE}", "=", "1") in rule, "ModemManager must not probe a lock bus"


def test_example_config_ports_have_udev_names() -> None:
    config = tomllib.loads((ROOT / "examples/station.toml").read_text())
    symlinks = {v for r in _udev_rules() for k, _a, _o, v in r if k == "SYMLINK"}
    for bus in config["buses"]:
        port = str(bus.get("port", ""))
        if port.startswith("/dev/wibox-"):
            assert port.removeprefix("/dev/") in symlinks, f"{port} has no udev rule"


# --- tmpfiles ---------------------------------------------------------------------------------------------------
def test_tmpfiles_creates_the_directories(installed: Path, tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text(
        "root:x:0:0::/root:/bin/sh\nwibox:x:990:990::/var/lib/wibox:/bin/false\n"
        "wibox-kiosk:x:991:991::/nonexistent:/usr/sbin/nologin\n"
    )
    (tmp_path / "etc/group").write_text("root:x:0:\nwibox:x:990:\nwibox-kiosk:x:991:\n")
    done = subprocess.run(
        ["systemd-tmpfiles", "--create", f"--root={tmp_path}", str(installed / "etc/tmpfiles.d/wibox.conf")],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert done.returncode == 0 and done.stdout == done.stderr == "", done.stdout + done.stderr
    state = (tmp_path / "var/lib/wibox").stat()
    assert (state.st_mode & 0o777, state.st_uid, state.st_gid) == (0o700, 990, 990)
    assert (tmp_path / "var/backups/wibox").stat().st_mode & 0o777 == 0o700
    screen = (tmp_path / "run/wibox-screen").stat()  # the token: the daemon writes, the kiosk browser reads
    assert (screen.st_mode & 0o7777, screen.st_uid, screen.st_gid) == (0o2750, 990, 991)
