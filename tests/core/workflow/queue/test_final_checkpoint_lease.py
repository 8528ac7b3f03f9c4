"""The checkpoint that ends a leased run gives the lease up in its own UPDATE (``leased(..., release=True)``).

On MemoryStore and the SQL store (SQLite, PostgreSQL), through the ``store`` fixture; on the SQL store both
through the driver writers (inside an execution scope, as a worker's run) and through SQLAlchemy (outside one).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

import pytest

from packs.core import workflow as wf
from packs.core.workflow.model import utcnow
from packs.core.workflow.queue.worker import LeaseKeeper
from tests.core.workflow.queue.test_queue import Services, call, doc, queued, worker

CALLS = doc(call("first", "quick", input={"label": "one"}), {"id": "end", "type": "end"}, id="final_release")
APPROVAL = doc({"id": "ask", "type": "approval", "prompt": "ok?"}, {"id": "end", "type": "end"}, id="final_at_a_halt")


def scopes(store: wf.QueueStore) -> list[Callable[[], AbstractAsyncContextManager[None]]]:
    """The ways a checkpoint reaches the database: outside any scope, and (SQL) inside an execution scope."""
    scope = getattr(store, "execution_scope", None)
    return [nullcontext] if scope is None else [nullcontext, scope]


async def claimed_running(store: wf.QueueStore, owner: str = "w") -> wf.Execution:
    execution = wf.Execution(id=str(uuid.uuid4()), workflow_id="w", status=wf.Status.PENDING, current_step="start")
    assert await store.add(execution)
    claimed = await store.claim(execution.id, owner, 30)
    assert claimed is not None
    claimed.status = wf.Status.RUNNING
    return claimed


async def lease_of(store: wf.QueueStore, execution_id: str) -> tuple[str, str | None, datetime.datetime | None]:
    stored = await store.load(execution_id)
    assert stored is not None
    return str(stored.status), stored.lease_owner, stored.lease_expires_at


@pytest.mark.parametrize("status", [wf.Status.COMPLETED, wf.Status.FAILED, wf.Status.HALTED])
async def test_the_checkpoint_that_ends_a_run_gives_the_lease_up(store: wf.QueueStore, status: wf.Status) -> None:
    for scope in scopes(store):
        execution = await claimed_running(store)
        async with scope():
            with store.leased(execution.id, "w", release=True) as lease:
                await store.checkpoint(execution, [])
                assert not lease.released  # still running: the lease stays
                assert (await lease_of(store, execution.id))[1] == "w"
                execution.status = status
                execution.updated_at = utcnow()
                await store.checkpoint(execution, [])
        assert lease.released
        assert await lease_of(store, execution.id) == (status, None, None)
        # Free for another worker (a halted one is claimable once a resume queues it: no lease stands in the way).
        assert not await store.renew(execution.id, "w", 30)


async def test_without_release_the_final_checkpoint_keeps_the_lease(store: wf.QueueStore) -> None:
    for scope in scopes(store):
        execution = await claimed_running(store)
        execution.status = wf.Status.COMPLETED
        async with scope():
            with store.leased(execution.id, "w") as lease:
                await store.checkpoint(execution, [])
        assert not lease.released
        assert (await lease_of(store, execution.id))[:2] == ("completed", "w")


async def test_a_worker_whose_lease_was_taken_over_leaves_the_new_owner_its_lease(store: wf.QueueStore) -> None:
    for scope in scopes(store):
        execution = await claimed_running(store)
        # Its lease ran out and another worker claimed the execution (as after a long pause of this one).
        await store.release(execution.id, "w", available_at=utcnow() - datetime.timedelta(seconds=1))
        taken = await store.claim(execution.id, "other", 30)
        assert taken is not None
        execution.status = wf.Status.COMPLETED
        async with scope():
            with store.leased(execution.id, "w", release=True) as lease, pytest.raises(wf.LeaseLostError):
                await store.checkpoint(execution, [])
        assert not lease.released
        status, owner, expires = await lease_of(store, execution.id)
        assert (status, owner) == ("pending", "other")
        assert expires is not None
        assert expires > utcnow()


class Releases:
    """Counts the store's ``release`` calls (the store's own method, wrapped on the instance)."""

    def __init__(self, store: wf.QueueStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        release = store.release

        async def counted(execution_id: str, owner: str, **kwargs: Any) -> None:
            self.calls += 1
            await release(execution_id, owner, **kwargs)

        monkeypatch.setattr(store, "release", counted)


@pytest.mark.parametrize(("document", "status"), [(CALLS, "completed"), (APPROVAL, "halted")])
async def test_a_worker_run_that_ends_releases_its_lease_with_its_last_checkpoint(
    store: wf.QueueStore, monkeypatch: pytest.MonkeyPatch, document: dict[str, Any], status: str
) -> None:
    definition = wf.load(document)
    execution_id = await queued(store, definition)
    releases = Releases(store, monkeypatch)
    result = await worker(store, definition, Services(), owner="w").process(execution_id)
    assert result is not None
    assert result.status == status
    assert releases.calls == 0
    assert await lease_of(store, execution_id) == (status, None, None)


async def test_a_worker_giving_an_execution_up_releases_its_lease_with_the_failed_checkpoint(
    store: wf.QueueStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    definition = wf.load(CALLS)
    execution = wf.Engine(definition, store).new_execution({}, status=wf.Status.PENDING)
    execution.attempts = 5  # the claim makes it 6: over max_attempts
    assert await store.add(execution)
    releases = Releases(store, monkeypatch)
    runner = worker(store, definition, Services(), owner="w", retry=wf.RetryPolicy(max_attempts=5))
    result = await runner.process(execution.id)
    assert result is not None
    assert result.status == "failed"
    assert releases.calls == 0
    assert await lease_of(store, execution.id) == ("failed", None, None)


async def test_the_lease_keeper_stops_quietly_once_the_last_checkpoint_gave_the_lease_up(
    store: wf.QueueStore, caplog: pytest.LogCaptureFixture
) -> None:
    execution = await claimed_running(store)
    logger = logging.getLogger("tests.final_checkpoint_lease")
    with caplog.at_level(logging.WARNING, logger=logger.name):
        async with LeaseKeeper(store, execution.id, "w", 0.06, logger) as keeper:
            with store.leased(execution.id, "w", release=True) as lease:
                keeper.lease = lease
                execution.status = wf.Status.COMPLETED
                await store.checkpoint(execution, [])
            await asyncio.sleep(0.2)  # several renewal intervals: a renewal would find no lease
            assert not keeper.is_lost()
    assert not [record for record in caplog.records if "lease lost" in record.getMessage()]
