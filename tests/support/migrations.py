"""Databases before and after migrations: an empty one per backend, upgrading with packs, what the tables hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from app.database import configure_engine, migrations_directory, upgrade_database
from app.packs import load_packs
from tests.support.databases import postgres_database, sqlite_url

CORE_HEAD: str = ScriptDirectory(migrations_directory()).get_current_head() or ""
"""The core migrations' head revision (what ``alembic_version`` holds after an upgrade)."""


async def inspected(url: str, fn: Any) -> Any:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(lambda sync: fn(inspect(sync)))
    finally:
        await engine.dispose()


def fresh_url(backend: str, folder: Path) -> Any:
    """A context manager answering the URL of an empty database of ``backend``."""
    if backend == "postgresql":
        return postgres_database()

    class Sqlite:
        def __enter__(self) -> str:
            return sqlite_url(folder)

        def __exit__(self, *_: object) -> None:
            return None

    return Sqlite()


async def upgrade(url: str, packs: tuple[str, ...]) -> None:
    engine = configure_engine(create_async_engine(url))
    try:
        await upgrade_database(engine, packs=load_packs(packs))
    finally:
        await engine.dispose()


async def state(url: str) -> dict[str, Any]:
    """Tables, and the rows of every version table."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: sorted(inspect(sync).get_table_names()))
            versions = {}
            for table in tables:
                if table.startswith("alembic_version"):
                    rows = await connection.execute(text(f"SELECT version_num FROM {table}"))
                    versions[table] = sorted(row[0] for row in rows)
            columns = []
            if "pack_notes" in tables:
                columns = await connection.run_sync(
                    lambda sync: [c["name"] for c in inspect(sync).get_columns("pack_notes")]
                )
        return {"tables": tables, "versions": versions, "pack_notes": columns}
    finally:
        await engine.dispose()
