"""A real SMTP server (aiosmtpd) on 127.0.0.1 for hub tests: STARTTLS, implicit TLS or plain, optional AUTH."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import ssl
import threading
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.hub.servers import free_port


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 only (its own CA) and its key, as PEM files in ``directory``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wibox test relay")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "relay.pem", directory / "relay-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class SmtpSink:
    """Keeps every message it accepts (parsed by ``email``) and whether it came over TLS.

    ``security``: "starttls" (STARTTLS required before MAIL), "tls" (implicit TLS) or "plain"; ``tls_dir`` holds
    the generated certificate (``ca_file`` for the client). ``users``: SMTP AUTH is required with these passwords.
    """

    def __init__(
        self, *, security: str = "plain", tls_dir: Path | None = None, users: dict[str, str] | None = None
    ) -> None:
        self.port = free_port()
        self.security = security
        self.messages: list[EmailMessage] = []
        self.over_tls: list[bool] = []
        self.logins: list[str] = []
        self._users = users or {}
        self._arrived = threading.Condition()
        self.ca_file: Path | None = None
        kwargs: dict[str, Any] = {}
        if security != "plain":
            assert tls_dir is not None, "TLS needs a directory for the certificate"
            self.ca_file, key_file = self_signed(tls_dir)
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(self.ca_file, key_file)
            if security == "tls":
                kwargs["ssl_context"] = ctx
            else:
                kwargs.update(tls_context=ctx, require_starttls=True)
        if users:
            kwargs.update(authenticator=self._authenticate, auth_required=True)
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **kwargs)

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and self._users.get(auth_data.login.decode()) == auth_data.password.decode()
        )
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)

    async def handle_DATA(  # noqa: N802  (aiosmtpd looks the hook up by this name)
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        with self._arrived:
            self.messages.append(msg)
            implicit = server.transport.get_extra_info("ssl_object") is not None
            self.over_tls.append(session.ssl is not None or implicit)
            self._arrived.notify_all()
        return "250 OK"

    def hub_config(self) -> str:
        """The hub's ``[smtp]`` table for this relay."""
        ca = f'ca_file = "{self.ca_file}"\n' if self.ca_file else ""
        return f'[smtp]\nhost = "127.0.0.1"\nport = {self.port}\nsecurity = "{self.security}"\n{ca}'

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """The first ``count`` messages, waiting up to ``timeout`` seconds for them to arrive."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.messages) >= count, timeout):
                raise TimeoutError(f"{len(self.messages)} of {count} messages arrived in {timeout} s")
            return list(self.messages[:count])
