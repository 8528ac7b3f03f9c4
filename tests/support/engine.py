"""Helpers for tests of the workflow engine on its own (no app): a service resolver, the SQL store on an engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from packs.core.db import bind_session, bind_session_factory
from packs.core.models import WorkflowDefinition, WorkflowEntry, WorkflowExecution
from packs.core.workflow.stores.sql import SQLStore

SQL_STORES = pytest.mark.parametrize(
    "store_backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
"""Run a test on the SQL store over SQLite and over PostgreSQL (the ``store_backend`` fixture of
``tests/core/workflow/conftest.py``; a test takes its ``store``)."""

WORKFLOW_TABLES = (
    "workflow_timers",
    "workflow_ctx_changes",
    "workflow_entries",
    "workflow_executions",
    "workflow_definitions",
)
"""The engine's tables, each before the ones it refers to."""


def resolver(**services: Any) -> Callable[[str], Any]:
    """A service resolver knowing exactly ``services``."""
    return services.get


IDLE_SCOPES = 10
"""The run connections a test's store keeps started between runs on a server database (the app keeps one per run
that may be under way at once, ``concurrent_runs`` in ``app/database.py``; SQLite none)."""


def sql_store(engine: AsyncEngine) -> SQLStore:
    """The SQL store on ``engine`` with the app's workflow models, as the app builds it."""
    return SQLStore(
        async_sessionmaker(engine, expire_on_commit=False),
        WorkflowExecution,
        WorkflowEntry,
        bind_session=bind_session,
        bind_session_factory=bind_session_factory,
        definition_class=WorkflowDefinition,
        idle_scopes=0 if engine.dialect.name == "sqlite" else IDLE_SCOPES,
    )


async def empty_workflow_tables(engine: AsyncEngine) -> None:
    """Delete every row of :data:`WORKFLOW_TABLES` (a test's store starts empty)."""
    async with engine.begin() as connection:
        for table in WORKFLOW_TABLES:
            await connection.execute(text(f"DELETE FROM {table}"))
