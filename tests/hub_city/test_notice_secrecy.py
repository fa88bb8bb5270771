"""Notices carry the PIN and the QR code: the hub sends them over TLS with certificate checks unless a relay is
explicitly configured as plain, supports SMTP AUTH, refuses a password file others can read, and keeps every file
that holds codes owner-only."""

from __future__ import annotations

import os
import smtplib
import ssl
import stat
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from backend_sync.hub.config import SmtpConfig, parse_hub_config
from backend_sync.hub.db import HubStore
from backend_sync.hub.smtp import SmtpMailer
from locker.errors import ConfigError
from tests.hub.smtp_sink import SmtpSink
from wibox.demo.common import write_private
from wibox.demo.hub import FileMailer


def message() -> EmailMessage:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "wibox@a.example", "citizen@example.org", "Ihr Dokument"
    m.set_content("PIN 123456")
    return m


@pytest.fixture
def relays(tmp_path: Path) -> Iterator[dict[str, SmtpSink]]:
    sinks = {
        "starttls": SmtpSink(security="starttls", tls_dir=tmp_path / "a"),
        "tls": SmtpSink(security="tls", tls_dir=tmp_path / "b"),
        "plain": SmtpSink(security="plain"),
        "auth": SmtpSink(security="starttls", tls_dir=tmp_path / "c", users={"hub": "s3cret-relay-pass"}),
    }
    for s in sinks.values():
        s.start()
    try:
        yield sinks
    finally:
        for s in sinks.values():
            s.stop()


def cfg(sink: SmtpSink, **over: str) -> SmtpConfig:
    values = {"host": "127.0.0.1", "port": sink.port, "ca_file": str(sink.ca_file or "")} | over
    return SmtpConfig(**values)  # type: ignore[arg-type]


def test_defaults_are_encrypted_and_checked() -> None:
    default = parse_hub_config("").smtp
    assert (default.security, default.port) == ("starttls", 587)
    with pytest.raises(ConfigError):
        parse_hub_config('[smtp]\nsecurity = "none"\n')


def test_tls_is_used_and_checked(relays: dict[str, SmtpSink], tmp_path: Path) -> None:
    SmtpMailer(cfg(relays["starttls"])).send(message())
    SmtpMailer(cfg(relays["tls"], security="tls")).send(message())
    assert relays["starttls"].over_tls == [True] and relays["tls"].over_tls == [True]
    # A relay that offers no STARTTLS gets nothing under the default; only an explicit "plain" sends there.
    with pytest.raises(smtplib.SMTPNotSupportedError):
        SmtpMailer(cfg(relays["plain"])).send(message())
    assert relays["plain"].messages == []
    SmtpMailer(cfg(relays["plain"], security="plain")).send(message())
    assert relays["plain"].over_tls == [False]
    # A certificate the hub cannot verify (here: not signed by the system CAs) is refused before any data.
    with pytest.raises(ssl.SSLCertVerificationError):
        SmtpMailer(cfg(relays["starttls"], ca_file="")).send(message())
    with pytest.raises(ssl.SSLCertVerificationError):  # nor one that does not name the host: "localhost"
        SmtpMailer(cfg(relays["starttls"], host="localhost")).send(message())
    assert len(relays["starttls"].messages) == 1


def test_smtp_auth_with_a_private_password_file(relays: dict[str, SmtpSink], tmp_path: Path) -> None:
    secret = tmp_path / "smtp-password"
    secret.write_text("s3cret-relay-pass\n")
    secret.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        SmtpMailer(cfg(relays["auth"], username="hub", password_file=str(secret)))
    secret.chmod(0o600)
    with pytest.raises(smtplib.SMTPSenderRefused):  # the relay requires AUTH
        SmtpMailer(cfg(relays["auth"])).send(message())
    SmtpMailer(cfg(relays["auth"], username="hub", password_file=str(secret))).send(message())
    assert relays["auth"].logins == ["hub"] and relays["auth"].over_tls == [True]


def test_files_holding_codes_are_owner_only(tmp_path: Path) -> None:
    """The hub's database (codes in clear until the notice is sent) with its WAL, and the demo's notices and codes
    file, are mode 0600 whatever the umask."""
    old = os.umask(0o022)
    try:
        store = HubStore.open(f"sqlite:///{tmp_path / 'hub' / 'hub.db'}")
        with store.write() as conn:
            store.add_city(conn, "alpha", "Alpha")
        files = [tmp_path / "hub" / n for n in ("hub.db", "hub.db-wal", "hub.db-shm")]
        modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files}  # while open: the WAL exists
        store.close()
        mails = FileMailer(tmp_path / "mail")
        mails.send(message())
        write_private(tmp_path / "codes.json", b"[]")
        files += [*mails.sent_to("citizen@example.org"), tmp_path / "codes.json"]
        modes |= {f.name: stat.S_IMODE(f.stat().st_mode) for f in files[3:]}
        assert modes == {f.name: 0o600 for f in files}
        assert stat.S_IMODE((tmp_path / "mail").stat().st_mode) == 0o700
    finally:
        os.umask(old)
