"""Test databases: a migrated SQLite file, or a uniquely named PostgreSQL database dropped afterwards."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from app.database import upgrade_database

POSTGRES_ADMIN_URL = os.environ.get(
    "PACKFLOW_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
"""The backends a test runs on: SQLite, then PostgreSQL (marked ``postgres``)."""
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
TABLES = (
    "workflow_ctx_changes",
    "workflow_schedules",
    "workflow_timers",
    "workflow_entries",
    "workflow_executions",
    "workflow_definitions",
    "audit_log",
    "console_sessions",
    "items",
    "api_tokens",
    "memberships",
    "workspaces",
    "users",
)


def sqlite_url(folder: Path) -> str:
    """A SQLite URL for a file in ``folder``."""
    return f"sqlite+aiosqlite:///{folder / 'packflow-test.db'}"


async def _migrate(url: str) -> None:
    engine = create_async_engine(url)
    try:
        await upgrade_database(engine)
    finally:
        await engine.dispose()


def migrate(url: str) -> None:
    """Apply every migration to the database at ``url``."""
    asyncio.run(_migrate(url))


async def _admin(statement: str) -> None:
    engine = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def postgres_unavailable_reason() -> str | None:
    """Why PostgreSQL cannot be used, or ``None`` when it answers."""
    try:
        asyncio.run(_admin("SELECT 1"))
    except Exception as error:  # any failure to connect means: no server for these tests
        return (
            f"PostgreSQL is not reachable at {make_url(POSTGRES_ADMIN_URL).render_as_string(hide_password=True)} "
            f"({type(error).__name__}: {error}); start a server or set PACKFLOW_TEST_POSTGRES_URL to run these tests"
        )
    return None


@contextmanager
def postgres_database() -> Iterator[str]:
    """Create a uniquely named PostgreSQL database, yield its URL, drop it afterwards.

    Skips the calling test when no server answers, except under ``CI=true`` where that is a failure.
    """
    reason = postgres_unavailable_reason()
    if reason is not None:
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"packflow_test_{uuid.uuid4().hex[:16]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def truncate(url_engine: object) -> None:
    """Delete every row of the core tables (children first)."""
    from sqlalchemy.ext.asyncio import AsyncEngine

    assert isinstance(url_engine, AsyncEngine)
    async with url_engine.begin() as connection:
        for table in TABLES:
            await connection.execute(text(f"DELETE FROM {table}"))


async def check_core_models(url: str) -> None:
    """``alembic check``: the core migrations and the core models agree (raises on any difference)."""
    from alembic import command

    from app.database import alembic_config

    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(lambda sync: command.check(alembic_config(sync)))
    finally:
        await engine.dispose()
