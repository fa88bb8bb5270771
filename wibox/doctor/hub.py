"""The hub: reachable at ``sync.hub_url`` (its Date header checks the clock) and this station's enrollment state."""

from __future__ import annotations

import stat
import time
from collections.abc import Callable
from pathlib import Path

from locker.config import SyncConfig
from locker.errors import StoreError
from wibox.doctor import clock
from wibox.doctor.report import Result, failed, passed, skipped, warned
from wibox.doctor.station_db import pinned_hub_keys
from wibox.doctor.web import Reply

Get = Callable[[str, float], Reply | str]
KEY_FILES = ("kiosk-sign.pem", "kiosk-enc.pem")  # backend_sync.keys.KeyStore.kiosk_keys
TIMEOUT_S = 5.0


def check_hub(sync: SyncConfig, get: Get, now: Callable[[], float] = time.time) -> list[Result]:
    """``hub <url>`` reachable, and the clock compared with the hub's."""
    if not sync.hub_url:
        return [skipped("hub", "not checked: sync.hub_url is empty (the station runs offline)")]
    subject = f"hub {sync.hub_url}"
    reply = get(sync.hub_url.rstrip("/") + "/healthz", TIMEOUT_S)
    if isinstance(reply, str):
        hint = "check the network, DNS, the firewall (outbound HTTPS) and sync.hub_url; the station works offline"
        return [failed(subject, f"does not answer: {reply}", hint), clock.check_skew(None, now())]
    if reply.status != 200:
        found = warned(subject, f"answers, but /healthz says HTTP {reply.status}", "is sync.hub_url the city's hub?")
    else:
        found = passed(subject, "answers (/healthz ok)")
    return [found, clock.check_skew(reply.date, now())]


def check_enrollment(sync: SyncConfig, database: Path) -> Result:
    subject = "enrollment"
    if not sync.hub_url:
        return skipped(subject, "not checked: no hub configured")
    keys = Path(sync.key_dir)
    for name in KEY_FILES:
        path = keys / name
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            return warned(
                subject,
                f"not enrolled: no key {path} yet",
                "start the daemon: it creates its keys and shows an 8-digit code to approve at the hub",
            )
        except OSError as exc:
            return failed(subject, f"cannot read {path}: {exc.strerror}", "run doctor as the service user wibox")
        if mode & 0o077:
            return failed(subject, f"key {path} has mode {mode:o}", f"`chmod 600 {path}` (the daemon refuses it)")
    try:
        pinned = pinned_hub_keys(database)
    except StoreError as exc:
        return failed(subject, str(exc), "run doctor as the service user wibox")
    if not pinned:
        return warned(
            subject,
            "keys exist, but no hub key is pinned: the enrollment is not approved yet",
            "approve the 8-digit code shown on the station's start screen in the hub's admin pages",
        )
    return passed(subject, f"enrolled: {pinned} hub key(s) pinned, device keys present (mode 600)")
