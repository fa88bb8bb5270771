"""`wibox doctor`'s checks where this machine lacks the real thing (no systemd, no timedatectl, no Raspberry Pi):
they read their facts through a command runner and a model file, given here as recorded answers."""

from __future__ import annotations

import email.utils
import io
from pathlib import Path

from wibox.doctor import clock, gpio, report, services
from wibox.doctor.report import Check, Status

NOW = 1_800_000_000.0


def answers(table: dict[str, str | None]) -> clock.Runner:
    """A runner answering each command line (joined by spaces) from ``table``; anything else fails (None)."""
    return lambda argv: table.get(" ".join(argv))


def test_timedatectl_decides_when_it_answers() -> None:
    cmd = "timedatectl show -p NTPSynchronized --value"
    assert clock.check_ntp(answers({cmd: "yes"}), kernel=lambda: False).status is Status.PASS
    no = clock.check_ntp(answers({cmd: "no"}), kernel=lambda: True)
    assert no.status is Status.FAIL and "timedatectl set-ntp true" in no.hint


def test_without_timedatectl_the_kernel_is_asked_and_without_both_the_check_is_skipped() -> None:
    assert clock.check_ntp(answers({}), kernel=lambda: True).status is Status.PASS
    assert clock.check_ntp(answers({}), kernel=lambda: False).status is Status.WARN
    skipped = clock.check_ntp(answers({}), kernel=lambda: None)
    assert skipped.status is Status.SKIP and "adjtimex" in skipped.message


def test_the_kernel_answers_here_without_crashing() -> None:
    assert clock.kernel_synchronised() in (True, False, None)


def test_clock_skew_against_the_hubs_date_header() -> None:
    def date(offset: float) -> str:
        return email.utils.formatdate(NOW + offset, usegmt=True)

    assert clock.check_skew(date(-2), NOW).status is Status.PASS
    assert clock.check_skew(date(-60), NOW).status is Status.WARN
    far = clock.check_skew(date(3600), NOW)
    assert far.status is Status.FAIL and "3600 s behind the hub" in far.message
    assert clock.check_skew("yesterday", NOW).status is Status.SKIP
    assert clock.check_skew(None, NOW).status is Status.SKIP


def test_a_pi_5_needs_lgpio(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.write_text("Raspberry Pi 5 Model B Rev 1.0\x00")
    with_lgpio = gpio.check_gpio(model, True, env={}, can_import=lambda m: m == "lgpio")
    assert with_lgpio.status is Status.PASS and with_lgpio.message.startswith("lgpio on Raspberry Pi 5")
    without = gpio.check_gpio(model, True, env={}, can_import=lambda m: m == "RPi.GPIO")
    assert without.status is Status.FAIL and "rpigpio" in without.message
    assert gpio.check_gpio(model, False, env={}, can_import=lambda m: False).status is Status.WARN
    forced = gpio.check_gpio(model, True, env={"GPIOZERO_PIN_FACTORY": "pigpio"}, can_import=lambda m: True)
    assert forced.status is Status.FAIL


def test_an_older_pi_may_use_another_factory_and_a_pc_is_skipped(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.write_text("Raspberry Pi 4 Model B Rev 1.4")
    assert gpio.check_gpio(model, True, env={}, can_import=lambda m: m == "RPi.GPIO").status is Status.PASS
    assert gpio.check_gpio(tmp_path / "absent", True).status is Status.SKIP


SHOW = "--property=LoadState --property=UnitFileState --property=ActiveState --property=WatchdogUSec"


def unit(name: str, enabled: str = "enabled", active: str = "active", watchdog: str = "30s") -> dict[str, str | None]:
    state = f"LoadState=loaded\nUnitFileState={enabled}\nActiveState={active}\nWatchdogUSec={watchdog}"
    return {f"systemctl show {name} {SHOW}": state}


def test_systemd_units_enabled_active_and_watched(tmp_path: Path) -> None:
    table: dict[str, str | None] = {"systemctl show --property=RuntimeWatchdogUSec": "RuntimeWatchdogUSec=15s"}
    table |= unit("wibox.service") | unit("wibox-kiosk.service", watchdog="0") | unit("wibox-kiosk-watch.timer")
    results = services.check_units(answers(table), systemd_dir=tmp_path)
    assert [r.status for r in results] == [Status.PASS] * 4, results
    assert "WatchdogSec=30s" in results[0].message

    table |= unit("wibox.service", watchdog="0") | unit("wibox-kiosk.service", enabled="disabled")
    table |= unit("wibox-kiosk-watch.timer", active="inactive")
    table["systemctl show --property=RuntimeWatchdogUSec"] = "RuntimeWatchdogUSec=0"
    found = [r.status for r in services.check_units(answers(table), systemd_dir=tmp_path)]
    assert found == [Status.FAIL, Status.FAIL, Status.WARN, Status.WARN]


def test_without_systemd_the_units_are_skipped(tmp_path: Path) -> None:
    results = services.check_units(answers({}), systemd_dir=tmp_path / "absent")
    assert [r.status for r in results] == [Status.SKIP]


def test_a_crashing_check_is_one_fail_line_and_the_rest_still_run() -> None:
    def boom() -> report.Result:
        raise RuntimeError("surprise")

    out = io.StringIO()
    code = report.print_text([Check("boom", boom), Check("fine", lambda: report.passed("fine", "ok"))], out)
    text = out.getvalue()
    assert code == report.EXIT_FAILED
    assert "FAIL  boom the check itself failed: RuntimeError: surprise" in text
    assert "PASS  fine ok" in text
    assert text.splitlines()[-1] == "doctor: FAILED (1 passed, 0 warnings, 1 failed, 0 skipped)"


def test_warnings_do_not_fail_the_run() -> None:
    out = io.StringIO()
    checks = [Check("w", lambda: report.warned("w", "meh", "look")), Check("s", lambda: report.skipped("s", "n/a"))]
    assert report.print_text(checks, out) == report.EXIT_OK
    assert "      fix: look" in out.getvalue()


def test_the_kiosk_screen_is_judged_by_what_its_page_reported_to_the_daemon() -> None:
    def screen(**health: object) -> report.Result:
        base: dict[str, object] = {"ok": True, "screen": "claimed", "page_heartbeat_age_s": 4.0}
        return services.check_screen(services.DaemonView(True, "test", {**base, **health}))

    full = screen(page_viewport=[1280, 720], page_screen=[1280, 720], page_fills_screen=True)
    assert full.status is Status.PASS and "page 1280x720 on a 1280x720 screen" in full.message
    small = screen(page_viewport=[532, 128], page_screen=[1280, 720], page_fills_screen=False)
    assert small.status is Status.FAIL and "does not fill the screen" in small.message
    assert screen(page_heartbeat_age_s=None).status is Status.WARN  # no browser since the daemon started
    assert screen(page_heartbeat_age_s=75.0).status is Status.WARN  # a hung page
    assert screen(screen="unclaimed").status is Status.WARN
    assert services.check_screen(services.DaemonView(False, "nothing answers")).status is Status.SKIP
