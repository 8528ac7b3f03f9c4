"""What a worker's run of a queued execution costs the database, statement by statement.

On MemoryStore and the SQL store over SQLite and PostgreSQL (the ``store_backend`` fixture), with
every statement captured (SQLAlchemy's and the driver writers'): a claim leaves ``updated_at`` as it
was, so the run of an execution no step touched reads no entry (no probe of ``workflow_entries``);
on PostgreSQL the insert and the lease statements are one round trip each (autocommit, no
``BEGIN``/``COMMIT``); the checkpoint that ends the run gives the lease up in its UPDATE (no release after it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from app.database import configure_engine
from packs.core import workflow as wf
from tests.core.workflow.test_history_reads import Statements, capture
from tests.support.engine import SQL_STORES, sql_store

DOCUMENT: dict[str, Any] = {
    "id": "queued_calls",
    "name": "Queued calls",
    "steps": [
        {"id": "start", "type": "start", "next": "first"},
        {"id": "first", "type": "call", "service": "svc", "method": "echo", "output": "first", "next": "second"},
        {"id": "second", "type": "call", "service": "svc", "method": "echo", "output": "second", "next": "end"},
        {"id": "end", "type": "end", "result": "$second"},
    ],
}


class Services:
    async def echo(self) -> dict[str, bool]:
        return {"ok": True}


class ProbedMemoryStore(wf.MemoryStore):
    """A memory store that counts the reads of entries (whole or probed)."""

    def __init__(self) -> None:
        super().__init__()
        self.entry_reads = 0

    async def entries(self, execution_id: str) -> list[wf.Entry]:
        self.entry_reads += 1
        return await super().entries(execution_id)

    async def has_entries(self, execution_id: str) -> bool:
        self.entry_reads += 1
        return await super().has_entries(execution_id)


@dataclass
class Backend:
    store: wf.QueueStore
    dialect: str
    statements: Statements | None = None

    def entry_reads(self) -> int:
        if isinstance(self.store, ProbedMemoryStore):
            return self.store.entry_reads
        assert self.statements is not None
        return len(self.statements.reading_entries())


@pytest.fixture
async def backend(store_backend: str | None) -> AsyncIterator[Backend]:
    if store_backend is None:
        yield Backend(ProbedMemoryStore(), "memory")
        return
    # No cleanup: each test reads only the executions it adds, and counts only its own statements.
    engine = configure_engine(create_async_engine(store_backend))
    statements = Statements()
    capture(engine, statements)
    yield Backend(sql_store(engine), engine.dialect.name, statements)
    await engine.dispose()


async def queued(store: wf.QueueStore, definition: wf.WorkflowDef) -> wf.Execution:
    execution = wf.Engine(definition, store).new_execution({}, status=wf.Status.PENDING)
    assert await store.add(execution)
    return execution


def worker(store: wf.QueueStore, definition: wf.WorkflowDef) -> wf.Worker:
    catalog = wf.DefinitionCatalog(store, {definition.id: definition})
    return wf.Worker(store, catalog, service_resolver={"svc": Services()}.get, owner="w")


async def test_a_claim_leaves_updated_at_as_it_was(backend: Backend) -> None:
    definition = wf.load(DOCUMENT)
    execution = await queued(backend.store, definition)
    stored = await backend.store.load(execution.id)
    assert stored is not None
    claimed = await backend.store.claim(execution.id, "w", 30)
    assert claimed is not None
    assert (claimed.lease_owner, claimed.attempts, claimed.updated_at) == ("w", 1, stored.updated_at)
    assert claimed.updated_at == claimed.created_at  # no step touched it: the engine needs no probe


async def test_a_worker_running_a_queued_execution_reads_no_entry(backend: Backend) -> None:
    definition = wf.load(DOCUMENT)
    execution = await queued(backend.store, definition)
    result = await worker(backend.store, definition).process(execution.id)
    assert result is not None
    assert (result.status, result.output) == ("completed", {"ok": True})
    assert backend.entry_reads() == 0
    assert [entry.step_id for entry in await backend.store.entries(execution.id)][:2] == ["start", "start"]


@SQL_STORES
async def test_on_postgresql_the_insert_and_the_lease_statements_are_one_round_trip_each(backend: Backend) -> None:
    definition = wf.load(DOCUMENT)
    assert backend.statements is not None
    backend.statements.clear()
    execution = await queued(backend.store, definition)
    claimed = await backend.store.claim(execution.id, "w", 30)
    assert claimed is not None
    assert await backend.store.renew(execution.id, "w", 30)
    await backend.store.release(execution.id, "w")
    sent = [statement.strip().split()[0].upper() for statement in backend.statements.sql]
    if backend.dialect == "postgresql":
        assert sent == ["INSERT", "UPDATE", "UPDATE", "UPDATE"], backend.statements.sql
    else:
        # SQLite keeps a transaction around each (the engine's "real transactions", app/database.py).
        assert sent.count("INSERT") == 1, backend.statements.sql
        assert sent.count("UPDATE") == 3, backend.statements.sql


@SQL_STORES
async def test_the_final_checkpoint_gives_the_lease_up_so_no_release_statement_follows(backend: Backend) -> None:
    definition = wf.load(DOCUMENT)
    assert backend.statements is not None
    execution = await queued(backend.store, definition)
    backend.statements.clear()
    result = await worker(backend.store, definition).process(execution.id)
    assert result is not None
    assert result.status == "completed"
    updates = (await backend.statements.settled()).updates_of_executions()
    # The claim and four checkpoints (after start, first, second and end): the release that followed the last one
    # is part of it now, and the instant start step's own `started` goes with its end (five instead of seven).
    assert len(updates) == 5, updates
    assert "lease_owner = NULL, lease_expires_at = NULL" in updates[-1], updates[-1]
    assert updates[-1].index("status") < updates[-1].index("lease_owner = NULL")
    stored = await backend.store.load(execution.id)
    assert stored is not None
    assert (stored.status, stored.lease_owner, stored.lease_expires_at) == ("completed", None, None)
