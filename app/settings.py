"""Settings read from ``PACKFLOW_*`` environment variables.

Every setting has a default that works on a fresh machine: the database is a SQLite file in the
current directory and the in-repo ``contacts_service`` pack is enabled, so ``litestar run`` needs no
configuration at all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.engine import make_url

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///packflow.db"
DEFAULT_PACKS = ("contacts_service",)
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
ENVIRONMENTS = ("development", "production")
QUEUES = ("inline", "saq")


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
    queue: str = "inline"
    """``PACKFLOW_QUEUE``: ``inline`` (executions run as tasks of the app process) or ``saq`` (worker processes)."""
    queue_url: str | None = None
    """``PACKFLOW_QUEUE_URL``: the SAQ broker, ``postgresql://...`` or ``redis://...`` (default: the PostgreSQL
    database itself)."""
    queue_name: str = "packflow-workflows"
    """``PACKFLOW_QUEUE_NAME``: the SAQ queue's name (apps sharing a broker use different names)."""
    worker_concurrency: int = 10
    """``PACKFLOW_WORKER_CONCURRENCY``: executions one worker (or the inline queue) runs at once."""
    lease_seconds: float = 30.0
    """``PACKFLOW_LEASE_SECONDS``: how long a worker's claim on an execution lasts unless renewed."""
    max_attempts: int = 5
    """``PACKFLOW_MAX_ATTEMPTS``: claims of one execution before it is given up as failed."""
    retry_backoff_seconds: float = 1.0
    """``PACKFLOW_RETRY_BACKOFF_SECONDS``: wait after a failed attempt (doubling each time, at most 5 minutes)."""
    sweep_seconds: float = 5.0
    """``PACKFLOW_SWEEP_SECONDS``: how often workers look for executions whose worker died."""
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
            "PACKFLOW_QUEUE",
            "PACKFLOW_QUEUE_URL",
            "PACKFLOW_QUEUE_NAME",
            "PACKFLOW_WORKER_CONCURRENCY",
            "PACKFLOW_LEASE_SECONDS",
            "PACKFLOW_MAX_ATTEMPTS",
            "PACKFLOW_RETRY_BACKOFF_SECONDS",
            "PACKFLOW_SWEEP_SECONDS",
        }
        packs: tuple[str, ...] = DEFAULT_PACKS
        if "PACKFLOW_PACKS" in env:
            packs = tuple(name.strip() for name in env["PACKFLOW_PACKS"].split(",") if name.strip())
        environment = env.get("PACKFLOW_ENV", "development").strip().lower()
        if environment not in ENVIRONMENTS:
            raise SettingsError(f"PACKFLOW_ENV must be one of {', '.join(ENVIRONMENTS)}, got {environment!r}")
        queue = env.get("PACKFLOW_QUEUE", "inline").strip().lower() or "inline"
        if queue not in QUEUES:
            raise SettingsError(f"PACKFLOW_QUEUE must be one of {', '.join(QUEUES)}, got {queue!r}")
        database_url = env.get("PACKFLOW_DATABASE_URL", DEFAULT_DATABASE_URL)
        queue_url = env.get("PACKFLOW_QUEUE_URL", "").strip() or None
        if queue == "saq" and queue_url is None:
            queue_url = default_queue_url(database_url)
        return cls(
            database_url=database_url,
            packs=packs,
            max_body_bytes=_positive_int(env, "PACKFLOW_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
            environment=environment,
            auto_migrate=_boolean(env, "PACKFLOW_AUTO_MIGRATE", True),
            echo_sql=_boolean(env, "PACKFLOW_ECHO_SQL", False),
            queue=queue,
            queue_url=queue_url,
            queue_name=env.get("PACKFLOW_QUEUE_NAME", "").strip() or "packflow-workflows",
            worker_concurrency=_positive_int(env, "PACKFLOW_WORKER_CONCURRENCY", 10),
            lease_seconds=_positive_float(env, "PACKFLOW_LEASE_SECONDS", 30.0),
            max_attempts=_positive_int(env, "PACKFLOW_MAX_ATTEMPTS", 5),
            retry_backoff_seconds=_positive_float(env, "PACKFLOW_RETRY_BACKOFF_SECONDS", 1.0),
            sweep_seconds=_positive_float(env, "PACKFLOW_SWEEP_SECONDS", 5.0),
            extra={
                key.removeprefix("PACKFLOW_").lower(): value
                for key, value in env.items()
                if key.startswith("PACKFLOW_") and key not in known
            },
        )


def default_queue_url(database_url: str) -> str:
    """The SAQ broker URL of a PostgreSQL ``database_url`` (the queue lives in the same database)."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise SettingsError(
            "PACKFLOW_QUEUE=saq needs a broker: set PACKFLOW_QUEUE_URL to a redis:// URL, or use a PostgreSQL "
            f"PACKFLOW_DATABASE_URL (the queue then lives in that database); got {url.get_backend_name()!r}"
        )
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a positive number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be a positive number, got {raw!r}")
    return value


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
