"""The kiosk screen as a station runs it: systemd/wibox-kiosk.sh starts Debian's Chromium on Wayland in a real cage
(wlroots' headless backend) against a real `wibox run`; the page claims the screen, fills it, and grim sees it."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import sync_playwright

from tests.daemon.rig import DaemonProcess, Station, build_station
from tests.deploy.conftest import SYSTEMD
from tests.ui.rig import CHROMIUM, CHROMIUM_ARGS

TOOLS = ("cage", "grim", "Xwayland", "chromium")
MISSING = [t for t in TOOLS if shutil.which(t) is None]
pytestmark = pytest.mark.skipif(
    bool(MISSING),
    reason=f"needs Debian's cage, grim, xwayland and chromium ({', '.join(MISSING)} missing; scripts/bootstrap.sh "
    "installs them)",
)

OUTPUT = (1280, 720)  # the size of the output wlroots' headless backend gives cage
# cage refuses to run as root: as root the test runs the launcher as this user, as the unit runs it as wibox-kiosk
KIOSK_USER = "nobody"
STARTUP_S = 120.0  # a cold Chromium on a loaded 2-core machine; the wait ends as soon as the page is there
SHOT = os.environ.get("WIBOX_CAGE_SCREENSHOT", "")  # set to a path to keep the screenshot (docs/screenshots)


@dataclass
class KioskSeat:
    """The kiosk user's folders: the unit's runtime directory, its Wayland socket folder and the screen token's."""

    root: Path
    runtime: Path
    xdg: Path
    token_file: Path
    uid: int | None  # None: this test already runs as a user cage accepts


def _seat() -> Iterator[KioskSeat]:
    # not under pytest's tmp_path: /tmp/pytest-of-root is 0700, the kiosk user could not reach its folders there
    root = Path(tempfile.mkdtemp(prefix="wibox-kiosk-", dir="/tmp"))
    uid = gid = None
    if os.geteuid() == 0:
        user = pwd.getpwnam(KIOSK_USER)
        uid, gid = user.pw_uid, user.pw_gid
    runtime, xdg, tokens = root / "run", root / "xdg", root / "token"
    for d in (runtime, xdg):
        d.mkdir(mode=0o700)
    # like the installer's /run/wibox-screen: the daemon writes the token 0640, the group of the folder reads it
    tokens.mkdir()
    if uid is not None and gid is not None:
        for d in (root, runtime, xdg):
            os.chown(d, uid, gid)
        os.chown(tokens, 0, gid)
    tokens.chmod(0o2750)
    try:
        yield KioskSeat(root, runtime, xdg, tokens / "token", uid)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def seat() -> Iterator[KioskSeat]:
    yield from _seat()


@pytest.fixture
def station(tmp_path: Path, seat: KioskSeat) -> Iterator[tuple[Station, DaemonProcess]]:
    st = build_station(tmp_path / "station", compartments=4)
    with st.config_path.open("a") as f:
        f.write(f'\n[display]\nscreen_token_file = "{seat.token_file}"\n')
    daemon = st.spawn()
    try:
        daemon.wait_serving(60)
        yield st, daemon
    finally:
        daemon.stop()
        st.close()


def _as_kiosk_user(seat: KioskSeat, env: dict[str, str], *cmd: str) -> list[str]:
    pinned = ["env", "-i", *(f"{k}={v}" for k, v in env.items()), *cmd]
    return ["runuser", "-u", KIOSK_USER, "--", *pinned] if seat.uid is not None else pinned


@contextlib.contextmanager
def _kiosk_screen(seat: KioskSeat, url: str, rotate: int) -> Iterator[subprocess.Popen[bytes]]:
    """The project's launcher, as wibox-kiosk.service runs it, on a headless wlroots output."""
    launcher = seat.root / "wibox-kiosk.sh"  # the checkout may sit where the kiosk user cannot read (/root)
    shutil.copy(SYSTEMD / "wibox-kiosk.sh", launcher)
    launcher.chmod(0o755)
    env = {
        "PATH": "/usr/bin:/bin",
        "RUNTIME_DIRECTORY": str(seat.runtime),
        "XDG_RUNTIME_DIR": str(seat.xdg),
        "WLR_BACKENDS": "headless",
        "WLR_RENDERER": "pixman",
        "WLR_LIBINPUT_NO_DEVICES": "1",
        "WIBOX_KIOSK_URL": f"{url}/",
        "WIBOX_PYTHON": "/usr/bin/python3",  # the wait for /healthz uses the standard library only
        "WIBOX_SCREEN_TOKEN_FILE": str(seat.token_file),
        "WIBOX_KIOSK_ROTATE": str(rotate),
    }
    log = (seat.root / "kiosk.log").open("wb")
    cmd = _as_kiosk_user(seat, env, "/bin/sh", str(launcher))
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()


def _kiosk_log(seat: KioskSeat) -> str:
    lines = (seat.root / "kiosk.log").read_text(errors="replace").splitlines()
    return "\n".join(line for line in lines if "dbus" not in line)[-3000:]


def _wait_for_the_page(url: str, seat: KioskSeat, proc: subprocess.Popen[bytes]) -> dict[str, object]:
    """/healthz once the kiosk browser holds the screen and its page reported that it fills it."""
    deadline = time.monotonic() + STARTUP_S
    health: dict[str, object] = {}
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the kiosk screen ended with {proc.returncode}:\n{_kiosk_log(seat)}")
        health = httpx.get(f"{url}/healthz", timeout=5).json()
        # the first beat may come before cage's configure resized the window: the next ones (every 10 s) follow it
        if health["screen"] == "claimed" and health["page_fills_screen"]:
            return health
        time.sleep(0.5)
    raise AssertionError(f"no full-screen kiosk page within {STARTUP_S} s: {health}\n{_kiosk_log(seat)}")


def _reference(url: str) -> np.ndarray:
    """The start screen as a plain Chromium draws it at the output's size."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": OUTPUT[0], "height": OUTPUT[1]})
            page.goto(f"{url}/")
            page.wait_for_selector('[data-screen="start"]')
            png = page.screenshot()
        finally:
            browser.close()
    return _pixels_of_png(png)


def _pixels_of_png(png: bytes) -> np.ndarray:
    import io

    with Image.open(io.BytesIO(png)) as im:
        return np.asarray(im.convert("RGB"), dtype=np.int16)


def _grim(seat: KioskSeat) -> np.ndarray:
    shot = seat.xdg / "shot.png"  # where the kiosk user may write
    env = {"PATH": "/usr/bin:/bin", "XDG_RUNTIME_DIR": str(seat.xdg), "WAYLAND_DISPLAY": "wayland-0"}
    done = subprocess.run(_as_kiosk_user(seat, env, "grim", str(shot)), capture_output=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    png = shot.read_bytes()
    if SHOT:
        Path(SHOT).write_bytes(png)
    return _pixels_of_png(png)


def _black_edge(shot: np.ndarray) -> bool:
    """Whether any pixel on the picture's border is black: where no window covers the output, cage shows black."""
    black = np.all(shot == 0, axis=2)
    return bool(black[0].any() or black[-1].any() or black[:, 0].any() or black[:, -1].any())


def _differing(shot: np.ndarray, expected: np.ndarray) -> float:
    """The share of pixels that differ clearly (text antialiasing may differ slightly between the two browsers)."""
    if shot.shape != expected.shape:
        return 1.0
    return float((np.abs(shot - expected).max(axis=2) > 48).mean())


def _shows(shot: np.ndarray, expected: np.ndarray) -> bool:
    """The start screen, pixel for pixel as a plain Chromium draws it, and nothing of the browser's own over it
    (Chromium's translate bubble is ~2 % of the screen)."""
    return not _black_edge(shot) and _differing(shot, expected) < 0.002


def test_the_launcher_brings_the_kiosk_page_up_full_screen_in_cage(
    station: tuple[Station, DaemonProcess], seat: KioskSeat
) -> None:
    st, _daemon = station
    with _kiosk_screen(seat, st.url, rotate=0) as proc:
        health = _wait_for_the_page(st.url, seat, proc)
    # the page measures itself: the whole output, not the 532x128 that cage 0.1.4's screenshots suggest (below)
    assert health["page_viewport"] == list(OUTPUT) and health["page_screen"] == list(OUTPUT)


def test_a_screenshot_of_the_kiosk_screen_shows_the_start_screen_filling_it(
    station: tuple[Station, DaemonProcess], seat: KioskSeat
) -> None:
    """Debian 12's cage (0.1.4) hands a window that covers the whole output straight to the display (direct scan-out);
    on the headless backend grim then copies the last frame cage composed itself: the window's first, small frame (the
    "532x128 window"). A turned output is composed by cage every frame, so a screenshot shows what is on the screen:
    this test turns it 180 degrees (WIBOX_KIOSK_ROTATE, for a screen mounted upside down)."""
    st, _daemon = station
    expected = _reference(st.url)
    with _kiosk_screen(seat, st.url, rotate=180) as proc:
        _wait_for_the_page(st.url, seat, proc)
        # the page reported its new size before cage composed (and Chromium painted) the frame that shows it: look
        # until the screen shows the start screen, or the time is up
        deadline = time.monotonic() + 30
        shot = _grim(seat)
        while not _shows(shot, expected) and time.monotonic() < deadline:
            time.sleep(0.5)
            shot = _grim(seat)
    assert (shot.shape[1], shot.shape[0]) == OUTPUT  # grim turns the picture upright
    assert not _black_edge(shot), "the page must reach every edge of the screen"
    assert _shows(shot, expected), f"{_differing(shot, expected):.2%} of the pixels differ from the start screen"
