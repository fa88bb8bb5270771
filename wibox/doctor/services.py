"""The running daemon (its /healthz on loopback) and the systemd units, their enablement and watchdogs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wibox.doctor.clock import Runner
from wibox.doctor.hub import Get
from wibox.doctor.report import Result, failed, passed, skipped, warned

UNITS = ("wibox.service", "wibox-kiosk.service", "wibox-kiosk-watch.timer")
DAEMON_UNIT = "wibox.service"
SYSTEMD_RUNNING = Path("/run/systemd/system")  # sd_booted(3): present when systemd is PID 1
UNSET = ("", "0", "infinity")
STALE_PAGE_S = 60  # as wibox-kiosk-watch: the page beats every 10 s


@dataclass(frozen=True)
class DaemonView:
    """Whether `wibox run` is up, how that was seen, and its /healthz body when it answered."""

    running: bool
    how: str
    health: dict[str, Any] | None = None


def find_daemon(ui_port: int, get: Get, run: Runner) -> DaemonView:
    """The daemon owns the ports while its kiosk UI answers on 127.0.0.1:<ui.port> or systemd says it is active."""
    url = f"http://127.0.0.1:{ui_port}/healthz"
    reply = get(url, 2.0)
    if not isinstance(reply, str):
        body = reply.body if isinstance(reply.body, dict) else {}
        return DaemonView(True, f"its kiosk UI answers on {url} (HTTP {reply.status})", body)
    if run(["systemctl", "is-active", DAEMON_UNIT]) == "active":
        return DaemonView(True, f"systemd reports {DAEMON_UNIT} active (its UI does not answer on {url})")
    return DaemonView(False, f"nothing answers on {url}")


def check_daemon(view: DaemonView) -> Result:
    subject = "daemon"
    if not view.running:
        return skipped(subject, f"not running ({view.how}): boards and camera are checked directly")
    h = view.health
    if h is None:
        return warned(subject, f"running: {view.how}", "hardware checks skipped; `journalctl -u wibox` for its log")
    text = f"running: {view.how}; up {float(h.get('uptime_s') or 0) / 3600:.1f} h, screen {h.get('screen', '?')}"
    if not h.get("ok", False):
        return failed(subject, f"{text}; its ticker failed: {h.get('ticker')}", "`journalctl -u wibox` shows why")
    if h.get("out_of_service"):
        return warned(subject, f"{text}; the station is out of service", "open the staff screen: it names the cause")
    return passed(subject, f"{text}; hardware checks left to it (stop it with `systemctl stop wibox` to run them)")


def check_screen(view: DaemonView) -> Result:
    """The kiosk browser, as the daemon sees it: its page's heartbeat, its claim of the screen, its size."""
    subject = "kiosk screen"
    h = view.health
    if not view.running or h is None:
        return skipped(subject, "the daemon does not answer: the kiosk page reports to it")
    age = h.get("page_heartbeat_age_s")
    if age is None:
        return warned(subject, "no kiosk page has reported since the daemon started", "`systemctl status wibox-kiosk`")
    text = f"page reported {float(age):.0f} s ago, screen {h.get('screen', '?')}"
    viewport, screen = h.get("page_viewport"), h.get("page_screen")
    if viewport and screen:
        text += f", page {viewport[0]}x{viewport[1]} on a {screen[0]}x{screen[1]} screen"
    if h.get("page_fills_screen") is False:
        return failed(
            subject, f"{text}: the page does not fill the screen", "`systemctl restart wibox-kiosk`; see operations.md"
        )
    if float(age) > STALE_PAGE_S:
        return warned(
            subject, f"{text}: the page is silent", "wibox-kiosk-watch restarts it; else `journalctl -u wibox-kiosk`"
        )
    if h.get("screen") == "unclaimed":
        return warned(subject, f"{text}: no browser holds the screen", "`systemctl restart wibox-kiosk`")
    return passed(subject, text)


def _show(run: Runner, unit: str | None, props: tuple[str, ...]) -> dict[str, str] | None:
    argv = ["systemctl", "show", *([unit] if unit else []), *(f"--property={p}" for p in props)]
    out = run(argv)
    if out is None:
        return None
    return dict(line.partition("=")[::2] for line in out.splitlines() if "=" in line)


def check_units(run: Runner, systemd_dir: Path = SYSTEMD_RUNNING) -> list[Result]:
    if not systemd_dir.is_dir():
        return [skipped("systemd", f"not checked: systemd is not running on this machine ({systemd_dir} missing)")]
    out = [_unit(run, u) for u in UNITS]
    manager = _show(run, None, ("RuntimeWatchdogUSec",)) or {}
    hw = manager.get("RuntimeWatchdogUSec", "")
    if hw in UNSET:
        out.append(
            warned(
                "hardware watchdog",
                "not fed by systemd (RuntimeWatchdogSec unset): a hung kernel is not rebooted",
                "install systemd/system-watchdog-wibox.conf (systemd/install.sh does), then reboot",
            )
        )
    else:
        out.append(passed("hardware watchdog", f"fed by systemd (RuntimeWatchdogSec={hw})"))
    return out


def _unit(run: Runner, unit: str) -> Result:
    subject = f"unit {unit}"
    p = _show(run, unit, ("LoadState", "UnitFileState", "ActiveState", "WatchdogUSec"))
    if p is None:
        return failed(subject, "`systemctl show` failed", "is systemd working? `systemctl status`")
    if p.get("LoadState") != "loaded":
        return failed(subject, f"is not installed (LoadState={p.get('LoadState')})", "run systemd/install.sh")
    text = f"installed, {p.get('UnitFileState')}, {p.get('ActiveState')}"
    if unit == DAEMON_UNIT:
        wd = p.get("WatchdogUSec", "")
        if wd in UNSET:
            return failed(subject, f"{text}, no WatchdogSec", "reinstall the unit file (systemd/install.sh)")
        text += f", WatchdogSec={wd}"
    if p.get("UnitFileState") != "enabled":
        return failed(subject, f"{text}: does not start at boot", f"`systemctl enable {unit}`")
    if p.get("ActiveState") == "failed":
        return failed(subject, text, f"`journalctl -u {unit}` shows why; `systemctl restart {unit}`")
    if p.get("ActiveState") != "active":
        return warned(subject, text, f"start it when the checks are done: `systemctl start {unit}`")
    return passed(subject, text)
