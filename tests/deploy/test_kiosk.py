"""The kiosk launcher (systemd/wibox-kiosk.sh) and the page-heartbeat watch (systemd/wibox-kiosk-watch.py),
run as the units run them, with fake cage/chromium/systemctl and a loopback /healthz server."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.deploy.conftest import SYSTEMD

KIOSK_FLAGS = [
    "--kiosk",
    "--noerrdialogs",
    "--disable-infobars",
    "--disable-session-crashed-bubble",
    "--no-first-run",
    "--password-store=basic",
    "--disable-pinch",
    "--overscroll-history-navigation=0",
    "--disable-features=Translate,TranslateUI",
    "--disable-component-update",
    "--ozone-platform=wayland",
]


class Health:
    """A loopback HTTP server whose /healthz answers with `body` (a JSON text)."""

    def __init__(self) -> None:
        self.body = "{}"
        self.status = 200
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                data = owner.body.encode()
                self.send_response(owner.status if self.path == "/healthz" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)


@pytest.fixture
def health() -> Iterator[Health]:
    h = Health()
    h.thread.start()
    yield h
    h.server.shutdown()
    h.server.server_close()


def _write_exe(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


# --- launcher -----------------------------------------------------------------------------------------------------
@pytest.fixture
def fake_bin(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _write_exe(bin_dir / "cage", '#!/bin/sh\nfor a in "$@"; do echo "$a"; done > "$CAGE_ARGS"\n')
    _write_exe(bin_dir / "chromium", "#!/bin/sh\nexit 0\n")
    # Only the tools the launcher uses, so that a browser installed on this machine is not found instead.
    for tool in ["rm", "mkdir", "tr"]:
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    return bin_dir


def _launch(tmp_path: Path, fake_bin: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    rundir = tmp_path / "run"
    rundir.mkdir(exist_ok=True)
    args_file = tmp_path / "cage-args"
    full_env = {
        "PATH": str(fake_bin),
        "RUNTIME_DIRECTORY": str(rundir),
        "CAGE_ARGS": str(args_file),
        "WIBOX_PYTHON": sys.executable,
        **env,
    }
    done = subprocess.run(
        ["/bin/sh", str(SYSTEMD / "wibox-kiosk.sh")],
        capture_output=True,
        text=True,
        env=full_env,
        check=False,
        timeout=30,
    )
    args = args_file.read_text().splitlines() if args_file.exists() else []
    return done, args


def test_launcher_runs_chromium_in_cage_with_kiosk_flags_and_a_fresh_profile(
    tmp_path: Path, fake_bin: Path, health: Health
) -> None:
    stale = tmp_path / "run/profile/Default/Preferences"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    done, args = _launch(tmp_path, fake_bin, WIBOX_KIOSK_URL=f"{health.url}/", WIBOX_KIOSK_WAIT_S="10")
    assert done.returncode == 0, done.stderr
    assert args[:2] == ["--", "chromium"]
    for flag in [*KIOSK_FLAGS, f"--user-data-dir={tmp_path}/run/profile"]:
        assert flag in args, flag
    assert args[-1] == f"{health.url}/" and not any(a.startswith("--app") for a in args)  # --app with --kiosk quits
    assert "--no-sandbox" not in args
    assert not stale.exists(), "the profile must be fresh at every start"
    assert "did not answer" not in done.stderr


@pytest.mark.parametrize(("degrees", "flags"), [("90", ["-r"]), ("180", ["-r", "-r"]), ("270", ["-r", "-r", "-r"])])
def test_launcher_turns_the_screen_for_a_display_mounted_turned(
    tmp_path: Path, fake_bin: Path, health: Health, degrees: str, flags: list[str]
) -> None:
    done, args = _launch(
        tmp_path, fake_bin, WIBOX_KIOSK_URL=f"{health.url}/", WIBOX_KIOSK_WAIT_S="10", WIBOX_KIOSK_ROTATE=degrees
    )
    assert done.returncode == 0, done.stderr
    assert args[: len(flags) + 2] == [*flags, "--", "chromium"]


@pytest.mark.parametrize("degrees", ["45", "-90", "180 ", "x"])
def test_launcher_refuses_a_rotation_it_cannot_do(tmp_path: Path, fake_bin: Path, degrees: str) -> None:
    done, args = _launch(tmp_path, fake_bin, WIBOX_KIOSK_ROTATE=degrees)
    assert done.returncode == 1 and "WIBOX_KIOSK_ROTATE must be 0, 90, 180 or 270" in done.stderr
    assert args == [] and not (tmp_path / "run/profile").exists()


def test_launcher_claims_the_screen_through_a_private_file(tmp_path: Path, fake_bin: Path, health: Health) -> None:
    token = "Tok3n_-" * 6
    token_file = tmp_path / "screen-token"
    token_file.write_text(token + "\n")
    done, args = _launch(
        tmp_path,
        fake_bin,
        WIBOX_KIOSK_URL=f"{health.url}/",
        WIBOX_KIOSK_WAIT_S="10",
        WIBOX_SCREEN_TOKEN_FILE=str(token_file),
    )
    assert done.returncode == 0, done.stderr
    start = tmp_path / "run/start.html"
    assert args[-1] == f"file://{start}"
    assert not any(token in a for a in args), "the token must not be on a command line (ps shows it)"
    assert f'url={health.url}/screen?token={token}"' in start.read_text()
    assert start.stat().st_mode & 0o777 == 0o600


def test_launcher_starts_anyway_when_the_daemon_does_not_answer(tmp_path: Path, fake_bin: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done, args = _launch(tmp_path, fake_bin, WIBOX_KIOSK_URL=f"http://127.0.0.1:{port}/", WIBOX_KIOSK_WAIT_S="1")
    assert done.returncode == 0 and "--kiosk" in args
    assert "did not answer within 1 s" in done.stderr  # it gave up waiting, and then started the browser


@pytest.mark.parametrize(("missing", "message"), [("cage", "cage is not installed"), ("chromium", "no Chromium")])
def test_launcher_names_what_is_missing(tmp_path: Path, fake_bin: Path, missing: str, message: str) -> None:
    (fake_bin / missing).unlink()
    done, _ = _launch(tmp_path, fake_bin, WIBOX_KIOSK_WAIT_S="0")
    assert done.returncode == 1 and message in done.stderr


def test_launcher_refuses_to_run_outside_its_unit(tmp_path: Path, fake_bin: Path) -> None:
    done = subprocess.run(
        ["/bin/sh", str(SYSTEMD / "wibox-kiosk.sh")],
        capture_output=True,
        text=True,
        env={"PATH": str(fake_bin)},
        check=False,
        timeout=30,
    )
    assert done.returncode == 1 and "RUNTIME_DIRECTORY" in done.stderr


# --- heartbeat watch ----------------------------------------------------------------------------------------------
def _watch_args_from_unit() -> list[str]:
    """The ExecStart= of wibox-kiosk-watch.service minus the interpreter and script path."""
    line = next(
        ln for ln in (SYSTEMD / "wibox-kiosk-watch.service").read_text().splitlines() if ln.startswith("ExecStart=")
    )
    words = shlex.split(line.removeprefix("ExecStart="))
    assert words[:2] == ["/opt/wibox/venv/bin/python", "/opt/wibox/libexec/wibox-kiosk-watch.py"]
    return words[2:]


def _fake_systemctl(tmp_path: Path, active_for: float | None) -> tuple[Path, Path]:
    log = tmp_path / "systemctl.log"
    if active_for is None:
        show = "ActiveState=inactive\nActiveEnterTimestampMonotonic=0"
    else:
        entered = int((time.monotonic() - active_for) * 1_000_000)
        show = f"ActiveState=active\nActiveEnterTimestampMonotonic={entered}"
    script = _write_exe(
        tmp_path / "systemctl",
        f'#!/bin/sh\nif [ "$1" = show ]; then printf "%s\\n" "{show}"; exit 0; fi\necho "$@" >> "{log}"\n',
    )
    return script, log


def _watch(tmp_path: Path, url: str, active_for: float | None) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    systemctl, log = _fake_systemctl(tmp_path, active_for)
    command = [sys.executable, str(SYSTEMD / "wibox-kiosk-watch.py"), *_watch_args_from_unit()]
    done = subprocess.run(
        [*command, "--url", url, "--systemctl", str(systemctl)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    return done, log.read_text().splitlines() if log.exists() else []


# The unit runs it with --max-age 60 --grace 90.
@pytest.mark.parametrize(
    ("body", "active_for", "restarts", "says"),
    [
        ({"page_heartbeat_age_s": 5.0, "uptime_s": 500}, 300.0, False, "heartbeat is 5 s old"),
        ({"page_heartbeat_age_s": 120.0, "uptime_s": 500}, 300.0, True, "heartbeat is 120 s old (limit 60 s)"),
        ({"page_heartbeat_age_s": None, "uptime_s": 500}, 300.0, True, "no page heartbeat since the daemon started"),
        ({"page_heartbeat_age_s": None, "uptime_s": 10}, 300.0, False, "daemon started recently"),
        ({"page_heartbeat_age_s": 120.0, "uptime_s": 500}, 10.0, False, "grace 90 s"),
        ({"page_heartbeat_age_s": 120.0, "uptime_s": 500}, None, False, "not active"),
        # the daemon restarted under the browser: the screen token is new and unclaimed
        ({"page_heartbeat_age_s": 5.0, "uptime_s": 500, "screen": "unclaimed"}, 300.0, True, "not claimed the screen"),
        ({"page_heartbeat_age_s": 5.0, "uptime_s": 30, "screen": "unclaimed"}, 300.0, False, "heartbeat is 5 s old"),
        ({"page_heartbeat_age_s": 5.0, "uptime_s": 500, "screen": "claimed"}, 300.0, False, "heartbeat is 5 s old"),
    ],
)
def test_watch_restarts_the_kiosk_only_when_the_page_heartbeat_is_stale(
    tmp_path: Path, health: Health, body: dict[str, object], active_for: float | None, restarts: bool, says: str
) -> None:
    health.body = json.dumps(body)
    done, calls = _watch(tmp_path, f"{health.url}/healthz", active_for)
    assert done.returncode == 0, done.stderr
    assert says in done.stdout
    assert calls == (["restart --no-block wibox-kiosk.service"] if restarts else [])


def test_watch_leaves_the_browser_alone_when_the_daemon_is_down(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done, calls = _watch(tmp_path, f"http://127.0.0.1:{port}/healthz", 300.0)
    assert done.returncode == 0 and calls == [] and "daemon does not answer" in done.stdout


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"uptime_s": 500}, "no page_heartbeat_age_s field"),
        ({"page_heartbeat_age_s": "old"}, "must be a number or null"),
        ([1, 2], "JSON object"),
    ],
)
def test_watch_fails_loudly_on_a_broken_contract(tmp_path: Path, health: Health, body: object, says: str) -> None:
    health.body = json.dumps(body)
    done, calls = _watch(tmp_path, f"{health.url}/healthz", 300.0)
    assert done.returncode == 1 and says in done.stderr and calls == []


def test_watch_reads_a_503_answer_too(tmp_path: Path, health: Health) -> None:
    health.status = 503
    health.body = json.dumps({"ok": False, "page_heartbeat_age_s": 300.0, "uptime_s": 900})
    done, calls = _watch(tmp_path, f"{health.url}/healthz", 300.0)
    assert done.returncode == 0 and calls == ["restart --no-block wibox-kiosk.service"]


def test_watch_fails_loudly_when_healthz_is_missing(tmp_path: Path, health: Health) -> None:
    done, calls = _watch(tmp_path, f"{health.url}/nothing-here", 300.0)
    assert done.returncode == 1 and "check failed" in done.stderr and calls == []
