"""The SQL workflow store and its models, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.database import database_config
from app.settings import Settings
from packs.core.db import bind_session, current_session
from packs.core.identity.accounts import IssuedToken, create_user
from packs.core.models import Item, WorkflowEntry, WorkflowExecution, WorkflowModelValidationError
from packs.core.workflow.model import Action, Entry, Execution, Status
from packs.core.workflow.stores.sql import SQLStore
from tests.support.databases import truncate

T0 = datetime.datetime(2026, 11, 26, 9, 0, tzinfo=datetime.UTC)


def at(seconds: float) -> datetime.datetime:
    """``seconds`` after :data:`T0`."""
    return T0 + datetime.timedelta(seconds=seconds)


def execution(workflow_id: str = "orders", created: float = 0, **fields: Any) -> Execution:
    """A new execution created ``created`` seconds after T0."""
    return Execution(
        id=str(uuid.uuid4()), workflow_id=workflow_id, created_at=at(created), updated_at=at(created), **fields
    )


def entry(of: Execution, step_id: str, action: str = Action.COMPLETED, when: float = 0, **fields: Any) -> Entry:
    """An entry of ``of`` timestamped ``when`` seconds after T0."""
    return Entry(execution_id=of.id, step_id=step_id, step_type="call", action=action, timestamp=at(when), **fields)


@dataclass
class Database:
    """A store on an emptied database of the current backend, and ways to look at it."""

    engine: AsyncEngine
    session_maker: async_sessionmaker[AsyncSession]
    store: SQLStore

    async def count(self, table: str) -> int:
        """Rows in ``table``, read by another connection (so: committed rows only)."""
        async with self.engine.connect() as connection:
            return int((await connection.execute(select(func.count()).select_from(text(table)))).scalar_one())

    async def user(self) -> IssuedToken:
        """A user and workspace, committed."""
        async with self.session_maker() as session:
            issued = await create_user(session, "ada@example.com", "Acme")
            await session.commit()
            return issued


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """The store as the app builds it: its session maker, bound units of work."""
    config = database_config(Settings(database_url=database_url, auto_migrate=False))
    engine = config.get_engine()
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DELETE FROM workflow_entries"))
            await connection.execute(text("DELETE FROM workflow_executions"))
        await truncate(engine)
        session_maker = config.create_session_maker()
        store = SQLStore(session_maker, WorkflowExecution, WorkflowEntry, bind_session=bind_session)
        yield Database(engine, session_maker, store)
    finally:
        await engine.dispose()


class AbortError(Exception):
    """Raised by a test to abort a block."""


async def abort_after(block: AbstractAsyncContextManager[None], body: Callable[[], Awaitable[None]]) -> None:
    """Run ``body`` inside ``block``, then raise :class:`AbortError` inside it."""
    async with block:
        await body()
        raise AbortError


async def test_save_then_load_round_trips_every_field(db: Database) -> None:
    saved = execution(
        status=Status.HALTED,
        input={"order": {"id": 7, "lines": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1.5}]}},
        ctx={"nested": {"list": [1, "two", None, True, {"deep": []}]}, "unicode": "café ✓"},
        current_step="approve",
        result=None,
        recover_to="ship",
        halt_data={"prompt": "Approve?", "choices": ["yes", "no"]},
        error=None,
    )
    await db.store.save(saved)
    loaded = await db.store.load(saved.id)
    assert loaded == saved
    assert loaded is not None
    assert loaded.status == "halted"
    assert loaded.created_at.tzinfo is not None


@pytest.mark.parametrize("result", [None, {"total": 12.5, "items": [[1, 2], []]}, ["a", 1], "text", 42, True])
async def test_json_results_round_trip(db: Database, result: Any) -> None:
    saved = execution(status=Status.COMPLETED, result=result)
    await db.store.save(saved)
    loaded = await db.store.load(saved.id)
    assert loaded is not None
    assert loaded.result == result


async def test_none_is_stored_as_sql_null(db: Database) -> None:
    saved = execution(result=None, halt_data=None)
    await db.store.save(saved)
    await db.store.record(entry(saved, "a", input=None, output=None))
    async with db.engine.connect() as connection:
        nulls = (
            await connection.execute(
                text("SELECT count(*) FROM workflow_executions WHERE result IS NULL AND halt_data IS NULL")
            )
        ).scalar_one()
        entry_nulls = (
            await connection.execute(
                text("SELECT count(*) FROM workflow_entries WHERE input IS NULL AND output IS NULL")
            )
        ).scalar_one()
    assert (nulls, entry_nulls) == (1, 1)


async def test_load_unknown_or_malformed_ids(db: Database) -> None:
    assert await db.store.load(str(uuid.uuid4())) is None
    assert await db.store.load("not-a-uuid") is None
    assert await db.store.entries("not-a-uuid") == []
    assert await db.store.delete("not-a-uuid") is False


async def test_saving_a_malformed_id_is_a_clear_error(db: Database) -> None:
    bad = execution()
    bad.id = "order-42"
    with pytest.raises(ValueError, match="needs UUIDs: execution id 'order-42'"):
        await db.store.save(bad)


async def test_save_is_an_upsert_keeping_created_at(db: Database) -> None:
    first = execution(ctx={"a": 1})
    await db.store.save(first)
    changed = Execution(
        id=first.id,
        workflow_id="orders",
        status=Status.COMPLETED,
        ctx={"a": 1, "b": [2]},
        result={"ok": True},
        created_at=at(99),
        updated_at=at(5),
    )
    await db.store.save(changed)
    loaded = await db.store.load(first.id)
    assert loaded is not None
    assert (loaded.status, loaded.ctx, loaded.result) == ("completed", {"a": 1, "b": [2]}, {"ok": True})
    assert (loaded.created_at, loaded.updated_at) == (at(0), at(5))
    assert await db.count("workflow_executions") == 1


async def test_entries_are_returned_oldest_first(db: Database) -> None:
    run = execution()
    other = execution()
    await db.store.save(run)
    await db.store.save(other)
    await db.store.record(entry(run, "second", Action.STARTED, when=2))
    await db.store.record(entry(run, "first", Action.STARTED, when=1, input={"x": 1}))
    await db.store.record(entry(other, "elsewhere", when=0))
    await db.store.record(
        entry(run, "first", Action.COMPLETED, when=1.5, duration_ms=500, output={"y": [1, 2]}, error=None)
    )
    entries = await db.store.entries(run.id)
    assert [(e.step_id, e.action) for e in entries] == [
        ("first", "started"),
        ("first", "completed"),
        ("second", "started"),
    ]
    assert entries[0].input == {"x": 1}
    assert (entries[1].duration_ms, entries[1].output) == (500, {"y": [1, 2]})
    assert all(e.execution_id == run.id for e in entries)
    assert [e.step_id for e in await db.store.entries(other.id)] == ["elsewhere"]


async def test_find_filters_newest_first_and_limits(db: Database) -> None:
    old = execution("orders", created=1, status=Status.COMPLETED)
    middle = execution("invoices", created=2, status=Status.RUNNING)
    new = execution("orders", created=3, status=Status.RUNNING)
    for saved in (middle, new, old):
        await db.store.save(saved)
    assert [e.id for e in await db.store.find()] == [new.id, middle.id, old.id]
    assert [e.id for e in await db.store.find(workflow_id="orders")] == [new.id, old.id]
    assert [e.id for e in await db.store.find(status="running")] == [new.id, middle.id]
    assert [e.id for e in await db.store.find(status=Status.COMPLETED)] == [old.id]
    assert [e.id for e in await db.store.find(workflow_id="orders", status="running")] == [new.id]
    assert [e.id for e in await db.store.find(limit=2)] == [new.id, middle.id]
    assert await db.store.find(workflow_id="nothing") == []


async def test_execution_ids_newest_first(db: Database) -> None:
    runs = [execution("orders" if n % 2 else "invoices", created=n) for n in range(5)]
    for saved in runs:
        await db.store.save(saved)
    assert await db.store.execution_ids() == [r.id for r in reversed(runs)]
    assert await db.store.execution_ids(workflow_id="orders") == [runs[3].id, runs[1].id]
    assert await db.store.execution_ids(limit=2) == [runs[4].id, runs[3].id]


async def test_delete_removes_the_execution_and_its_entries(db: Database) -> None:
    doomed, kept = execution(), execution()
    await db.store.checkpoint(doomed, [entry(doomed, "a", when=1), entry(doomed, "b", when=2)])
    await db.store.checkpoint(kept, [entry(kept, "a")])
    assert await db.store.delete(doomed.id) is True
    assert await db.store.load(doomed.id) is None
    assert await db.store.entries(doomed.id) == []
    assert await db.store.delete(doomed.id) is False
    assert await db.store.delete(str(uuid.uuid4())) is False
    assert (await db.count("workflow_executions"), await db.count("workflow_entries")) == (1, 1)


async def test_checkpoint_outside_a_unit_commits_at_once(db: Database) -> None:
    run = execution(current_step="a")
    await db.store.checkpoint(run, [entry(run, "a", Action.STARTED)])
    assert (await db.count("workflow_executions"), await db.count("workflow_entries")) == (1, 1)
    run.current_step = "b"
    await db.store.checkpoint(run, [entry(run, "a", when=1), entry(run, "b", Action.STARTED, when=2)])
    await db.store.checkpoint(run, [])
    loaded = await db.store.load(run.id)
    assert loaded is not None
    assert loaded.current_step == "b"
    assert [e.action for e in await db.store.entries(run.id)] == ["started", "completed", "started"]


async def test_a_failed_checkpoint_writes_nothing(db: Database) -> None:
    run = execution()
    orphan = Entry(execution_id=str(uuid.uuid4()), step_id="x", step_type="call", action="started")
    with pytest.raises(Exception, match=r"(?i)foreign key"):
        await db.store.checkpoint(run, [entry(run, "a"), orphan])
    assert (await db.count("workflow_executions"), await db.count("workflow_entries")) == (0, 0)


async def test_a_unit_commits_its_checkpoints_when_the_block_ends(db: Database) -> None:
    run = execution()
    async with db.store.unit():
        assert db.store.in_unit
        await db.store.checkpoint(run, [entry(run, "a", Action.STARTED)])
        await db.store.checkpoint(run, [entry(run, "a", when=1)])
        assert await db.count("workflow_executions") == 0  # not committed yet
        loaded = await db.store.load(run.id)  # the unit sees its own writes
        assert loaded is not None
        assert len(await db.store.entries(run.id)) == 2
    assert not db.store.in_unit
    assert (await db.count("workflow_executions"), await db.count("workflow_entries")) == (1, 2)


async def test_a_failure_in_a_unit_after_a_checkpoint_leaves_nothing(db: Database) -> None:
    run = execution()

    async def step() -> None:
        await db.store.checkpoint(run, [entry(run, "a", Action.STARTED)])
        await db.store.save(run)
        await db.store.record(entry(run, "a", when=1))

    with pytest.raises(AbortError):
        await abort_after(db.store.unit(), step)
    assert (await db.count("workflow_executions"), await db.count("workflow_entries")) == (0, 0)
    assert await db.store.load(run.id) is None


async def create_item(issued: IssuedToken) -> None:
    """What a tool does: write through the caller's unit of work, never commit."""
    session = current_session()
    session.add(
        Item(
            schema_slug="contact",
            tool_slug="create",
            data={"n": 1},
            created_by_id=issued.user_id,
            workspace_id=issued.workspace_id,
        )
    )
    await session.flush()


async def test_a_tool_in_a_unit_commits_with_the_checkpoint(db: Database) -> None:
    issued = await db.user()
    run = execution()
    async with db.store.unit():
        await create_item(issued)
        await db.store.checkpoint(run, [entry(run, "a")])
    assert (await db.count("items"), await db.count("workflow_executions")) == (1, 1)


async def test_a_tool_in_a_failed_unit_is_rolled_back_with_the_checkpoint(db: Database) -> None:
    issued = await db.user()
    run = execution()

    async def step() -> None:
        await create_item(issued)
        await db.store.checkpoint(run, [entry(run, "a")])

    with pytest.raises(AbortError):
        await abort_after(db.store.unit(), step)
    assert (await db.count("items"), await db.count("workflow_executions"), await db.count("workflow_entries")) == (
        0,
        0,
        0,
    )


async def test_a_unit_without_bind_session_leaves_no_unit_of_work(db: Database) -> None:
    store = SQLStore(db.session_maker, WorkflowExecution, WorkflowEntry)
    async with store.unit():
        with pytest.raises(Exception, match="no unit of work"):
            current_session()


async def test_a_savepoint_undoes_only_its_own_writes(db: Database) -> None:
    issued = await db.user()
    run = execution(current_step="a")

    async def failed_attempt() -> None:
        await create_item(issued)
        run.current_step = "retrying"
        await db.store.checkpoint(run, [entry(run, "a", Action.FAILED, when=1)])

    async with db.store.unit():
        await db.store.checkpoint(run, [entry(run, "a", Action.STARTED)])
        with pytest.raises(AbortError):
            await abort_after(db.store.savepoint(), failed_attempt)
        async with db.store.savepoint():
            await create_item(issued)
        run.current_step = "b"
        await db.store.checkpoint(run, [entry(run, "a", when=2)])
    loaded = await db.store.load(run.id)
    assert loaded is not None
    assert loaded.current_step == "b"
    assert [e.action for e in await db.store.entries(run.id)] == ["started", "completed"]
    assert await db.count("items") == 1


async def test_a_savepoint_as_the_first_write_of_a_unit(db: Database) -> None:
    run = execution()
    async with db.store.unit():
        with pytest.raises(AbortError):
            await abort_after(db.store.savepoint(), lambda: db.store.save(run))
        assert await db.store.load(run.id) is None
        await db.store.checkpoint(run, [])
    assert await db.count("workflow_executions") == 1


async def test_a_savepoint_outside_a_unit_does_nothing(db: Database) -> None:
    run = execution()
    with pytest.raises(AbortError):
        await abort_after(db.store.savepoint(), lambda: db.store.save(run))
    assert await db.count("workflow_executions") == 1  # save committed on its own


async def test_a_unit_inside_a_unit_is_a_savepoint(db: Database) -> None:
    outer, inner = execution(), execution()
    async with db.store.unit():
        await db.store.save(outer)
        with pytest.raises(AbortError):
            await abort_after(db.store.unit(), lambda: db.store.save(inner))
        assert db.store.in_unit
    assert await db.store.execution_ids() == [outer.id]


async def test_the_store_validates_before_writing(db: Database) -> None:
    bad = execution(status="done")
    with pytest.raises(WorkflowModelValidationError) as raised:
        await db.store.save(bad)
    assert str(raised.value) == (
        "WorkflowExecution.status must be one of pending, running, completed, failed, halted, cancelled, got 'done'"
    )
    run = execution()
    with pytest.raises(WorkflowModelValidationError, match=r"WorkflowEntry\.action must be one of .*got 'finished'"):
        await db.store.checkpoint(run, [entry(run, "a"), entry(run, "b", action="finished")])
    with pytest.raises(WorkflowModelValidationError, match=r"WorkflowEntry\.step_id must not be blank"):
        await db.store.record(entry(run, " "))
    assert (await db.count("workflow_executions"), await db.count("workflow_entries")) == (0, 0)


async def test_a_validation_error_in_a_unit_rolls_the_unit_back(db: Database) -> None:
    run = execution()

    async def step() -> None:
        async with db.store.unit():
            await db.store.checkpoint(run, [entry(run, "a")])
            await db.store.checkpoint(run, [entry(run, "b", action="")])

    with pytest.raises(WorkflowModelValidationError, match=r"WorkflowEntry\.action must not be blank"):
        await step()
    assert (await db.count("workflow_executions"), await db.count("workflow_entries")) == (0, 0)


async def test_models_validate_on_flush_before_writing(db: Database) -> None:
    async with db.session_maker() as session:
        session.add(WorkflowExecution(workflow_id="", status="done"))
        with pytest.raises(WorkflowModelValidationError) as raised:
            await session.flush()
        assert raised.value.model == "WorkflowExecution"
        assert raised.value.errors == {
            "workflow_id": "must not be blank, got ''",
            "status": "must be one of pending, running, completed, failed, halted, cancelled, got 'done'",
        }
        await session.rollback()

    async with db.session_maker() as session:
        run = WorkflowExecution(workflow_id="orders")
        session.add(run)
        await session.flush()
        assert (run.status, run.input, run.ctx) == ("running", {}, {})
        session.add(WorkflowEntry(execution_id=run.id, step_id="a", step_type="call", action="started"))
        with pytest.raises(WorkflowModelValidationError, match=r"WorkflowEntry\.timestamp must not be blank, got None"):
            await session.flush()
        await session.rollback()

    async with db.session_maker() as session:
        run = WorkflowExecution(workflow_id="orders")
        session.add(run)
        await session.commit()
        stored_id = str(run.id)
        run.status = "paused"  # a change to a stored row is validated too
        with pytest.raises(WorkflowModelValidationError, match="got 'paused'"):
            await session.commit()
        await session.rollback()

    assert (await db.count("workflow_executions"), await db.count("workflow_entries")) == (1, 0)
    loaded = await db.store.load(stored_id)
    assert loaded is not None
    assert loaded.status == "running"


async def test_query_helpers_select_by_status(db: Database) -> None:
    by_status = {status: execution(status=status, created=n) for n, status in enumerate(Status)}
    for saved in by_status.values():
        await db.store.save(saved)
    async with db.session_maker() as session:
        for status, query in (
            (Status.PENDING, WorkflowExecution.pending()),
            (Status.RUNNING, WorkflowExecution.running()),
            (Status.COMPLETED, WorkflowExecution.completed()),
            (Status.FAILED, WorkflowExecution.failed()),
            (Status.HALTED, WorkflowExecution.halted()),
        ):
            found = (await session.scalars(query)).all()
            assert [str(row.id) for row in found] == [by_status[status].id]
            assert found[0].status == status


async def test_orm_relationship_orders_entries_and_cascades_deletes(db: Database) -> None:
    run = execution()
    await db.store.checkpoint(run, [entry(run, "late", when=5), entry(run, "early", when=1)])
    async with db.session_maker() as session:
        row = await session.get(WorkflowExecution, uuid.UUID(run.id))
        assert row is not None
        entries = await row.awaitable_attrs.entries
        assert [e.step_id for e in entries] == ["early", "late"]
        assert (await entries[0].awaitable_attrs.execution) is row
        await session.delete(row)
        await session.commit()
    assert (await db.count("workflow_executions"), await db.count("workflow_entries")) == (0, 0)


async def test_a_str_enum_status_and_action_are_stored_as_text(db: Database) -> None:
    run = execution(status=Status.FAILED, error="RuntimeError: no")
    await db.store.checkpoint(run, [entry(run, "a", Action.FAILED, error="RuntimeError: no")])
    async with db.engine.connect() as connection:
        stored = (await connection.execute(text("SELECT status FROM workflow_executions"))).scalar_one()
        action = (await connection.execute(text("SELECT action FROM workflow_entries"))).scalar_one()
    assert (type(stored), stored, action) == (str, "failed", "failed")
