"""systemd/install.sh and uninstall.sh against a temp root (--prefix): files and modes, idempotence, --dry-run,
local edits kept, uninstall and --purge. The venv step is skipped (--skip-venv): it is a plain venv + pip install."""

from __future__ import annotations

import hashlib
import re
import stat
from pathlib import Path

import pytest

from tests.deploy.conftest import ROOT, SYSTEMD, UNITS, install_into, run_script

# path in the root -> (mode, file shipped in the checkout or None for a directory)
EXPECTED: dict[str, tuple[int, str | None]] = {
    **{f"etc/systemd/system/{u}": (0o644, f"systemd/{u}") for u in UNITS},
    "etc/udev/rules.d/99-wibox.rules": (0o644, "systemd/99-wibox.rules"),
    "etc/tmpfiles.d/wibox.conf": (0o644, "systemd/wibox.tmpfiles"),
    "etc/systemd/journald.conf.d/wibox.conf": (0o644, "systemd/journald-wibox.conf"),
    "etc/systemd/system.conf.d/wibox-watchdog.conf": (0o644, "systemd/system-watchdog-wibox.conf"),
    "etc/wibox/station.toml": (0o640, "examples/station.toml"),
    "etc/wibox/hub.toml": (0o640, "examples/hub.toml"),
    "opt/wibox/libexec/wibox-kiosk.sh": (0o755, "systemd/wibox-kiosk.sh"),
    "opt/wibox/libexec/wibox-kiosk-watch.py": (0o755, "systemd/wibox-kiosk-watch.py"),
    "opt/wibox/share/station.toml.example": (0o644, "examples/station.toml"),
    "opt/wibox/share/99-wibox.rules": (0o644, "systemd/99-wibox.rules"),
    "opt/wibox/share/doc/operations.md": (0o644, "docs/operations.md"),
    "etc/wibox": (0o755, None),
    "var/lib/wibox": (0o700, None),
    "var/backups/wibox": (0o700, None),
}
KEPT_BY_UNINSTALL = {"etc/wibox", "etc/wibox/station.toml", "etc/wibox/hub.toml", "var/lib/wibox", "var/backups/wibox"}


def snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every path under root with its mode, mtime and content hash."""
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if stat.S_ISREG(st.st_mode) else ""
        out[path.relative_to(root).as_posix()] = (st.st_mode, st.st_mtime_ns, digest)
    return out


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if not p.is_dir()}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    done = install_into(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    return tmp_path


def test_installs_every_file_with_its_mode(root: Path) -> None:
    for rel, (mode, shipped) in EXPECTED.items():
        path = root / rel
        assert path.exists(), rel
        assert stat.S_IMODE(path.stat().st_mode) == mode, f"{rel}: {oct(path.stat().st_mode)}"
        if shipped is not None:
            assert path.read_bytes() == (ROOT / shipped).read_bytes(), rel


def test_prefix_touches_nothing_outside_and_prints_what_it_skipped(tmp_path: Path) -> None:
    done = install_into(tmp_path)
    assert done.returncode == 0
    for command in ["useradd", "groupadd", "systemctl daemon-reload", "systemctl enable", "udevadm", "chown"]:
        assert f"skipped (--prefix): {command}" in done.stdout, command
    assert "skipped the venv (--skip-venv)" in done.stdout


def test_second_run_changes_nothing(root: Path) -> None:
    before = snapshot(root)
    again = install_into(root)
    assert again.returncode == 0, again.stderr
    assert snapshot(root) == before
    assert "installed " not in again.stdout and "directory " not in again.stdout
    assert "everything was already installed" in again.stdout


def test_site_configuration_is_never_overwritten(root: Path) -> None:
    config = root / "etc/wibox/station.toml"
    rules = root / "etc/udev/rules.d/99-wibox.rules"
    config.write_text("# site\n")
    rules.write_text("# site rules\n")
    unit = root / "etc/systemd/system/wibox.service"
    unit.write_text("stale\n")
    done = install_into(root)
    assert done.returncode == 0
    assert config.read_text() == "# site\n" and rules.read_text() == "# site rules\n"
    assert unit.read_bytes() == (SYSTEMD / "wibox.service").read_bytes(), "shipped files are brought up to date"
    assert f"kept {config}" in done.stdout


def test_dry_run_on_an_empty_root_creates_nothing(tmp_path: Path) -> None:
    done = install_into(tmp_path, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert list(tmp_path.iterdir()) == []
    assert "would install" in done.stdout and "dry run: nothing was changed" in done.stdout


def test_dry_run_on_an_installed_root_changes_nothing(root: Path) -> None:
    (root / "etc/systemd/system/wibox.service").write_text("stale\n")
    (root / "opt/wibox/libexec/wibox-kiosk.sh").chmod(0o600)
    before = snapshot(root)
    done = install_into(root, "--dry-run")
    assert done.returncode == 0
    assert snapshot(root) == before
    assert f"would install {root}/etc/systemd/system/wibox.service" in done.stdout


def test_no_enable_enables_nothing(tmp_path: Path) -> None:
    done = install_into(tmp_path, "--no-enable")
    assert done.returncode == 0 and "systemctl enable" not in done.stdout and "not enabled" in done.stdout


def test_hub_is_enabled_only_when_asked(tmp_path: Path) -> None:
    assert "enable wibox-hub.service" not in install_into(tmp_path).stdout
    assert "enable wibox-hub.service" in install_into(tmp_path, "--hub").stdout


@pytest.mark.parametrize("args", [["--bogus"], ["--prefix"], ["--wheel", "/nonexistent.whl"]])
def test_bad_arguments_fail_with_a_message(tmp_path: Path, args: list[str]) -> None:
    done = run_script("install.sh", *args) if args == ["--prefix"] else install_into(tmp_path, *args)
    assert done.returncode != 0 and "install: error:" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_prefix_must_exist(tmp_path: Path) -> None:
    done = run_script("install.sh", "--prefix", tmp_path / "missing", "--skip-venv", "--no-apt")
    assert done.returncode != 0 and "is not a directory" in done.stderr


def test_uninstall_removes_what_install_put_there_and_keeps_data(root: Path) -> None:
    (root / "var/lib/wibox/wibox.db").write_bytes(b"db")
    done = run_script("uninstall.sh", "--prefix", root)
    assert done.returncode == 0, done.stderr
    assert files_under(root) == {"etc/wibox/station.toml", "etc/wibox/hub.toml", "var/lib/wibox/wibox.db"}
    for rel in KEPT_BY_UNINSTALL:
        assert (root / rel).exists(), rel
    assert "skipped (--prefix): systemctl disable --now" in done.stdout
    assert not (root / "opt/wibox").exists()


def test_uninstall_dry_run_changes_nothing(root: Path) -> None:
    before = snapshot(root)
    done = run_script("uninstall.sh", "--prefix", root, "--dry-run")
    assert done.returncode == 0 and snapshot(root) == before
    assert f"would remove {root}/opt/wibox" in done.stdout


def test_site_rules_survive_uninstall_and_come_back(root: Path) -> None:
    rules = root / "etc/udev/rules.d/99-wibox.rules"
    rules.write_text("# bus serials of this station\n")
    assert run_script("uninstall.sh", "--prefix", root).returncode == 0
    assert not rules.exists()
    assert (root / "etc/wibox/99-wibox.rules.saved").read_text() == "# bus serials of this station\n"
    assert install_into(root).returncode == 0
    assert rules.read_text() == "# bus serials of this station\n"


def test_purge_removes_everything(root: Path) -> None:
    (root / "var/lib/wibox/wibox.db").write_bytes(b"db")
    done = run_script("uninstall.sh", "--prefix", root, "--purge")
    assert done.returncode == 0, done.stderr
    assert files_under(root) == set()
    assert not (root / "var/lib/wibox").exists() and not (root / "etc/wibox").exists()
    assert "skipped (--prefix): userdel wibox" in done.stdout


@pytest.mark.parametrize("script", ["install.sh", "uninstall.sh"])
def test_operations_md_names_every_unit_and_option(script: str) -> None:
    """Docs that cannot drift: every unit and every option of both scripts appears in docs/operations.md."""
    text = (ROOT / "docs/operations.md").read_text()
    for unit in UNITS:
        assert unit.removesuffix(".service").removesuffix(".timer") in text, unit
    options = set(re.findall(r"^\s+(--[a-z-]+)", run_script(script, "--help").stdout, re.M))
    assert options, "no options found in --help"
    for option in options:
        assert f"`{option}" in text, f"{script} {option} is not in docs/operations.md"
