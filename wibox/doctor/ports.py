"""Serial ports: each configured port exists, is a character device and this user may read and write it."""

from __future__ import annotations

import grp
import os
import pwd
import stat
from pathlib import Path

from wibox.doctor.report import Result, failed, passed, skipped


def _user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def check_port(what: str, port: str) -> Result:
    """``what`` names the user of the port (``bus bus0``, ``serial scanner``)."""
    subject = f"device {port} ({what})"
    if "://" in port:
        return skipped(subject, "is a pyserial URL, not a device: not checked")
    path = Path(port)
    try:
        st = path.stat()
    except FileNotFoundError:
        return failed(
            subject,
            "does not exist",
            "plug the adapter in and check its udev name (systemd/99-wibox.rules, `ls -l /dev/wibox-*`)",
        )
    except OSError as exc:
        return failed(subject, f"cannot be examined: {exc.strerror}", "check the path in the configuration")
    if not stat.S_ISCHR(st.st_mode):
        return failed(subject, "is not a character device", "point the configuration at the serial device")
    resolved = f" (-> {path.resolve()})" if path.is_symlink() else ""
    if not os.access(path, os.R_OK | os.W_OK):
        group = _group(st.st_gid)
        return failed(
            subject,
            f"is not readable and writable by user {_user()}{resolved} (owner group {group}, mode "
            f"{stat.S_IMODE(st.st_mode):o})",
            f"add the user to group {group} (`usermod -aG {group} {_user()}`, then log in again); "
            "the service runs as wibox with SupplementaryGroups=dialout",
        )
    return passed(subject, f"is a character device{resolved}, readable and writable by {_user()}")
