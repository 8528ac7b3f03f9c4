"""Leases of queued executions (claim, renew, release, fenced checkpoints) and the recovery sweep.

On MemoryStore and the SQL store (SQLite, PostgreSQL), through the ``store`` fixture.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import uuid
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

import pytest

from packs.core import workflow as wf
from packs.core.db import current_session
from packs.core.models import WorkflowExecution
from packs.core.workflow.model import utcnow
from packs.core.workflow.queue.worker import LeaseKeeper
from packs.core.workflow.stores.sql import SQLStore

LOGGER = logging.getLogger("tests.workflow.leases")


def seconds(value: float) -> datetime.timedelta:
    return datetime.timedelta(seconds=value)


async def added(store: wf.QueueStore, status: str = wf.Status.PENDING, **fields: Any) -> wf.Execution:
    """A new execution of workflow ``w``, inserted with ``add``."""
    execution = wf.Execution(id=str(uuid.uuid4()), workflow_id="w", status=status, current_step="start", **fields)
    assert await store.add(execution) is True
    return execution


async def loaded(store: wf.QueueStore, execution_id: str) -> wf.Execution:
    execution = await store.load(execution_id)
    assert execution is not None
    return execution


def entry(execution: wf.Execution, step_id: str, action: str) -> wf.Entry:
    return wf.Entry(execution_id=execution.id, step_id=step_id, step_type="assign", action=action)


async def actions(store: wf.QueueStore, execution_id: str) -> list[tuple[str, str]]:
    return [(e.step_id, str(e.action)) for e in await store.entries(execution_id)]


async def crashed(store: wf.QueueStore, lease_seconds: float = 0.05) -> wf.Execution:
    """An execution a worker (``dead``) claimed and started running, with a lease of ``lease_seconds``."""
    execution = await added(store)
    claimed = await store.claim(execution.id, "dead", lease_seconds)
    assert claimed is not None
    claimed.status = wf.Status.RUNNING
    with store.leased(execution.id, "dead"):
        await store.checkpoint(claimed, [entry(claimed, "start", wf.Action.STARTED)])
    return claimed


# -- add / claim --------------------------------------------------------------------------------


async def test_add_inserts_only_a_new_id(store: wf.QueueStore) -> None:
    execution = await added(store, input={"n": 1})
    again = wf.Execution(id=execution.id, workflow_id="other", status=wf.Status.COMPLETED)
    assert await store.add(again) is False
    stored = await loaded(store, execution.id)
    assert (stored.workflow_id, stored.status, stored.input) == ("w", "pending", {"n": 1})


async def test_a_pending_execution_is_claimed_once_and_each_claim_counts_an_attempt(store: wf.QueueStore) -> None:
    execution = await added(store)
    before = utcnow()
    first = await store.claim(execution.id, "a", 30)
    assert first is not None
    assert (first.id, first.status, first.lease_owner, first.attempts) == (execution.id, "pending", "a", 1)
    assert first.lease_expires_at is not None
    assert before + seconds(29) < first.lease_expires_at < utcnow() + seconds(31)
    # While the lease is live nobody claims it, not even its owner (a second delivery of the same job).
    assert await store.claim(execution.id, "b", 30) is None
    assert await store.claim(execution.id, "a", 30) is None
    stored = await loaded(store, execution.id)
    assert (stored.lease_owner, stored.attempts) == ("a", 1)
    await store.release(execution.id, "a")
    second = await store.claim(execution.id, "b", 30)
    assert second is not None
    assert (second.lease_owner, second.attempts) == ("b", 2)


async def test_finished_halted_unknown_and_unleased_running_executions_are_not_claimable(
    store: wf.QueueStore,
) -> None:
    for status in (wf.Status.COMPLETED, wf.Status.HALTED, wf.Status.FAILED, wf.Status.CANCELLED):
        execution = await added(store, status=status)
        assert await store.claim(execution.id, "a", 30) is None, status
        stored = await loaded(store, execution.id)
        assert (stored.status, stored.lease_owner, stored.attempts) == (status, None, 0)
    # Running without a lease: an engine runs it in some process (e.g. Engine.run, no worker).
    running = await added(store, status=wf.Status.RUNNING)
    assert await store.claim(running.id, "a", 30) is None
    assert (await loaded(store, running.id)).attempts == 0
    assert await store.claim(str(uuid.uuid4()), "a", 30) is None
    assert await store.claim("not-a-uuid", "a", 30) is None


async def test_a_running_execution_whose_lease_expired_is_claimable(store: wf.QueueStore) -> None:
    execution = await crashed(store, lease_seconds=0.3)
    assert await store.claim(execution.id, "b", 30) is None
    await asyncio.sleep(0.35)
    taken = await store.claim(execution.id, "b", 30)
    assert taken is not None
    assert (taken.status, taken.lease_owner, taken.attempts) == ("running", "b", 2)
    assert await actions(store, execution.id) == [("start", "started")]


# -- renew / release ----------------------------------------------------------------------------


async def test_renew_extends_only_the_owners_lease(store: wf.QueueStore) -> None:
    execution = await added(store)
    claimed = await store.claim(execution.id, "a", 0.2)
    assert claimed is not None
    assert claimed.lease_expires_at is not None
    assert await store.renew(execution.id, "a", 30) is True
    renewed = await loaded(store, execution.id)
    assert renewed.lease_expires_at is not None
    assert renewed.lease_expires_at > claimed.lease_expires_at + seconds(25)
    assert await store.renew(execution.id, "b", 30) is False
    assert await store.renew(str(uuid.uuid4()), "a", 30) is False
    unchanged = await loaded(store, execution.id)
    assert (unchanged.lease_owner, unchanged.lease_expires_at) == ("a", renewed.lease_expires_at)
    await asyncio.sleep(0.25)  # past the first expiry: the renewal keeps the lease live
    assert await store.claim(execution.id, "b", 30) is None


async def test_release_by_the_owner_makes_it_claimable_at_available_at(store: wf.QueueStore) -> None:
    execution = await added(store)
    assert await store.claim(execution.id, "a", 30) is not None
    await store.release(execution.id, "b")  # not the owner: nothing changes
    assert (await loaded(store, execution.id)).lease_owner == "a"
    await store.release(execution.id, "a", available_at=utcnow() + seconds(0.3))
    released = await loaded(store, execution.id)
    assert released.lease_owner is None
    assert await store.renew(execution.id, "a", 30) is False
    assert await store.claim(execution.id, "b", 30) is None
    await asyncio.sleep(0.35)
    claimed = await store.claim(execution.id, "b", 30)
    assert claimed is not None
    assert (claimed.lease_owner, claimed.attempts) == ("b", 2)


# -- fencing ------------------------------------------------------------------------------------


async def taken_over(store: wf.QueueStore) -> wf.Execution:
    """An execution worker ``a`` checkpointed under its lease, which expired and ``b`` then claimed.

    Returned as ``a`` last saw it.
    """
    execution = await added(store)
    mine = await store.claim(execution.id, "a", 0.05)
    assert mine is not None
    mine.status = wf.Status.RUNNING
    with store.leased(execution.id, "a"):
        await store.checkpoint(mine, [entry(mine, "start", wf.Action.STARTED)])  # a's lease holds: written
    assert await actions(store, execution.id) == [("start", "started")]
    await asyncio.sleep(0.08)
    assert await store.claim(execution.id, "b", 30) is not None
    return mine


def advanced(execution: wf.Execution) -> list[wf.Entry]:
    """Move ``execution`` one step on (as the engine would); the entries of that checkpoint."""
    execution.ctx = {"x": 1}
    execution.current_step = "next"
    return [entry(execution, "start", wf.Action.COMPLETED), entry(execution, "next", wf.Action.STARTED)]


async def test_a_checkpoint_after_the_lease_was_lost_raises_and_writes_nothing(store: wf.QueueStore) -> None:
    mine = await taken_over(store)
    before = await loaded(store, mine.id)
    entries = advanced(mine)
    with store.leased(mine.id, "a"), pytest.raises(wf.LeaseLostError):
        await store.checkpoint(mine, entries)
    assert await loaded(store, mine.id) == before
    assert before.lease_owner == "b"
    assert await actions(store, mine.id) == [("start", "started")]
    # The worker that holds the lease now checkpoints as usual.
    with store.leased(mine.id, "b"):
        await store.checkpoint(mine, entries)
    after = await loaded(store, mine.id)
    assert (after.ctx, after.current_step, after.lease_owner) == ({"x": 1}, "next", "b")
    assert await actions(store, mine.id) == [("start", "started"), ("start", "completed"), ("next", "started")]


SQL_BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.mark.parametrize("scoped", [False, True], ids=["unit", "scoped-unit"])
async def test_a_fenced_checkpoint_in_a_unit_rolls_the_unit_back(store: wf.QueueStore, scoped: bool) -> None:
    await fenced_checkpoint_rolls_back(store, scoped, tool_writes=False)


@pytest.mark.parametrize("store_backend", SQL_BACKENDS, indirect=True)
@pytest.mark.parametrize("scoped", [False, True], ids=["unit", "scoped-unit"])
async def test_a_fenced_checkpoint_rolls_back_what_the_steps_tool_wrote(store: wf.QueueStore, scoped: bool) -> None:
    await fenced_checkpoint_rolls_back(store, scoped, tool_writes=True)


async def fenced_checkpoint_rolls_back(store: wf.QueueStore, scoped: bool, tool_writes: bool) -> None:
    """A checkpoint refused by the fence rolls back the whole unit (and what a tool wrote in it)."""
    mine = await taken_over(store)
    before = await loaded(store, mine.id)
    entries = advanced(mine)
    scope: AbstractAsyncContextManager[None] = (
        store.execution_scope() if scoped and isinstance(store, SQLStore) else nullcontext()
    )

    async def step() -> None:
        async with scope, store.unit():
            if tool_writes:
                # What a tool does in a step: write through the unit's session, never commit.
                session = current_session()
                session.add(WorkflowExecution(workflow_id="written-by-a-tool", status="completed"))
                await session.flush()
            await store.checkpoint(mine, entries)

    with store.leased(mine.id, "a"), pytest.raises(wf.LeaseLostError):
        await step()
    assert await loaded(store, mine.id) == before
    assert await actions(store, mine.id) == [("start", "started")]
    assert await store.find(workflow_id="written-by-a-tool") == []


async def test_the_fence_covers_only_the_leased_execution(store: wf.QueueStore) -> None:
    mine = await taken_over(store)
    other = await added(store)
    other.ctx = {"y": 2}
    with store.leased(mine.id, "a"):
        await store.checkpoint(other, [entry(other, "start", wf.Action.STARTED)])
    assert (await loaded(store, other.id)).ctx == {"y": 2}


# -- the lease keeper ---------------------------------------------------------------------------


async def test_the_lease_keeper_renews_until_the_lease_is_taken(store: wf.QueueStore) -> None:
    execution = await added(store)
    assert await store.claim(execution.id, "a", 0.15) is not None
    async with LeaseKeeper(store, execution.id, "a", 0.15, LOGGER) as keeper:
        await asyncio.sleep(0.3)  # twice the lease: only renewals keep it
        assert keeper.is_lost() is False
        assert await store.claim(execution.id, "b", 30) is None
        await wf.cancel(store, execution.id)  # drops the lease
        await asyncio.sleep(0.12)
        assert keeper.is_lost() is True


async def test_the_lease_keeper_of_a_run_shorter_than_a_third_of_its_lease_starts_no_task(
    store: wf.QueueStore,
) -> None:
    execution = await added(store)
    assert await store.claim(execution.id, "a", 30) is not None
    before = asyncio.all_tasks()
    async with LeaseKeeper(store, execution.id, "a", 30, LOGGER) as keeper:
        await asyncio.sleep(0.05)
        assert asyncio.all_tasks() == before  # a timer handle, not a task, until the first renewal is due
        assert keeper.is_lost() is False
    async with LeaseKeeper(store, execution.id, "a", 0.3, LOGGER):
        await asyncio.sleep(0.15)  # past a third of the lease: the renewing task runs
        assert len(asyncio.all_tasks() - before) == 1
    assert asyncio.all_tasks() == before  # and is stopped with the block


# -- the recovery sweep -------------------------------------------------------------------------


class RecordingAdapter:
    """A queue adapter that only records what it is given."""

    def __init__(self) -> None:
        self.enqueued: list[tuple[str, float, str | None]] = []

    async def enqueue(self, execution_id: str, delay: float = 0.0, key: str | None = None) -> None:
        self.enqueued.append((execution_id, delay, key))


async def test_the_recovery_sweep_queues_what_no_live_lease_covers(store: wf.QueueStore) -> None:
    adapter = RecordingAdapter()
    sweeper = wf.RecoverySweeper(store, adapter, retry=wf.RetryPolicy(backoff_seconds=0.4), stale_after=30)
    waiting = await added(store)  # queued; its delivery was lost
    dead = await crashed(store, lease_seconds=0.05)  # attempt 1 died: lease runs out, then 0.4 s of backoff
    alive = await crashed(store, lease_seconds=30)  # a live worker runs it
    leased = await added(store)
    assert await store.claim(leased.id, "alive", 30) is not None  # claimed, not started yet
    await added(store, status=wf.Status.RUNNING)  # run by an engine without a lease
    for status in (wf.Status.HALTED, wf.Status.COMPLETED, wf.Status.FAILED, wf.Status.CANCELLED):
        await added(store, status=status)
    await asyncio.sleep(0.1)  # dead's lease has expired; its backoff has not passed

    assert await sweeper.sweep(first_sweep=True) == [waiting.id]
    assert adapter.enqueued == [(waiting.id, 0.0, f"start:{waiting.id}")]  # a queue holding its start drops it
    assert await sweeper.sweep() == []  # later sweeps queue a pending execution only once it is stale

    await asyncio.sleep(0.4)
    assert await sweeper.sweep() == [dead.id]
    assert adapter.enqueued[1:] == [(dead.id, 0.0, f"recover:{dead.id}:1")]
    assert alive.id not in {queued for queued, _, _ in adapter.enqueued}

    stale = wf.RecoverySweeper(store, adapter, retry=wf.RetryPolicy(backoff_seconds=0.4), stale_after=0)
    assert sorted(await stale.sweep()) == sorted([waiting.id, dead.id])


async def test_with_a_durable_queue_the_first_sweep_leaves_the_pending_backlog_to_the_queue(
    store: wf.QueueStore,
) -> None:
    adapter = RecordingAdapter()
    durable = wf.RecoverySweeper(store, adapter, stale_after=30, durable_queue=True)
    waiting = await added(store)  # its job is still on the durable queue
    assert await durable.sweep(first_sweep=True) == []
    stale = wf.RecoverySweeper(store, adapter, stale_after=0, durable_queue=True)
    assert await stale.sweep(first_sweep=True) == [waiting.id]  # waited too long: its job was lost
