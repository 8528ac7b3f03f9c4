"""SAQ's sweep on PostgreSQL (app/saq_postgres.py): a dead worker's jobs are finished at once, a live one's never.

Real PostgreSQL and SAQ's queue: jobs are taken with ``dequeue`` as a worker takes them and then not
touched (their worker "died"), or touched by their worker between the sweep's read and its write.
"""

from __future__ import annotations

import asyncio

import pytest
from saq.job import Job, Status

from app.queue import JOB_FUNCTION
from app.saq_postgres import PackflowPostgresQueue
from tests.support.saq_queue import on_fresh_queue

pytestmark = pytest.mark.postgres

HEARTBEAT = 1
"""SAQ's smallest heartbeat (whole seconds): a job untouched for longer is stuck."""


async def taken_jobs(queue: PackflowPostgresQueue, count: int, retries: int = 1) -> list[Job]:
    """Queue ``count`` jobs and take each as SAQ's worker does (``active``, one attempt); nobody touches them
    afterwards."""
    for index in range(count):
        await queue.enqueue(
            JOB_FUNCTION, key=f"job-{index}", execution_id=str(index), heartbeat=HEARTBEAT, retries=retries
        )
    taken = []
    for _ in range(count):
        job = await queue.dequeue(timeout=10)
        assert job is not None
        job.attempts += 1
        await job.update(status=Status.ACTIVE)
        taken.append(job)
    return taken


async def statuses(queue: PackflowPostgresQueue, jobs: list[Job]) -> list[Status | None]:
    """The status of each of ``jobs`` in SAQ's table now (``None`` for a job no longer there)."""
    return [Status(job.status) if job else None for job in await queue.jobs(job.key for job in jobs)]


async def untouched_past_heartbeat() -> None:
    await asyncio.sleep(HEARTBEAT + 0.6)


def test_one_sweep_finishes_every_stuck_job_without_waiting_for_its_dead_worker() -> None:
    async def scenario(queue: PackflowPostgresQueue, _: str) -> None:
        jobs = await taken_jobs(queue, 3)
        assert await statuses(queue, jobs) == [Status.ACTIVE] * 3
        await untouched_past_heartbeat()
        # SAQ's own sweep waits five seconds for each stuck job's worker, one job after the other (15 s).
        swept = await asyncio.wait_for(queue.sweep(), timeout=10)
        assert sorted(swept) == sorted(job.key for job in jobs)
        assert await statuses(queue, jobs) == [Status.ABORTED] * 3
        for job in await queue.jobs(job.key for job in jobs):
            assert job is not None
            assert job.error == queue.swept_error_message
            assert job.completed > 0
        assert await queue.sweep() == []

    on_fresh_queue(scenario)


def test_a_job_its_worker_touched_after_the_sweep_read_it_is_not_swept() -> None:
    async def scenario(queue: PackflowPostgresQueue, _: str) -> None:
        [job] = await taken_jobs(queue, 1)
        await untouched_past_heartbeat()
        [row] = await queue.active_rows()
        await job.update()  # the worker's heartbeat lands between the sweep's read and its write
        assert not await queue.finish_stuck(row)
        assert await statuses(queue, [job]) == [Status.ACTIVE]
        assert await queue.sweep() == []  # read again: touched just now, not stuck
        await untouched_past_heartbeat()
        assert await queue.sweep() == [job.key]
        assert await statuses(queue, [job]) == [Status.ABORTED]

    on_fresh_queue(scenario)


def test_a_job_its_worker_finished_after_the_sweep_read_it_stays_complete() -> None:
    async def scenario(queue: PackflowPostgresQueue, _: str) -> None:
        [job] = await taken_jobs(queue, 1)
        await untouched_past_heartbeat()
        [row] = await queue.active_rows()
        await job.finish(Status.COMPLETE)
        assert not await queue.finish_stuck(row)
        assert await statuses(queue, [job]) == [Status.COMPLETE]

    on_fresh_queue(scenario)


def test_a_stuck_job_with_retries_left_is_queued_again() -> None:
    async def scenario(queue: PackflowPostgresQueue, _: str) -> None:
        [job] = await taken_jobs(queue, 1, retries=3)
        await untouched_past_heartbeat()
        assert await queue.sweep() == [job.key]
        assert await statuses(queue, [job]) == [Status.QUEUED]
        again = await queue.dequeue(timeout=30)  # after SAQ's retry delay (none by default)
        assert again is not None
        assert again.key == job.key

    on_fresh_queue(scenario)
