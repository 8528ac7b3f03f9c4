"""The database: advanced-alchemy configuration and migrations applied at startup."""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from advanced_alchemy.extensions.litestar import (
    AlembicAsyncConfig,
    AsyncSessionConfig,
    EngineConfig,
    SQLAlchemyAsyncConfig,
)
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.errors import StartupError
from app.packs import LoadedPacks
from app.settings import Settings
from packs.core.items import SQLITE_LOWER, unicode_lower
from packs.core.workflow.stores.sql import configure_sqlite_engine

VERSION_TABLE = "alembic_version"
MIGRATION_LOCK_ID = 7_246_563_011  # any constant: serializes concurrent upgrades on PostgreSQL
MIGRATION_LOGGER = "alembic"
POOL_HEADROOM = 5
"""Pooled connections kept beyond one per execution running at once (claims, lease renewals, the sweeps)."""


@dataclass
class MigrationLog:
    """Whether Alembic's INFO lines ("Running upgrade ...") are shown: not unless a command got ``--verbose``."""

    verbose: bool = False


migration_log = MigrationLog()


def show_migration_log(verbose: bool | None = None) -> None:
    """Show Alembic's INFO lines when ``verbose`` (the commands' ``--verbose``), else warnings only.

    Without an argument, apply the current choice again (each app built applies it, so that a server
    started with ``--verbose`` keeps it). See README.md, "Commands".
    """
    if verbose is not None:
        migration_log.verbose = verbose
    logging.getLogger(MIGRATION_LOGGER).setLevel(logging.INFO if migration_log.verbose else logging.WARNING)


def migrations_directory() -> str:
    """The Alembic environment folder (``migrations/``), wherever the project is installed."""
    return str(files("migrations"))


_CONFIGS = itertools.count(1)
"""Numbers the database configurations this process built (see :func:`database_config`)."""


def database_config(settings: Settings) -> SQLAlchemyAsyncConfig:
    """The advanced-alchemy configuration for ``settings.database_url`` (Alembic quiet unless ``--verbose``).

    Its app-state and scope keys are numbered for this process: advanced-alchemy keeps every key a configuration
    took in a class-wide set and makes a new one unique by trying ``key_1``, ``key_2``, ... recursively, so
    building the default keys again for the thousandth app of a process (a test run) exceeded the recursion limit.
    """
    show_migration_log()
    number = next(_CONFIGS)
    config = SQLAlchemyAsyncConfig(
        connection_string=settings.database_url,
        session_config=AsyncSessionConfig(expire_on_commit=False),
        engine_config=EngineConfig(**pool_options(settings)),  # echo_sql: app.logging_setup
        alembic_config=AlembicAsyncConfig(
            script_location=migrations_directory(),
            version_table_name=VERSION_TABLE,
            script_config="",
        ),
        set_default_exception_handler=False,
        session_scope_key=f"_packflow_db_session_{number}",
        engine_app_state_key=f"packflow_db_engine_{number}",
        session_maker_app_state_key=f"packflow_session_maker_{number}",
    )
    configure_engine(config.get_engine())
    return config


def pool_options(settings: Settings) -> dict[str, Any]:
    """A server database's pool keeps a connection for each execution running at once, and a few more.

    A run holds one connection throughout (the SQL store's execution scope), so with SQLAlchemy's
    default of five, a worker running ``PACKFLOW_WORKER_CONCURRENCY`` (10) executions closed a
    connection on nearly every return and opened another soon after: on PostgreSQL a new server
    process and asyncpg's type introspection each time (README.md, Configuration). With SAQ a worker
    runs as many executions again beside its jobs (those its timer sweep woke, docs/workflow-language.md,
    Waits and durable timers), so its pool keeps twice as many. SQLite keeps the default: its
    connections are cheap and its writes take turns anyway.
    """
    runs = concurrent_runs(settings)
    return {"pool_size": runs + POOL_HEADROOM} if runs else {}


def concurrent_runs(settings: Settings) -> int:
    """How many executions a process may run at once on a server database (0 on SQLite, whose pool is left as it
    is): the pool's size beyond its headroom, and how many run connections the SQL store keeps started between
    runs (``idle_scopes``)."""
    if make_url(settings.database_url).get_backend_name() == "sqlite":
        return 0
    return settings.worker_concurrency * (2 if settings.queue == "saq" else 1)


def configure_engine(engine: AsyncEngine) -> AsyncEngine:
    """Make a SQLite engine behave as the app needs (foreign keys, WAL, real transactions); others as they are."""
    if engine.dialect.name == "sqlite":
        configure_sqlite_engine(engine)
        event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _: Any) -> None:
    """Enforce foreign keys, and let readers and one writer work at once (WAL), as PostgreSQL does; lower every
    letter in searches (``packs.core.items.Lowered``)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    dbapi_connection.create_function(SQLITE_LOWER, 1, unicode_lower, deterministic=True)


def alembic_config(connection: Connection | None = None, packs: LoadedPacks | None = None) -> Config:
    """An Alembic configuration for ``migrations/``; with ``connection``, migrations run on it.

    An upgrade applies the core migrations, then those of ``packs`` (default: the packs that
    ``PACKFLOW_PACKS`` enables).
    """
    config = Config()
    config.set_main_option("script_location", migrations_directory())
    config.attributes["connection"] = connection
    config.attributes["packs"] = packs
    return config


class DatabaseUnreachableError(StartupError):
    """The database of ``PACKFLOW_DATABASE_URL`` does not answer (no server, no such database, no such folder): the
    command line prints one line saying so instead of the driver's traceback."""

    def __init__(self, engine: AsyncEngine, error: BaseException) -> None:
        where = engine.url.render_as_string(hide_password=True)
        problem = (str(error).strip().splitlines() or [""])[0]
        hint = " (does the SQLite file's folder exist?)" if engine.dialect.name == "sqlite" else ""
        super().__init__(f"cannot reach the database {where}: {type(error).__name__}: {problem}{hint}")


@asynccontextmanager
async def reachable_connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection of ``engine`` for the block (closed after it); :class:`DatabaseUnreachableError` when the
    database does not answer."""
    connection = engine.connect()
    try:
        await connection.start()
    except Exception as error:  # whatever the driver raises for an unreachable server, database or file
        raise DatabaseUnreachableError(engine, error) from error
    try:
        yield connection
    finally:
        await connection.close()


class DatabaseNotMigratedError(StartupError):
    """``PACKFLOW_AUTO_MIGRATE`` is off and the database is not at the code's migration: one line saying what to
    run, instead of a traceback per request and per sweep."""


def _core_revisions(connection: Connection) -> tuple[set[str], set[str]]:
    """The core migrations the database is at, and those the code's head is."""
    current = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_heads()
    return set(current), set(ScriptDirectory.from_config(alembic_config()).get_heads())


async def check_migrated(engine: AsyncEngine) -> None:
    """:class:`DatabaseNotMigratedError` when the database is not at the core migrations' head (the packs' own
    migrations are checked by their upgrade); :class:`DatabaseUnreachableError` when it does not answer."""
    async with reachable_connection(engine) as connection:
        current, head = await connection.run_sync(_core_revisions)
    if current != head:
        where = engine.url.render_as_string(hide_password=True)
        state = f"is at revision {', '.join(sorted(current))}" if current else "has no tables of Packflow's yet"
        raise DatabaseNotMigratedError(
            f"the database {where} {state}; this version needs {', '.join(sorted(head))}: run "
            "'packflow database upgrade --no-prompt', or leave PACKFLOW_AUTO_MIGRATE on"
        )


async def upgrade_database(engine: AsyncEngine, revision: str = "head", packs: LoadedPacks | None = None) -> None:
    """Apply migrations up to ``revision``, then the enabled packs' (creates the SQLite file when needed);
    :class:`DatabaseUnreachableError` when the database cannot be reached."""
    async with reachable_connection(engine) as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            await connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync, packs), revision))
