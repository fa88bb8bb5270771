"""Hub configuration: one TOML file parsed once at start into frozen dataclasses; errors name the key."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The station's strict table builder and key description (same rules: unknown keys, types and ranges are errors).
from locker.config import build_section, describe_keys, spec
from locker.errors import ConfigError


@dataclass(frozen=True)
class ServerConfig:
    host: str = field(default="127.0.0.1", metadata=spec("listen address (put a TLS proxy in front for kiosks)"))
    port: int = field(default=8090, metadata=spec("listen port", lo=1, hi=65535))
    public_base_url: str = field(
        default="http://127.0.0.1:8090",
        metadata=spec("URL kiosks and citizens' links use to reach the hub", pattern=r"^https?://[^\s]+$"),
    )


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = field(
        default="",
        metadata=spec(
            "SQLAlchemy URL: sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DB (empty: DATA_DIR/hub.db)"
        ),
    )
    pool_size: int = field(default=10, metadata=spec("connections kept open per hub process", lo=1, hi=200))


@dataclass(frozen=True)
class SyncConfig:
    bundle_lifetime_days: int = field(default=14, metadata=spec("validity of each bundle manifest", lo=1, hi=31))
    max_orders_per_bundle: int = field(
        default=1000, metadata=spec("orders per bundle (larger loads are split)", lo=1, hi=10000)
    )
    max_clock_skew_s: int = field(
        default=86400,
        metadata=spec("kiosk messages whose sent_at is further from the hub's time are refused", lo=60, hi=90 * 86400),
    )
    command_lifetime_s: int = field(default=3600, metadata=spec("remote commands expire after", lo=30, hi=7 * 86400))
    max_events_per_message: int = field(default=500, metadata=spec("events accepted per message", lo=1, hi=10000))


@dataclass(frozen=True)
class SmtpConfig:
    """The relay the notices go through; they carry the citizen's PIN and QR code, so TLS is the default."""

    host: str = field(default="localhost", metadata=spec("SMTP relay host (its certificate must name it)"))
    port: int = field(default=587, metadata=spec("SMTP relay port (587 submission, 465 implicit TLS)", lo=1, hi=65535))
    from_address: str = field(
        default="wibox@localhost", metadata=spec("From: of notices", pattern=r"^[^@\s]+@[^@\s]+$")
    )
    security: str = field(
        default="starttls",
        metadata=spec(
            "starttls, tls (implicit) or plain (no encryption: only for a relay on the same host)",
            choices=("starttls", "tls", "plain"),
        ),
    )
    ca_file: str = field(default="", metadata=spec("PEM CA bundle for the relay's certificate (default: system CAs)"))
    username: str = field(default="", metadata=spec("SMTP AUTH user name (empty: no authentication)"))
    password_file: str = field(
        default="", metadata=spec("file holding the SMTP AUTH password (mode 0600), required with username")
    )


@dataclass(frozen=True)
class HubConfig:
    data_dir: str = field(default="/var/lib/wibox-hub", metadata=spec("directory for the database and key files"))
    server: ServerConfig = field(default_factory=ServerConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{Path(self.data_dir) / 'hub.db'}"

    @property
    def key_dir(self) -> Path:
        return Path(self.data_dir) / "keys"


def parse_hub_config(text: str) -> HubConfig:
    try:
        table: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}") from exc
    cfg: HubConfig = build_section(HubConfig, table, "")
    url = cfg.database_url
    if not url.startswith(("sqlite:///", "postgresql+psycopg://")):
        raise ConfigError(f"database.url: {url!r} is neither sqlite:///... nor postgresql+psycopg://...")
    return cfg


def load_hub_config(path: str | Path) -> HubConfig:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {p}: {exc.strerror}") from exc
    return parse_hub_config(text)


def hub_keys_described() -> list[tuple[str, str, str]]:
    """Every hub configuration key as (key, type, description), for the docs test."""
    return describe_keys(HubConfig)
