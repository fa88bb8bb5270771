"""Notices over SMTP: TLS with certificate checks by default, optional SMTP AUTH, plain only when configured."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path

from backend_sync.hub.config import SmtpConfig
from locker.errors import ConfigError

SMTP_TIMEOUT_S = 20.0


class SmtpMailer:
    """The Mailer over SMTP (stdlib smtplib): STARTTLS (default) or implicit TLS, both with certificate and host
    name checks, optional SMTP AUTH; unencrypted only with ``security = "plain"``."""

    def __init__(self, cfg: SmtpConfig, timeout: float = SMTP_TIMEOUT_S) -> None:
        self._cfg = cfg
        self._timeout = timeout
        self._password = smtp_password(cfg)

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self._cfg.ca_file or None)

    def send(self, message: EmailMessage) -> None:
        cfg = self._cfg
        smtp: smtplib.SMTP
        if cfg.security == "tls":
            smtp = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=self._timeout, context=self._context())
        else:
            smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=self._timeout)
        with smtp:
            if cfg.security == "starttls":
                smtp.starttls(context=self._context())  # refuses a relay without STARTTLS or a bad certificate
            if cfg.username:
                smtp.login(cfg.username, self._password)
            smtp.send_message(message)


def smtp_password(cfg: SmtpConfig) -> str:
    """The SMTP AUTH password from ``password_file`` (refused if others can read it); empty without a username."""
    if not cfg.username:
        return ""
    if not cfg.password_file:
        raise ConfigError("smtp.password_file: required with smtp.username")
    path = Path(cfg.password_file)
    try:
        if path.stat().st_mode & 0o077:
            raise ConfigError(f"smtp.password_file: {path} is readable by others; chmod 600 it")
        return path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"smtp.password_file: cannot read {path}: {exc}") from exc
