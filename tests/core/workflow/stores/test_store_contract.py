"""The store contract (docs/workflow-language.md, section 1), the same on MemoryStore and the SQL store.

The SQL store runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime
import uuid
from contextlib import nullcontext

import pytest

from packs.core import workflow as wf


def execution(workflow_id: str = "w", status: str = "running", minutes: int = 0) -> wf.Execution:
    created = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(minutes=minutes)
    return wf.Execution(
        id=str(uuid.uuid4()), workflow_id=workflow_id, status=status, created_at=created, updated_at=created
    )


async def test_save_load_find_delete_and_ids(store: wf.Store) -> None:
    old = execution("a", "completed", minutes=0)
    new = execution("a", "failed", minutes=5)
    other = execution("b", "completed", minutes=10)
    for item in (old, new, other):
        await store.save(item)
    loaded = await store.load(old.id)
    assert loaded is not None
    assert (loaded.id, loaded.workflow_id, loaded.status) == (old.id, "a", "completed")
    assert await store.load(str(uuid.uuid4())) is None
    assert [e.id for e in await store.find()] == [other.id, new.id, old.id]
    assert [e.id for e in await store.find(workflow_id="a")] == [new.id, old.id]
    assert [e.id for e in await store.find(status="completed")] == [other.id, old.id]
    assert [e.id for e in await store.find(limit=1)] == [other.id]
    assert await store.execution_ids(workflow_id="a") == [new.id, old.id]
    assert await store.execution_ids(limit=2) == [other.id, new.id]
    await store.record(wf.Entry(execution_id=old.id, step_id="s", step_type="assign", action="started"))
    assert await store.delete(old.id) is True
    assert await store.delete(old.id) is False
    assert await store.load(old.id) is None
    assert await store.entries(old.id) == []


async def test_record_and_entries_oldest_first_and_checkpoint(store: wf.Store) -> None:
    run = execution()
    await store.save(run)
    first = wf.Entry(execution_id=run.id, step_id="a", step_type="assign", action="started")
    second = wf.Entry(execution_id=run.id, step_id="a", step_type="assign", action="completed", output={"x": [1]})
    await store.record(first)
    run.current_step = "b"
    run.ctx = {"x": [1]}
    await store.checkpoint(run, [second, wf.Entry(execution_id=run.id, step_id="b", step_type="end", action="started")])
    entries = await store.entries(run.id)
    assert [(e.step_id, e.action) for e in entries] == [("a", "started"), ("a", "completed"), ("b", "started")]
    assert entries[1].output == {"x": [1]}
    loaded = await store.load(run.id)
    assert loaded is not None
    assert (loaded.current_step, loaded.ctx) == ("b", {"x": [1]})


async def test_entries_of_one_boundary_never_tie(store: wf.Store) -> None:
    stamps = [wf.Entry(execution_id="x", step_id="s", step_type="t", action="started").timestamp for _ in range(50)]
    assert stamps == sorted(set(stamps))


@pytest.mark.parametrize("status", ["pending", "running", "completed", "halted", "failed"])
async def test_every_status_round_trips(store: wf.Store, status: str) -> None:
    run = execution(status=status)
    await store.save(run)
    loaded = await store.load(run.id)
    assert loaded is not None
    assert loaded.status == status


async def test_checkpoints_inside_an_execution_scope_insert_update_and_roll_back(store: wf.Store) -> None:
    scope = getattr(store, "execution_scope", nullcontext)
    run = execution()
    started = wf.Entry(execution_id=run.id, step_id="a", step_type="assign", action="started")
    async with scope():
        async with store.unit():
            await store.checkpoint(run, [started])  # a new execution: inserted with its entry
        run.current_step = "b"
        async with store.unit():
            await store.checkpoint(
                run, [wf.Entry(execution_id=run.id, step_id="a", step_type="assign", action="completed")]
            )
        run.current_step = "lost"

        async def fail_after_checkpoint() -> None:
            async with store.unit():
                assert await store.load(run.id) is not None  # the unit's code uses the database: a transaction
                await store.checkpoint(
                    run, [wf.Entry(execution_id=run.id, step_id="b", step_type="end", action="started")]
                )
                raise RuntimeError("the step failed after its checkpoint")

        with pytest.raises(RuntimeError, match="after its checkpoint"):
            await fail_after_checkpoint()
    loaded = await store.load(run.id)
    assert loaded is not None
    actions = [(e.step_id, e.action) for e in await store.entries(run.id)]
    if isinstance(store, wf.MemoryStore):  # no transactions: memory writes are immediate, nothing rolls back
        assert loaded.current_step == "lost"
        assert actions == [("a", "started"), ("a", "completed"), ("b", "started")]
    else:
        assert loaded.current_step == "b"
        assert actions == [("a", "started"), ("a", "completed")]


async def test_a_checkpoint_alone_in_a_scoped_unit_is_its_own_transaction(store: wf.Store) -> None:
    scope = getattr(store, "execution_scope", nullcontext)
    run = execution()
    await store.save(run)
    run.current_step = "kept"

    async def checkpoint_then_fail() -> None:
        async with scope(), store.unit():
            await store.checkpoint(run, [])
            raise RuntimeError("after the checkpoint, with nothing else in the unit")

    with pytest.raises(RuntimeError, match="nothing else in the unit"):
        await checkpoint_then_fail()
    loaded = await store.load(run.id)
    assert loaded is not None
    # Inside a scope a unit whose code never touched the database began no transaction: the
    # checkpoint was committed on its own (the engine does nothing after a step's checkpoint).
    assert loaded.current_step == "kept"


async def test_one_queued_execution_from_add_through_claim_checkpoint_and_transition(store: wf.QueueStore) -> None:
    """The queue store's methods working together, as a worker uses them, on every store."""
    run = execution(status="pending")
    assert await store.add(run) is True
    assert await store.add(run) is False
    claimed = await store.claim(run.id, "worker-a", 30)
    assert claimed is not None
    assert (claimed.status, claimed.lease_owner, claimed.attempts) == ("pending", "worker-a", 1)
    assert await store.claim(run.id, "worker-b", 30) is None

    claimed.status, claimed.current_step, claimed.ctx = "running", "a", {"seen": ["a"]}
    with store.leased(run.id, "worker-a"):
        async with store.unit():
            await store.checkpoint(
                claimed, [wf.Entry(execution_id=run.id, step_id="a", step_type="assign", action="started")]
            )
    assert await store.renew(run.id, "worker-a", 30) is True
    assert await store.renew(run.id, "worker-b", 30) is False
    running = await store.load(run.id)
    assert running is not None
    assert (running.status, running.current_step, running.ctx) == ("running", "a", {"seen": ["a"]})
    assert (running.lease_owner, running.attempts) == ("worker-a", 1)

    running.status, running.halt_data = "halted", {"prompt": "go on?"}
    assert await store.transition(running, expected=["completed"]) is False
    assert await store.transition(running, expected=["running"]) is True
    halted = await store.load(run.id)
    assert halted is not None
    assert (halted.status, halted.halt_data) == ("halted", {"prompt": "go on?"})
    assert (halted.lease_owner, halted.lease_expires_at, halted.attempts) == (None, None, 0)
    assert await store.claim(run.id, "worker-b", 30) is None  # halted: nothing to claim

    page = await store.page(wf.ExecutionFilter(workflow_id=run.workflow_id, status="halted"))
    assert ([e.id for e in page.executions], page.total) == ([run.id], 1)
    assert (await store.page(wf.ExecutionFilter(workflow_id=run.workflow_id, status="running"))).total == 0
    assert [(e.step_id, e.action) for e in await store.entries(run.id)] == [("a", "started")]


async def test_count_by_status_groups_what_the_list_filters(store: wf.QueueStore) -> None:
    """One count per status, with the list's filters: workspace, workflow, waiting for, schedule, time range."""
    workspace, other_workspace, schedule = (str(uuid.uuid4()) for _ in range(3))
    rows = [
        execution("a", "completed", minutes=0),
        execution("a", "completed", minutes=10),
        execution("a", "failed", minutes=20),
        execution("b", "halted", minutes=30),
        execution("a", "halted", minutes=40),
        execution("a", "completed", minutes=50),
    ]
    for row in rows:
        row.workspace_id = workspace
    rows[3].halt_data = {"type": "approval"}
    rows[4].halt_data = {"type": "wait"}
    rows[1].schedule_id = schedule
    rows[5].workspace_id = other_workspace
    for row in rows:
        await store.save(row)
    count = store.count_by_status
    mine = wf.ExecutionFilter(workspace_id=workspace)
    assert await count(mine) == {"completed": 2, "failed": 1, "halted": 2}
    assert await count(wf.ExecutionFilter(workspace_id=workspace, workflow_id="a")) == {
        "completed": 2,
        "failed": 1,
        "halted": 1,
    }
    assert await count(wf.ExecutionFilter(workspace_id=workspace, waiting_for="approval")) == {"halted": 1}
    assert await count(wf.ExecutionFilter(workspace_id=workspace, schedule_id=schedule)) == {"completed": 1}
    start = rows[1].created_at
    assert await count(mine, created_after=start, created_before=rows[4].created_at) == {
        "completed": 1,
        "failed": 1,
        "halted": 1,
    }
    assert await count(wf.ExecutionFilter(workspace_id=str(uuid.uuid4()))) == {}


async def test_a_page_oldest_first_by_keyset(store: wf.QueueStore) -> None:
    """``oldest_first`` turns the list's order round: by ``created_at`` then ``id`` ascending, ``after`` meaning
    later (what the approvals inbox pages by); newest first stays the default."""
    workspace = str(uuid.uuid4())
    rows = [execution(minutes=minutes) for minutes in (3, 1, 2, 1)]
    for row in rows:
        row.workspace_id = workspace
        await store.save(row)
    mine = wf.ExecutionFilter(workspace_id=workspace)
    ordered = sorted(rows, key=lambda row: (row.created_at, row.id))
    first = await store.page(mine, limit=2, count=False, oldest_first=True)
    assert [e.id for e in first.executions] == [row.id for row in ordered[:2]]
    last = first.executions[-1]
    rest = await store.page(mine, limit=5, after=(last.created_at, last.id), count=False, oldest_first=True)
    assert [e.id for e in rest.executions] == [row.id for row in ordered[2:]]
    newest = await store.page(mine, limit=5, count=False)
    assert [e.id for e in newest.executions] == [row.id for row in reversed(ordered)]
