"""The clock: synchronised by NTP (manifests and commands expire), and close to the hub's time when it answers."""

from __future__ import annotations

import ctypes
import ctypes.util
import shutil
import subprocess
from collections.abc import Callable
from email.utils import parsedate_to_datetime

from wibox.doctor.report import Result, failed, passed, skipped, warned

SUBJECT = "clock"
TIME_ERROR = 5  # adjtimex(2): the kernel clock is not synchronised
STA_UNSYNC = 0x0040
WARN_SKEW_S = 10.0
FAIL_SKEW_S = 300.0  # bundles, commands and manifests carry expiry times; minutes off breaks them
NTP_HINT = "enable time sync (`timedatectl set-ntp true`) and let the station reach an NTP server (UDP 123)"

Runner = Callable[[list[str]], str | None]


def run_quietly(argv: list[str]) -> str | None:
    """A command's standard output, or None when it is missing, fails or hangs."""
    if shutil.which(argv[0]) is None:
        return None
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    """struct timex of adjtimex(2) up to ``tick``; ``_pad`` covers the rest of the kernel's struct."""

    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long),
        ("_pad", ctypes.c_byte * 256),
    ]


def kernel_synchronised() -> bool | None:
    """adjtimex(2) read-only (modes 0): True/False, or None where it is not available."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        tx = _Timex()
        state = int(libc.adjtimex(ctypes.byref(tx)))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != TIME_ERROR and not tx.status & STA_UNSYNC


def check_ntp(run: Runner = run_quietly, kernel: Callable[[], bool | None] = kernel_synchronised) -> Result:
    answer = run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"])
    if answer in ("yes", "no"):
        if answer == "yes":
            return passed(SUBJECT, "synchronised (timedatectl: NTPSynchronized=yes)")
        return failed(SUBJECT, "not synchronised (timedatectl: NTPSynchronized=no)", NTP_HINT)
    synced = kernel()
    if synced is None:
        return skipped(SUBJECT, "synchronisation unknown: no timedatectl answer and adjtimex(2) is not available")
    if synced:
        return passed(SUBJECT, "synchronised, says the kernel (adjtimex; no timedatectl on this machine)")
    # Without timedatectl this is no installed station (a container, a development machine): a warning only.
    return warned(SUBJECT, "not synchronised, says the kernel (adjtimex; no timedatectl on this machine)", NTP_HINT)


def check_skew(hub_date: str | None, now: float) -> Result:
    """Compare with the hub's HTTP ``Date`` header (None: the hub did not answer, nothing to compare)."""
    subject = "clock vs hub"
    if hub_date is None:
        return skipped(subject, "not compared: no answer from the hub")
    try:
        hub_now = parsedate_to_datetime(hub_date).timestamp()
    except (TypeError, ValueError):
        return skipped(subject, f"not compared: the hub's Date header {hub_date!r} is not a date")
    skew = now - hub_now
    text = f"{abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} the hub (Date header, 1 s resolution)"
    if abs(skew) > FAIL_SKEW_S:
        return failed(subject, text, NTP_HINT)
    if abs(skew) > WARN_SKEW_S:
        return warned(subject, text, NTP_HINT)
    return passed(subject, text)
