"""Settings read from ``PACKFLOW_*`` environment variables.

Every setting has a default that works on a fresh machine: the database is a SQLite file in the
current directory and the in-repo ``contacts_service`` pack is enabled, so ``litestar run`` needs no
configuration at all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///packflow.db"
DEFAULT_PACKS = ("contacts_service",)
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
ENVIRONMENTS = ("development", "production")


class SettingsError(ValueError):
    """A ``PACKFLOW_*`` variable holds a value that cannot be used."""


@dataclass(frozen=True)
class Settings:
    """The application's configuration, one attribute per ``PACKFLOW_*`` variable."""

    database_url: str = DEFAULT_DATABASE_URL
    """``PACKFLOW_DATABASE_URL``: SQLAlchemy async URL (``sqlite+aiosqlite://`` or ``postgresql+asyncpg://``)."""
    packs: tuple[str, ...] = DEFAULT_PACKS
    """``PACKFLOW_PACKS``: comma-separated names of the packs to enable; ``core`` is always enabled."""
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    """``PACKFLOW_MAX_BODY_BYTES``: largest request body accepted; larger ones answer 413."""
    environment: str = "development"
    """``PACKFLOW_ENV``: ``development`` or ``production`` (hides exception messages in 500 answers)."""
    auto_migrate: bool = True
    """``PACKFLOW_AUTO_MIGRATE``: apply pending migrations when the app starts and before CLI commands."""
    echo_sql: bool = False
    """``PACKFLOW_ECHO_SQL``: log every SQL statement."""
    extra: Mapping[str, str] = field(default_factory=dict)
    """Any other ``PACKFLOW_*`` variable, by lower-case name without the prefix (for packs)."""

    @property
    def production(self) -> bool:
        """Whether the app runs in production mode."""
        return self.environment == "production"

    @property
    def enabled_packs(self) -> tuple[str, ...]:
        """``core`` followed by the configured packs, without duplicates, in configuration order."""
        return tuple(dict.fromkeys(("core", *self.packs)))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from ``environ`` (default: ``os.environ``)."""
        env = os.environ if environ is None else environ
        known = {
            "PACKFLOW_DATABASE_URL",
            "PACKFLOW_PACKS",
            "PACKFLOW_MAX_BODY_BYTES",
            "PACKFLOW_ENV",
            "PACKFLOW_AUTO_MIGRATE",
            "PACKFLOW_ECHO_SQL",
        }
        packs: tuple[str, ...] = DEFAULT_PACKS
        if "PACKFLOW_PACKS" in env:
            packs = tuple(name.strip() for name in env["PACKFLOW_PACKS"].split(",") if name.strip())
        environment = env.get("PACKFLOW_ENV", "development").strip().lower()
        if environment not in ENVIRONMENTS:
            raise SettingsError(f"PACKFLOW_ENV must be one of {', '.join(ENVIRONMENTS)}, got {environment!r}")
        return cls(
            database_url=env.get("PACKFLOW_DATABASE_URL", DEFAULT_DATABASE_URL),
            packs=packs,
            max_body_bytes=_positive_int(env, "PACKFLOW_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
            environment=environment,
            auto_migrate=_boolean(env, "PACKFLOW_AUTO_MIGRATE", True),
            echo_sql=_boolean(env, "PACKFLOW_ECHO_SQL", False),
            extra={
                key.removeprefix("PACKFLOW_").lower(): value
                for key, value in env.items()
                if key.startswith("PACKFLOW_") and key not in known
            },
        )


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a positive integer, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be a positive integer, got {raw!r}")
    return value


def _boolean(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")
