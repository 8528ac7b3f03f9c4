"""Alembic environment: runs on a connection handed in by the app, or on the configured engine."""

from __future__ import annotations

import asyncio
from typing import Any

from advanced_alchemy.base import orm_registry
from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

import packs.core.models  # noqa: F401  (registers the tables on the metadata)
from app.database import VERSION_TABLE

config = context.config
target_metadata = orm_registry.metadata


def upgrading() -> bool:
    """Whether this run is an upgrade (``alembic upgrade``, ``litestar database upgrade``, the app's start)."""
    work = context.get_context().opts.get("fn")
    return getattr(work, "__name__", "") == "upgrade"


def upgrade_enabled_packs(connection: Connection) -> None:
    """After the core migrations, each enabled pack's own (``register_migrations``), in configuration order.

    The app hands its loaded packs in; the command line (``litestar database upgrade``) loads the packs
    that the settings (``PACKFLOW_PACKS`` or the settings file) enable.
    """
    from app.pack_migrations import upgrade_packs
    from app.packs import load_configured_packs
    from app.settings import Settings

    packs: Any = config.attributes.get("packs")
    if packs is None:
        packs = load_configured_packs(Settings.from_env())
    upgrade_packs(connection, packs, str(config.get_main_option("script_location")))


def run_on(connection: Connection) -> None:
    """Run the migrations on ``connection`` (the core's, then, when upgrading, the enabled packs')."""
    from app.pack_migrations import core_tables_only

    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        include_object=core_tables_only,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=connection.dialect.name != "sqlite",  # SQLite reflects GUID columns as NUMERIC
    )
    with context.begin_transaction():
        context.run_migrations()
    if upgrading() and not config.attributes.get("core_only"):
        upgrade_enabled_packs(connection)


async def run_on_engine(engine: AsyncEngine) -> None:
    """Run the migrations on a connection of ``engine``."""
    async with engine.connect() as connection:
        await connection.run_sync(run_on)
        await connection.commit()


def main() -> None:
    """Entry point: offline SQL, a connection given by the app, or an engine (advanced-alchemy's CLI)."""
    if context.is_offline_mode():
        context.configure(
            url=config.get_main_option("sqlalchemy.url"),
            target_metadata=target_metadata,
            literal_binds=True,
            version_table=VERSION_TABLE,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection: Any = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    engine: Any = getattr(config, "engine", None) or create_async_engine(config.get_main_option("sqlalchemy.url") or "")
    asyncio.run(run_on_engine(engine))


main()
