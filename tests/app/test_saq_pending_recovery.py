"""The recovery sweep does not deliver a pending execution twice while SAQ still holds its start job.

Real PostgreSQL, the app's SAQ adapter and the store: an execution started through the app waits
behind a backlog (no worker runs) longer than the sweep's ``stale_after``; the sweep queues it again
under its start key, which SAQ drops while that job is queued or taken. Once the job is finished
and the execution is still pending (its delivery was lost), the sweep queues it again.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from saq.job import Status as JobStatus

from app.queue import SAQAdapter
from app.settings import default_queue_url
from packs.core import workflow as wf
from packs.core.workflow.queue.adapters import start_key
from tests.support.databases import migrate, postgres_database
from tests.support.workers import engine_of, load_app, make_user, runtime_of, start_executions

pytestmark = pytest.mark.postgres


async def jobs_of(adapter: SAQAdapter, execution_id: str) -> list[JobStatus]:
    """The statuses of the SAQ jobs that deliver ``execution_id``."""
    queue = await adapter.connect()
    return [
        JobStatus(job.status)
        async for job in queue.iter_jobs()
        if (job.kwargs or {}).get("execution_id") == execution_id
    ]


async def pending_behind_a_backlog(database_url: str) -> None:
    app = load_app(database_url, queue="saq", queue_url=default_queue_url(database_url))
    runtime, engine = runtime_of(app), engine_of(app)
    adapter = runtime.adapter
    assert isinstance(adapter, SAQAdapter)
    try:
        user = await make_user(app)
        [execution_id] = await start_executions(app, user, 1)
        sweeper = wf.RecoverySweeper(runtime.store, adapter, stale_after=0, durable_queue=True)
        assert await jobs_of(adapter, execution_id) == [JobStatus.QUEUED]

        assert await sweeper.sweep() == [execution_id]  # stale: queued again...
        assert await jobs_of(adapter, execution_id) == [JobStatus.QUEUED]  # ...and SAQ dropped it

        queue = await adapter.connect()
        job = await queue.dequeue(timeout=10)  # a worker takes the job and has not claimed the execution yet
        assert job is not None
        assert job.key == start_key(execution_id)
        await job.update(status=JobStatus.ACTIVE)
        await sweeper.sweep()
        assert await jobs_of(adapter, execution_id) == [JobStatus.ACTIVE]

        await job.finish(JobStatus.COMPLETE)  # the job ended, the execution was never claimed: lost
        await asyncio.sleep(1.1)  # SAQ queues a finished key again only for a later second
        assert await sweeper.sweep() == [execution_id]
        assert await jobs_of(adapter, execution_id) == [JobStatus.QUEUED]
    finally:
        await adapter.disconnect()
        await engine.dispose()


def test_a_pending_execution_whose_start_job_is_held_is_not_delivered_twice(fixture_packs: Path) -> None:
    with postgres_database() as url:
        migrate(url)
        asyncio.run(pending_behind_a_backlog(url))
