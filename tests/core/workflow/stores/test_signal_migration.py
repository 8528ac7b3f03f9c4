"""Migration 0008 (docs/workflow-language.md, Retry and catch; Signals): ``workflow_entries.attempt`` and the
``workflow_signals`` table, as the models declare them, on SQLite and PostgreSQL; a downgrade removes both."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy.ext.asyncio import create_async_engine

from app.database import alembic_config, configure_engine
from tests.support.migrations import fresh_url, inspected, upgrade


def signals(inspector: Any) -> dict[str, Any]:
    return {
        "columns": {c["name"]: c["nullable"] for c in inspector.get_columns("workflow_signals")},
        "indexes": {i["name"]: tuple(i["column_names"]) for i in inspector.get_indexes("workflow_signals")},
        "unique": {tuple(u["column_names"]) for u in inspector.get_unique_constraints("workflow_signals")},
        "foreign_keys": [
            (tuple(f["constrained_columns"]), f["referred_table"], f["options"].get("ondelete"))
            for f in inspector.get_foreign_keys("workflow_signals")
        ],
        "entry_columns": {c["name"] for c in inspector.get_columns("workflow_entries")},
    }


async def test_the_signals_table_and_the_attempt_column(database_url: str) -> None:
    found = await inspected(database_url, signals)
    assert found["columns"] == {
        "id": False,
        "execution_id": False,
        "name": False,
        "payload": True,
        "idempotency_key": True,
        "created_at": False,
        "consumed_at": True,
        "consumed_by": True,
        "addressed_to": True,  # migration 0014: the execution a sub-workflow child keeps a signal for
    }
    assert found["indexes"]["ix_workflow_signals_execution_name_created"] == ("execution_id", "name", "created_at")
    assert found["indexes"]["ix_workflow_signals_addressed_to_created"] == ("addressed_to", "created_at")
    assert ("execution_id", "idempotency_key") in found["unique"]
    assert found["foreign_keys"] == [(("execution_id",), "workflow_executions", "CASCADE")]
    assert "attempt" in found["entry_columns"]


async def downgrade_then_upgrade(url: str) -> None:
    await upgrade(url, ())
    engine = configure_engine(create_async_engine(url))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), "0007"))
        assert "workflow_signals" not in await inspected(url, lambda found: set(found.get_table_names()))
        columns = await inspected(url, lambda found: {c["name"] for c in found.get_columns("workflow_entries")})
        assert "attempt" not in columns
        async with engine.begin() as connection:
            await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), "head"))
        assert (await inspected(url, signals))["entry_columns"] >= {"attempt"}
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_downgrading_0008_drops_them_and_upgrading_adds_them_again(backend: str, tmp_path: Path) -> None:
    with fresh_url(backend, tmp_path) as url:
        asyncio.run(downgrade_then_upgrade(url))
