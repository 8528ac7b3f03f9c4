"""Settings read from ``PACKFLOW_*`` environment variables and an optional settings file.

Every setting has a default that works on a fresh machine: the database is a SQLite file in the
current directory and the in-repo ``contacts_service`` pack is enabled, so ``litestar run`` needs no
configuration at all. The settings file (:mod:`app.settings_file`) can set the same core settings
and give each pack a section of its own; environment variables win over it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.errors import StartupError
from app.settings_file import SettingsFile, SettingsFileError, read_settings_file, settings_file_path

NumberT = TypeVar("NumberT", int, float)

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///packflow.db"
DEFAULT_PACKS = ("contacts_service",)
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
ENVIRONMENTS = ("development", "production")
QUEUES = ("inline", "saq")
CORE_KEYS = frozenset(
    {
        "database_url",
        "packs",
        "max_body_bytes",
        "env",
        "auto_migrate",
        "echo_sql",
        "queue",
        "queue_url",
        "queue_name",
        "worker_concurrency",
        "lease_seconds",
        "max_attempts",
        "retry_backoff_seconds",
        "sweep_seconds",
        "requeue_pending_seconds",
        "timer_resolution_seconds",
        "timer_retention_seconds",
        "console",
        "console_session_hours",
        "gc_tuning",
    }
)
"""Core settings: ``PACKFLOW_<KEY>`` variables, or keys of the settings file's ``[packflow]`` table."""
KNOWN_VARIABLES = frozenset({f"PACKFLOW_{key.upper()}" for key in CORE_KEYS} | {"PACKFLOW_SETTINGS_FILE"})
PACK_SEPARATOR = "__"
"""``PACKFLOW_<PACK>__<KEY>`` sets the setting ``key`` of pack ``pack``."""


class SettingsError(StartupError, ValueError):
    """A ``PACKFLOW_*`` variable or the settings file holds a value that cannot be used."""


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
    """``PACKFLOW_ENV``: ``development`` or ``production`` (500 answers hide exception messages in both)."""
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
    requeue_pending_seconds: float = 10.0
    """``PACKFLOW_REQUEUE_PENDING_SECONDS``: how long an execution may wait ``pending`` before the recovery sweep
    queues it again (its delivery may have been lost: the API died between saving and queueing it, or a
    worker between taking the job and claiming the execution); a second delivery is harmless."""
    timer_resolution_seconds: float = 0.5
    """``PACKFLOW_TIMER_RESOLUTION_SECONDS``: how often each process that runs executions fires the durable timers
    that came due (docs/workflow-language.md, Waits and durable timers): a timer fires at most about this late
    with no load."""
    timer_retention_seconds: float = 3600.0
    """``PACKFLOW_TIMER_RETENTION_SECONDS``: how long the row of a fired durable timer is kept (to inspect when it
    fired) before the timer sweeps delete it (docs/workflow-language.md, Waits and durable timers)."""
    console: bool = True
    """``PACKFLOW_CONSOLE``: serve the operations console at ``/console`` (README, "The operations console")."""
    console_session_hours: float = 12.0
    """``PACKFLOW_CONSOLE_SESSION_HOURS``: how long a console sign-in lasts."""
    gc_tuning: bool = True
    """``PACKFLOW_GC_TUNING``: once the app or a worker has started, freeze what startup built and collect young
    objects less often (:mod:`app.collector`)."""
    pack_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Each pack's raw settings by pack name (``[packs.<name>]`` in the settings file, ``PACKFLOW_<PACK>__<KEY>``);
    validated against the pack's ``register_settings`` Struct when the packs load."""
    pack_sources: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Where each pack setting came from (a file table or a variable), by pack and key, for error messages."""
    settings_file: str | None = None
    """The settings file that was read, if any (``PACKFLOW_SETTINGS_FILE`` or ``./packflow.toml``)."""
    extra: Mapping[str, str] = field(default_factory=dict)
    """Any other ``PACKFLOW_*`` variable, by lower-case name without the prefix."""

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
        """Read the settings from ``environ`` (default: ``os.environ``) and the settings file.

        The file is the one ``PACKFLOW_SETTINGS_FILE`` names, else ``packflow.toml`` in the current
        directory when it exists (see :mod:`app.settings_file`); an environment variable wins over
        the file. A pack's settings come from its ``[packs.<name>]`` table and from variables
        ``PACKFLOW_<PACK>__<KEY>``.
        """
        env = os.environ if environ is None else environ
        path = settings_file_path(env)
        try:
            file = read_settings_file(path, CORE_KEYS) if path is not None else None
        except SettingsFileError as error:
            raise SettingsError(str(error)) from None
        read = _Reader(env, file)
        packs: tuple[str, ...] = DEFAULT_PACKS
        raw_packs, _ = read("packs")
        if raw_packs is not None:
            packs = tuple(name.strip() for name in raw_packs.split(",") if name.strip())
        environment = read.choice("env", ENVIRONMENTS, "development")
        queue = read.choice("queue", QUEUES, "inline")
        database_url = checked_database_url(*read("database_url"))
        queue_url = checked_queue_url(*read("queue_url"))
        if queue == "saq" and queue_url is None:
            queue_url = default_queue_url(database_url)
        pack_settings, pack_sources = _pack_sections(env, file)
        return cls(
            database_url=database_url,
            packs=packs,
            max_body_bytes=read.positive_int("max_body_bytes", DEFAULT_MAX_BODY_BYTES),
            environment=environment,
            auto_migrate=read.boolean("auto_migrate", True),
            echo_sql=read.boolean("echo_sql", False),
            queue=queue,
            queue_url=queue_url,
            queue_name=(read("queue_name")[0] or "").strip() or "packflow-workflows",
            worker_concurrency=read.positive_int("worker_concurrency", 10),
            lease_seconds=read.positive_float("lease_seconds", 30.0),
            max_attempts=read.positive_int("max_attempts", 5),
            retry_backoff_seconds=read.positive_float("retry_backoff_seconds", 1.0),
            sweep_seconds=read.positive_float("sweep_seconds", 5.0),
            requeue_pending_seconds=read.positive_float("requeue_pending_seconds", 10.0),
            timer_resolution_seconds=read.positive_float("timer_resolution_seconds", 0.5),
            timer_retention_seconds=read.positive_float("timer_retention_seconds", 3600.0),
            console=read.boolean("console", True),
            console_session_hours=read.positive_float("console_session_hours", 12.0),
            gc_tuning=read.boolean("gc_tuning", True),
            pack_settings=pack_settings,
            pack_sources=pack_sources,
            settings_file=str(path) if path is not None else None,
            extra={
                key.removeprefix("PACKFLOW_").lower(): value
                for key, value in env.items()
                if key.startswith("PACKFLOW_") and key not in KNOWN_VARIABLES and PACK_SEPARATOR not in key
            },
        )


DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}
"""The databases Packflow runs on and the async driver of each (README.md, Configuration)."""
EXAMPLE_URLS = "sqlite+aiosqlite:///packflow.db or postgresql+asyncpg://user@host:5432/db"


def checked_database_url(raw: str | None, label: str) -> str:
    """``raw`` (default :data:`DEFAULT_DATABASE_URL`) when it is a URL of SQLite or PostgreSQL with its async
    driver; :class:`SettingsError` naming ``label`` otherwise, before anything tries to connect with it."""
    if raw is None or not raw.strip():
        return DEFAULT_DATABASE_URL
    try:
        url = make_url(raw.strip())
    except ArgumentError:
        raise SettingsError(f"{label} is not a database URL: give e.g. {EXAMPLE_URLS}; got {raw!r}") from None
    backend, driver = url.get_backend_name(), url.drivername.partition("+")[2]
    if DRIVERS.get(backend) != driver:
        given = f"{backend}+{driver}" if driver else backend
        raise SettingsError(
            f"{label} must be a SQLite (sqlite+aiosqlite) or PostgreSQL (postgresql+asyncpg) URL, e.g. "
            f"{EXAMPLE_URLS}; got {given!r}"
        )
    return raw.strip()


BROKER_SCHEMES = ("postgresql", "postgres", "redis", "rediss")
"""The SAQ brokers: PostgreSQL or Redis."""


def checked_queue_url(raw: str | None, label: str) -> str | None:
    """``raw`` stripped (``None`` when unset) when it names a SAQ broker; :class:`SettingsError` naming ``label``
    otherwise."""
    url = (raw or "").strip() or None
    if url is not None and url.partition("://")[0].lower() not in BROKER_SCHEMES:
        raise SettingsError(
            f"{label} must be a postgresql:// or redis:// URL (the SAQ broker), got {url.partition('://')[0]!r}"
        )
    return url


def default_queue_url(database_url: str) -> str:
    """The SAQ broker URL of a PostgreSQL ``database_url`` (the queue lives in the same database)."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise SettingsError(
            "PACKFLOW_QUEUE=saq needs a broker: set PACKFLOW_QUEUE_URL to a redis:// URL, or use a PostgreSQL "
            f"PACKFLOW_DATABASE_URL (the queue then lives in that database); got {url.get_backend_name()!r}"
        )
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class _Reader:
    """Reads one core setting from the environment (``PACKFLOW_<KEY>``), else from the settings file."""

    def __init__(self, env: Mapping[str, str], file: SettingsFile | None) -> None:
        self.env = env
        self.file = file

    def __call__(self, key: str) -> tuple[str | None, str]:
        """The raw text of ``key`` (``None`` when unset) and where it came from, for messages."""
        variable = f"PACKFLOW_{key.upper()}"
        if variable in self.env:
            return self.env[variable], variable
        if self.file is not None and key in self.file.core:
            label = self.file.core_label(key)
            return _as_text(self.file.core[key], label, key == "packs"), label
        return None, variable

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        raw, label = self(key)
        value = (raw or "").strip().lower() or default
        if value not in choices:
            raise SettingsError(f"{label} must be one of {', '.join(choices)}, got {value!r}")
        return value

    def positive_float(self, key: str, default: float) -> float:
        return self._positive(key, default, float, "number")

    def positive_int(self, key: str, default: int) -> int:
        return self._positive(key, default, int, "integer")

    def _positive(self, key: str, default: NumberT, convert: Callable[[str], NumberT], noun: str) -> NumberT:
        raw, label = self(key)
        if raw is None or not raw.strip():
            return default
        try:
            value = convert(raw)
        except ValueError:
            value = None
        if value is None or not value > 0 or not math.isfinite(value):  # nan and inf convert, and mean nothing here
            raise SettingsError(f"{label} must be a positive {noun}, got {raw!r}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        raw, label = self(key)
        if raw is None or not raw.strip():
            return default
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise SettingsError(f"{label} must be true or false, got {raw!r}")


def _as_text(value: Any, label: str, is_list: bool) -> str:
    """A settings-file value as the text its environment variable would hold."""
    if is_list:
        if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
            raise SettingsError(f"{label} must be a list of pack names, got {value!r}")
        return ",".join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise SettingsError(f"{label} must be a string, number or boolean, got {value!r}")


def _pack_sections(
    env: Mapping[str, str], file: SettingsFile | None
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, str]]]:
    """Each pack's raw settings and where each key came from: its file table, then ``PACKFLOW_<PACK>__<KEY>``."""
    values: dict[str, dict[str, Any]] = {}
    sources: dict[str, dict[str, str]] = {}
    if file is not None:
        for pack, section in file.packs.items():
            values[pack] = dict(section)
            sources[pack] = dict.fromkeys(section, file.pack_label(pack))
    for variable, raw in env.items():
        if not variable.startswith("PACKFLOW_") or PACK_SEPARATOR not in variable:
            continue
        pack, _, key = variable.removeprefix("PACKFLOW_").partition(PACK_SEPARATOR)
        if not pack or not key:
            continue
        values.setdefault(pack.lower(), {})[key.lower()] = raw
        sources.setdefault(pack.lower(), {})[key.lower()] = variable
    return values, sources
