"""Migrations 0002 and 0003: the SQL store's workflow tables, then the queue's columns.

The tables hold the ``Execution`` and ``Entry`` fields of docs/workflow-language.md, section 1.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from app.database import alembic_config, upgrade_database
from tests.support.migrations import inspected

EXECUTION_COLUMNS = {
    "id": False,
    "workflow_id": False,
    "status": False,
    "input": True,
    "ctx": True,
    "current_step": True,
    "result": True,
    "recover_to": True,
    "halt_data": True,
    "error": True,
    "created_at": False,
    "updated_at": False,
}
QUEUE_COLUMNS = {
    "workspace_id": True,
    "created_by_id": True,
    "definition_version": True,
    "definition_hash": True,
    "attempts": False,
    "lease_owner": True,
    "lease_expires_at": True,
}
"""What migration 0003 adds to 0002's ``workflow_executions``."""
SCHEDULE_COLUMNS = {"schedule_id": True}
"""What migration 0009 adds: the schedule a run came from."""
ENTRY_COLUMNS = {
    "id": False,
    "execution_id": False,
    "step_id": False,
    "step_type": False,
    "action": False,
    "duration_ms": True,
    "input": True,
    "output": True,
    "error": True,
    "timestamp": False,
}
ATTEMPT_COLUMNS = {"attempt": True}
"""What migration 0008 adds to ``workflow_entries``: the attempt of a step with retriers."""
JSON_COLUMNS = {
    "workflow_executions": ("input", "ctx", "result", "halt_data"),
    "workflow_entries": ("input", "output"),
}


def describe(inspector: Any) -> dict[str, Any]:
    """Columns (nullability, default, type), indexes, foreign keys and primary key of both tables."""
    return {
        table: {
            "columns": {c["name"]: c["nullable"] for c in inspector.get_columns(table)},
            "defaults": {c["name"]: c.get("default") for c in inspector.get_columns(table)},
            "types": {c["name"]: c["type"] for c in inspector.get_columns(table)},
            "indexes": {i["name"]: (tuple(i["column_names"]), bool(i["unique"])) for i in inspector.get_indexes(table)},
            "foreign_keys": [
                (tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]), f["options"])
                for f in inspector.get_foreign_keys(table)
            ],
            "primary_key": tuple(inspector.get_pk_constraint(table)["constrained_columns"]),
        }
        for table in ("workflow_executions", "workflow_entries")
    }


async def test_columns_and_nullability(database_url: str) -> None:
    tables = await inspected(database_url, describe)
    assert tables["workflow_executions"]["columns"] == EXECUTION_COLUMNS | QUEUE_COLUMNS | SCHEDULE_COLUMNS
    assert tables["workflow_entries"]["columns"] == ENTRY_COLUMNS | ATTEMPT_COLUMNS
    assert tables["workflow_executions"]["primary_key"] == ("id",)
    assert tables["workflow_entries"]["primary_key"] == ("id",)


async def test_server_defaults(database_url: str) -> None:
    defaults = (await inspected(database_url, describe))["workflow_executions"]["defaults"]
    assert "'running'" in defaults["status"]
    assert "'{}'" in defaults["input"]
    assert "'{}'" in defaults["ctx"]
    assert "0" in defaults["attempts"]
    with_defaults = {"status", "input", "ctx", "attempts"}
    assert {name: value for name, value in defaults.items() if name not in with_defaults} == dict.fromkeys(
        set(EXECUTION_COLUMNS | QUEUE_COLUMNS | SCHEDULE_COLUMNS) - with_defaults
    )
    assert set((await inspected(database_url, describe))["workflow_entries"]["defaults"].values()) == {None}


async def test_defaults_apply_to_rows_written_without_them(database_url: str) -> None:
    engine = create_async_engine(database_url)
    postgres = database_url.startswith("postgresql")
    key = uuid.uuid4()
    try:
        async with engine.connect() as connection:
            transaction = await connection.begin()
            await connection.execute(
                text(
                    "INSERT INTO workflow_executions (id, workflow_id, created_at, updated_at) "
                    "VALUES (:id, 'defaults-probe', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"id": str(key) if postgres else key.bytes},
            )
            row = (
                await connection.execute(
                    text(
                        "SELECT status, input, ctx, result FROM workflow_executions "
                        "WHERE workflow_id = 'defaults-probe'"
                    )
                )
            ).one()
            await transaction.rollback()
    finally:
        await engine.dispose()
    status, data, ctx, result = row
    assert status == "running"
    assert result is None
    if postgres:
        assert (data, ctx) == ({}, {})
    else:
        assert (data, ctx) == ("{}", "{}")


async def test_indexes(database_url: str) -> None:
    tables = await inspected(database_url, describe)
    assert tables["workflow_executions"]["indexes"] == {
        "ix_workflow_executions_workflow_id": (("workflow_id",), False),
        "ix_workflow_executions_status": (("status",), False),
        "ix_workflow_executions_created_at": (("created_at",), False),
        "ix_workflow_executions_created_by_id": (("created_by_id",), False),
        "ix_workflow_executions_status_lease": (("status", "lease_expires_at"), False),
        "ix_workflow_executions_workspace_created": (("workspace_id", "created_at", "id"), False),  # 0004
        "ix_workflow_executions_schedule_created": (("schedule_id", "created_at", "id"), False),  # 0009
        "ix_workflow_executions_workspace_status": (("workspace_id", "status", "created_at", "id"), False),  # 0010
        "ix_workflow_executions_workspace_workflow": (("workspace_id", "workflow_id", "created_at", "id"), False),
        "ix_workflow_executions_workspace_workflow_status": (
            ("workspace_id", "workflow_id", "status", "created_at", "id"),
            False,
        ),  # 0012
    }
    assert tables["workflow_entries"]["indexes"] == {
        "ix_workflow_entries_execution_id": (("execution_id",), False),
        "ix_workflow_entries_step_id": (("step_id",), False),
        "ix_workflow_entries_timestamp": (("timestamp",), False),
    }


PARTIAL_INDEXES = {
    "ix_workflow_executions_status_lease": "status IN ('pending', 'running')",
    "ix_workflow_executions_schedule_created": "schedule_id IS NOT NULL",
    "ix_workflow_executions_created_by_id": "created_by_id IS NOT NULL",
    "ix_workflow_timers_execution_id": "execution_id IS NOT NULL",
    "ix_workflow_timers_schedule_id": "schedule_id IS NOT NULL",
    "ix_workflow_timers_unfired_due": "fired_at IS NULL",
    "ix_workflow_timers_fired_at": "fired_at IS NOT NULL",
}


def _normalised(condition: str) -> str:
    """A partial index's condition as either database prints it, without casts, parentheses and quotes' spacing."""
    condition = re.sub(r"::[a-z ]+(\[\])?", "", condition)
    condition = re.sub(r"= ANY \(\(?ARRAY\[(.*?)\]\)?\)", r"IN (\1)", condition)
    return re.sub(r"[()\s]", "", condition).lower()


async def test_indexes_that_hold_only_the_rows_their_readers_look_up(database_url: str) -> None:
    """Migration 0013: each update writes no entry into an index of rows nobody reads through it."""
    if database_url.startswith("postgresql"):
        query = "SELECT indexname, indexdef FROM pg_indexes WHERE indexdef LIKE '% WHERE %'"
    else:
        query = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql LIKE '% WHERE %'"
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            found = {name: sql.split(" WHERE ", 1)[1] for name, sql in (await connection.execute(text(query))).all()}
    finally:
        await engine.dispose()
    assert {name: _normalised(found.get(name, "")) for name in PARTIAL_INDEXES} == {
        name: _normalised(condition) for name, condition in PARTIAL_INDEXES.items()
    }


async def test_foreign_key_without_on_delete(database_url: str) -> None:
    tables = await inspected(database_url, describe)
    assert tables["workflow_executions"]["foreign_keys"] == []
    assert tables["workflow_entries"]["foreign_keys"] == [
        (("execution_id",), "workflow_executions", ("id",), {}),
    ]


async def test_column_types(database_url: str) -> None:
    tables = await inspected(database_url, describe)
    postgres = database_url.startswith("postgresql")
    for table, columns in JSON_COLUMNS.items():
        for name in columns:
            assert str(tables[table]["types"][name]) == ("JSONB" if postgres else "JSON"), (table, name)
    executions, entries = tables["workflow_executions"]["types"], tables["workflow_entries"]["types"]
    assert str(executions["error"]) == str(entries["error"]) == "TEXT"
    assert str(entries["duration_ms"]) == "INTEGER"
    for name in ("workflow_id", "status", "current_step", "recover_to"):
        assert str(executions[name]).startswith("VARCHAR"), name
    for name in ("step_id", "step_type", "action"):
        assert str(entries[name]).startswith("VARCHAR"), name
    if postgres:
        assert str(executions["id"]) == str(entries["id"]) == str(entries["execution_id"]) == "UUID"
        assert executions["created_at"].timezone
        assert executions["updated_at"].timezone
        assert entries["timestamp"].timezone


async def test_downgrade_to_0001_drops_only_the_workflow_tables(tmp_path: Any) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'workflow-roundtrip.db'}"
    engine = create_async_engine(url)
    try:
        await upgrade_database(engine)
        async with engine.begin() as connection:
            await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), "0001"))
        names = set(await inspected(url, lambda i: i.get_table_names()))
        assert not names & {"workflow_executions", "workflow_entries"}
        assert "items" in names
        await upgrade_database(engine)
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert {"workflow_executions", "workflow_entries"} <= tables
    finally:
        await engine.dispose()
