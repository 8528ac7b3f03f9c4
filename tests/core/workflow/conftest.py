"""Workflow fixtures: the same tests run on MemoryStore and on the SQL store over SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app.database import configure_engine
from packs.core import workflow as wf
from packs.core.db import bind_session
from packs.core.models import WorkflowDefinition, WorkflowEntry, WorkflowExecution
from packs.core.workflow.stores.sql import SQLStore
from tests.support.databases import migrate, postgres_database, sqlite_url

STORES = ["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session", params=STORES)
def store_backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | None]:
    """``None`` for the in-memory store, else the URL of a migrated database."""
    if request.param == "memory":
        yield None
    elif request.param == "sqlite":
        url = sqlite_url(tmp_path_factory.mktemp("workflow-sqlite"))
        migrate(url)
        yield url
    else:
        with postgres_database() as url:
            migrate(url)
            yield url


@pytest.fixture
async def store(store_backend: str | None) -> AsyncIterator[wf.Store]:
    """An empty store of the current backend."""
    if store_backend is None:
        yield wf.MemoryStore()
        return
    engine = configure_engine(create_async_engine(store_backend))
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM workflow_timers"))
        await connection.execute(text("DELETE FROM workflow_ctx_changes"))
        await connection.execute(text("DELETE FROM workflow_entries"))
        await connection.execute(text("DELETE FROM workflow_executions"))
        await connection.execute(text("DELETE FROM workflow_definitions"))
    yield SQLStore(
        async_sessionmaker(engine, expire_on_commit=False),
        WorkflowExecution,
        WorkflowEntry,
        bind_session=bind_session,
        definition_class=WorkflowDefinition,
    )
    await engine.dispose()


@pytest.fixture(autouse=True)
def clean_workflow_registry() -> Iterator[None]:
    """Every test starts with no registered workflows and the default configuration."""
    wf.clear_registry()
    wf.configure()
    yield
    wf.clear_registry()
    wf.configure()
