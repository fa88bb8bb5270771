"""The data directory: free space and an fsync'd write-speed sample (a few MB, removed afterwards)."""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from wibox.doctor.report import Result, failed, passed, skipped, warned

MB = 1024 * 1024
FAIL_FREE_MB = 200  # below this the database and the journal may not fit a day's writes
WARN_FREE_MB = 1024
SAMPLE_MB = 4
SYNC_WRITES = 10  # small writes, each fsync'd: what SQLite (synchronous=FULL) does per transaction
WARN_MB_S = 2.0
WARN_SYNC_MS = 100.0


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_free(data_dir: Path) -> Result:
    subject = f"disk {data_dir}"
    base = _existing(data_dir)
    if base.exists() and not base.is_dir():
        return failed(subject, f"cannot be a folder: {base} is a file", "fix storage.database in the configuration")
    usage = shutil.disk_usage(base)
    free, total = usage.free / MB, usage.total / MB
    text = f"{free / 1024:.1f} GB free of {total / 1024:.1f} GB"
    if base != data_dir:
        text += f" (on {base}; the folder does not exist yet, the daemon creates it)"
    if free < FAIL_FREE_MB:
        return failed(subject, text, "free space: old logs (`journalctl --vacuum-size=50M`), backups, or a larger card")
    if free < WARN_FREE_MB:
        return warned(subject, text, "less than 1 GB left: clean up before it runs out")
    return passed(subject, text)


def check_write_speed(data_dir: Path) -> Result:
    subject = f"write speed {data_dir}"
    if not data_dir.is_dir():
        return skipped(subject, "not measured: the data folder does not exist")
    try:
        fd, name = tempfile.mkstemp(prefix=".wibox-doctor-", dir=data_dir)
    except OSError as exc:
        return failed(
            subject,
            f"cannot write to the data folder: {exc.strerror}",
            "run doctor as the service user (`sudo -u wibox wibox doctor …`); the folder belongs to wibox, mode 0700",
        )
    try:
        mb_s, sync_ms = _measure(fd)
    except OSError as exc:
        return failed(subject, f"writing failed: {exc.strerror}", "the card may be full, read-only or failing")
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            Path(name).unlink()
    text = f"{mb_s:.1f} MB/s ({SAMPLE_MB} MB, fsync'd), {sync_ms:.1f} ms per small fsync'd write"
    if mb_s < WARN_MB_S or sync_ms > WARN_SYNC_MS:
        return warned(subject, text, "a slow or worn SD card: replace it with an endurance card")
    return passed(subject, text)


def _measure(fd: int) -> tuple[float, float]:
    """(MB/s of one large write + fsync, median ms of a small write + fsync)."""
    block = os.urandom(MB)
    started = time.perf_counter()
    for _ in range(SAMPLE_MB):
        os.write(fd, block)
    os.fsync(fd)
    elapsed = max(time.perf_counter() - started, 1e-6)
    small = block[:4096]
    times = []
    for _ in range(SYNC_WRITES):
        t0 = time.perf_counter()
        os.write(fd, small)
        os.fsync(fd)
        times.append((time.perf_counter() - t0) * 1000)
    return SAMPLE_MB / elapsed, statistics.median(times)
