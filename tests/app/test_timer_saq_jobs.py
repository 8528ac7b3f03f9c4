"""The SAQ jobs of durable timers (app/queue.py; docs/workflow-language.md, Waits and durable timers).

On PostgreSQL with real SAQ: a worker schedules one job per due second of the timers a run added,
whatever their number (the job only wakes the sweep), and scheduling again adds none; the job's
function wakes the worker's timer sweep at once instead of at its next tick.
"""

from __future__ import annotations

import asyncio
import datetime
import math
import time
from typing import Any

import pytest
from sqlalchemy import text

from app import create_app
from app.queue import TIMERS_KEY, SAQAdapter, fire_timers
from app.settings import Settings, default_queue_url
from packs.core.workflow.model import utcnow
from packs.core.workflow.timers import Timer, TimerSweeper
from tests.core.workflow.test_timers import noting, nowhere
from tests.support.databases import migrate, postgres_database
from tests.support.workers import engine_of, runtime_of

pytestmark = pytest.mark.postgres


async def one_job_per_due_second(url: str) -> None:
    app = create_app(Settings(database_url=url, queue="saq", queue_url=default_queue_url(url), auto_migrate=False))
    runtime, engine = runtime_of(app), engine_of(app)
    adapter = runtime.adapter
    assert isinstance(adapter, SAQAdapter)
    try:
        base = math.ceil(time.time()) + 60
        moments = [base + 0.1, base + 0.5, base + 0.9, base + 2.2, base + 2.3]
        timers = [Timer(kind="wait", due_at=datetime.datetime.fromtimestamp(m, datetime.UTC)) for m in moments]
        await adapter.schedule_timers(timers)
        await adapter.schedule_timers(timers[:2])  # the same seconds again: nothing new
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT key, scheduled FROM saq_jobs WHERE key LIKE 'timers:%' ORDER BY scheduled")
            )
            jobs = [(str(key), int(scheduled)) for key, scheduled in rows.all()]
        assert jobs == [
            (f"timers:{adapter.name}:{base + 1}", base + 1),
            (f"timers:{adapter.name}:{base + 3}", base + 3),
        ]
    finally:
        await adapter.disconnect()
        await engine.dispose()


def test_a_worker_schedules_one_saq_job_per_due_second_of_its_timers() -> None:
    with postgres_database() as url:
        migrate(url)
        asyncio.run(one_job_per_due_second(url))


async def the_job_wakes_the_sweep(url: str) -> None:
    app = create_app(Settings(database_url=url, auto_migrate=False))
    runtime, engine = runtime_of(app), engine_of(app)
    handlers, fired = noting()
    sweeper = TimerSweeper(runtime.store, nowhere, handlers=handlers, resolution=3600)
    sweeper.start()  # its first sweep finds nothing; the next tick is an hour away
    try:
        await asyncio.sleep(0.5)
        timer = Timer(kind="note", due_at=utcnow())
        await runtime.store.add_timer(timer)
        context: Any = {TIMERS_KEY: sweeper}  # what the worker's startup hook gives SAQ jobs
        await fire_timers(context)
        deadline = time.monotonic() + 30
        while not fired:
            assert time.monotonic() < deadline, "the job did not wake the sweep"
            await asyncio.sleep(0.05)
        assert fired == [timer.id]
    finally:
        await sweeper.stop()
        await engine.dispose()


def test_the_timers_job_wakes_the_workers_sweep_at_once() -> None:
    with postgres_database() as url:
        migrate(url)
        asyncio.run(the_job_wakes_the_sweep(url))
