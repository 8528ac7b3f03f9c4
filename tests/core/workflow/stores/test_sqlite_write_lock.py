"""On SQLite a step's unit takes the write lock at its BEGIN: a unit that reads and then writes while another
connection writes waits for it instead of failing with 'database is locked' (packs/core/workflow/stores/sql/sqlite.py).

Two real connections on one SQLite file (WAL, busy_timeout as the app sets them): the store's, and a plain
``sqlite3`` connection (tests/support/sqlite_writer.py) that holds the write lock with a change it commits once
the unit has read (or after a few seconds when the unit cannot read before it does: that is the fix at work).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app.database import database_config
from app.settings import Settings
from packs.core.db import bind_session_factory, current_session
from packs.core.models import WorkflowEntry, WorkflowExecution
from packs.core.workflow.model import Action, Entry, Execution, Status
from packs.core.workflow.stores.sql import SQLStore, sqlite_wal
from packs.core.workflow.stores.sql import sqlite as sqlite_writer
from tests.support.databases import migrate, sqlite_url
from tests.support.sqlite_writer import OtherWriter, other_writer

THEIRS = "UPDATE workflow_executions SET current_step = 'elsewhere' WHERE id = ?"
"""The other writer's change: another execution's row."""


@dataclass
class Database:
    url: str
    engine: AsyncEngine
    store: SQLStore


@pytest.fixture
def sqlite_database_url(tmp_path: Path) -> str:
    """A migrated SQLite file of this test's own (the session's shared one may hold other tests' work)."""
    url = sqlite_url(tmp_path)
    migrate(url)
    return url


@pytest.fixture
async def db(sqlite_database_url: str) -> AsyncIterator[Database]:
    config = database_config(Settings(database_url=sqlite_database_url, auto_migrate=False))
    engine = config.get_engine()
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DELETE FROM workflow_entries"))
            await connection.execute(text("DELETE FROM workflow_executions"))
        store = SQLStore(
            config.create_session_maker(),
            WorkflowExecution,
            WorkflowEntry,
            bind_session_factory=bind_session_factory,
        )
        yield Database(sqlite_database_url, engine, store)
    finally:
        await engine.dispose()


def writing(db: Database, theirs: Execution) -> AbstractAsyncContextManager[OtherWriter]:
    """Another connection holding the write lock with a change to ``theirs``."""
    return other_writer(db.url, THEIRS, (uuid.UUID(theirs.id).bytes,))


async def saved(store: SQLStore, workflow_id: str) -> Execution:
    execution = Execution(id=str(uuid.uuid4()), workflow_id=workflow_id, status=Status.RUNNING, current_step="a")
    await store.save(execution)
    return execution


def scope_of(store: SQLStore, in_scope: bool) -> AbstractAsyncContextManager[None]:
    return store.execution_scope() if in_scope else nullcontext()


@pytest.mark.parametrize("in_scope", [True, False], ids=["in an execution scope", "a unit of its own"])
async def test_a_unit_that_reads_then_writes_waits_for_another_writer_instead_of_failing(
    db: Database, in_scope: bool
) -> None:
    """The unit reads the execution (as a step's code or a sub-workflow's start does), the other connection
    has written meanwhile, then the unit's checkpoint writes: without the write lock taken at BEGIN the
    checkpoint fails at once with 'database is locked'."""
    mine = await saved(db.store, "mine")
    theirs = await saved(db.store, "theirs")
    async with writing(db, theirs) as writer:
        async with scope_of(db.store, in_scope), db.store.unit():
            loaded = await db.store.load(mine.id)
            writer.read.set()
            assert loaded is not None
            loaded.current_step = "b"
            entry = Entry(execution_id=mine.id, step_id="a", step_type="call", action=Action.COMPLETED)
            await db.store.checkpoint(loaded, [entry])
        assert writer.committed.is_set()
    after = await db.store.load(mine.id)
    other = await db.store.load(theirs.id)
    assert after is not None
    assert other is not None
    assert (after.current_step, other.current_step) == ("b", "elsewhere")
    assert [e.step_id for e in await db.store.entries(mine.id)] == ["a"]


async def test_a_step_whose_code_reads_through_the_session_then_checkpoints_waits_too(db: Database) -> None:
    """The tools' session of a step's unit (the same transaction as its checkpoint) reads, then the
    checkpoint writes."""
    mine = await saved(db.store, "mine")
    theirs = await saved(db.store, "theirs")
    async with writing(db, theirs) as writer, db.store.execution_scope(), db.store.unit():
        count = (await current_session().execute(text("SELECT count(*) FROM workflow_executions"))).scalar()
        writer.read.set()
        assert count == 2
        mine.current_step = "b"
        await db.store.checkpoint(mine, [])
    after = await db.store.load(mine.id)
    assert after is not None
    assert after.current_step == "b"


async def test_a_read_outside_a_unit_does_not_wait_for_the_writer(db: Database) -> None:
    """Reads outside a unit (the API's, the engine's load between steps) stay deferred: they read the last
    committed state beside the writer, without taking its lock."""
    mine = await saved(db.store, "mine")
    theirs = await saved(db.store, "theirs")
    async with writing(db, theirs) as writer:
        async with db.store.execution_scope():
            loaded = await db.store.load(theirs.id)
        assert not writer.committed.is_set()
        writer.read.set()
        loaded_too = await db.store.load(mine.id)
    assert loaded is not None
    assert loaded.current_step == "a"
    assert loaded_too is not None


async def test_a_checkpoint_of_its_own_waits_for_another_writer_off_the_event_loop(db: Database) -> None:
    """A checkpoint outside a unit commits on the event loop's thread only when the write lock is free; while
    another connection holds it, it waits in the driver's thread and the event loop runs on meanwhile."""
    mine = await saved(db.store, "mine")
    theirs = await saved(db.store, "theirs")
    async with writing(db, theirs) as writer:
        ticks = 0

        async def ticking() -> None:
            nonlocal ticks
            while not writer.committed.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        ticker = asyncio.create_task(ticking())
        async with db.store.execution_scope():
            mine.current_step = "b"
            entry = Entry(execution_id=mine.id, step_id="a", step_type="call", action=Action.COMPLETED)
            await db.store.checkpoint(mine, [entry])
        assert writer.committed.is_set()
        await ticker
    assert ticks > 5
    after = await db.store.load(mine.id)
    assert after is not None
    assert after.current_step == "b"


async def _file_of(path: str) -> str:
    """The database file as SQLite names it (the path resolved)."""
    return await asyncio.to_thread(lambda: str(Path(path).resolve()))


async def _commit_executions(db: Database, workflow_id: str, count: int) -> None:
    async with db.store.execution_scope():
        for _ in range(count):
            execution = Execution(id=str(uuid.uuid4()), workflow_id=workflow_id, status=Status.RUNNING)
            await db.store.checkpoint(execution, [])


async def test_checkpoints_committed_on_the_event_loop_checkpoint_the_wal_every_so_often(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every CHECKPOINT_EVERY commits they ask for a WAL checkpoint: the rows reach the database file itself."""
    monkeypatch.setattr(sqlite_writer, "CHECKPOINT_EVERY", 4)
    path = make_url(db.url).database
    assert path is not None
    file = await _file_of(path)
    marker = f"wal-marker-{uuid.uuid4().hex}"
    await _commit_executions(db, marker, 4)
    running = sqlite_wal.under_way(file)
    if running is not None:
        await running
    assert marker.encode() in await asyncio.to_thread(Path(path).read_bytes)


async def test_the_wal_checkpoint_runs_beside_the_writer_one_at_a_time(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commit that asks for the checkpoint does not wait for it (it runs in a thread, on a connection of its
    own), and commits made while it runs ask for no second one."""
    monkeypatch.setattr(sqlite_writer, "CHECKPOINT_EVERY", 4)
    release = threading.Event()
    started: list[str] = []
    checkpoint = sqlite_wal._checkpoint

    def slow_checkpoint(path: str) -> None:
        started.append(path)
        release.wait(10)
        checkpoint(path)

    monkeypatch.setattr(sqlite_wal, "_checkpoint", slow_checkpoint)
    path = make_url(db.url).database
    assert path is not None
    file = await _file_of(path)
    marker = f"wal-marker-{uuid.uuid4().hex}"
    try:
        await _commit_executions(db, marker, 4)  # returns while the checkpoint waits for ``release``
        running = sqlite_wal.under_way(file)
        assert running is not None
        assert not running.done()
        await _commit_executions(db, marker, 8)  # two more requests, covered by the one under way
        assert len(started) == 1
    finally:
        release.set()
    await running
    assert sqlite_wal.under_way(file) is None
    assert marker.encode() in await asyncio.to_thread(Path(path).read_bytes)
    await _commit_executions(db, marker, 4)  # the next request starts the next checkpoint
    second = sqlite_wal.under_way(file)
    if second is not None:
        await second  # its thread records its start when the executor runs it, a moment after the request
    assert len(started) == 2


async def test_a_wal_checkpoint_that_fails_is_logged_and_creates_no_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A database removed before its checkpoint ran: a warning, no exception, and no new empty file."""
    missing = tmp_path / "dropped.db"
    await sqlite_wal.checkpoint_soon(str(missing))
    assert not missing.exists()
    assert "WAL checkpoint" in caplog.text
    assert sqlite_wal.under_way(str(missing)) is None


def test_a_checkpoint_left_by_a_closed_event_loop_does_not_stop_the_next(tmp_path: Path) -> None:
    """A loop closed before its checkpoint's thread reported back leaves a future behind: a new loop's request
    starts a checkpoint of its own instead of waiting on it for ever."""
    database = tmp_path / "checkpointed.db"
    sqlite3.connect(database).close()
    release = threading.Event()
    path = str(database)

    async def ask() -> asyncio.Future[None]:
        return sqlite_wal.checkpoint_soon(path)

    first_loop = asyncio.new_event_loop()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(sqlite_wal, "_checkpoint", lambda _: release.wait(10))
            left = first_loop.run_until_complete(ask())
    finally:
        release.set()
        first_loop.close()
    assert sqlite_wal.under_way(path) is left

    async def ask_and_wait() -> bool:
        future = sqlite_wal.checkpoint_soon(path)
        await asyncio.wait_for(future, 10)
        return future is not left

    assert asyncio.run(ask_and_wait())
    assert sqlite_wal.under_way(path) is None
