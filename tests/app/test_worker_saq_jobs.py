"""Killed SAQ workers leave no SAQ job ``active``: the jobs' heartbeat lets SAQ's sweep finish them.

Real ``litestar workflows worker`` processes on PostgreSQL: a survivor runs throughout while three
other workers are SIGKILLed in turn, each while it holds leases (so its SAQ jobs are ``active``).
Once every execution completed, the SAQ jobs table soon holds no ``active`` job: the killed workers' jobs
are ``aborted`` by the sweep (app/saq_postgres.py) a heartbeat after their worker died, not five seconds
per job one after the other as SAQ's own sweep did (a minute for a dozen jobs), and the table holds at
most a few rows per execution.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.queue import SAQAdapter, heartbeat_seconds
from app.settings import default_queue_url
from tests.fixture_packs.queue_load import WRITE_SECONDS
from tests.support.databases import migrate, postgres_database
from tests.support.workers import (
    LEASE_SECONDS,
    Processes,
    engine_of,
    fixture_environment,
    kill_mid_run,
    load_app,
    make_user,
    runtime_of,
    start_executions,
    wait_for_owner,
    wait_until_completed,
)

pytestmark = pytest.mark.processes  # every test here starts real processes (tests/test_markers.py)

EXECUTIONS = 150
KILLS = 3
WORKER = ["workflows", "worker", "--concurrency", "4"]


async def job_statuses(engine: AsyncEngine, queue: str) -> dict[str, int]:
    """How many SAQ jobs of ``queue`` are in each status."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT status, count(*) FROM saq_jobs WHERE queue = :queue GROUP BY status"), {"queue": queue}
        )
        return {str(status): int(count) for status, count in rows}


async def killed_workers_leave_no_active_jobs(database_url: str, fixture_packs: Path, folder: Path) -> None:
    # The app queues the jobs: their heartbeat follows its lease, as the workers' settings do.
    app = load_app(database_url, queue="saq", queue_url=default_queue_url(database_url), lease_seconds=LEASE_SECONDS)
    runtime = runtime_of(app)
    engine = engine_of(app)
    adapter = runtime.adapter
    assert isinstance(adapter, SAQAdapter)
    assert adapter.heartbeat == heartbeat_seconds(LEASE_SECONDS)
    # Each write step holds its row 0.1 s: a victim that boots while the survivor drains still leases two.
    env = fixture_environment(database_url, fixture_packs, PACKFLOW_QUEUE="saq", **{WRITE_SECONDS: "0.1"})
    processes = Processes(folder)
    try:
        user = await make_user(app)
        await adapter.connect()  # SAQ creates its tables on connect: once here, not in a race of workers
        survivor = processes.start("survivor", WORKER, env)
        await wait_for_owner(survivor, processes)
        execution_ids: list[str] = []
        for round_ in range(KILLS):
            victim = processes.start(f"victim-{round_}", WORKER, env)
            owner = await wait_for_owner(victim, processes)
            # Each victim's share is queued once it is ready: the survivor alone may drain a queue faster
            # than a new worker process boots.
            execution_ids += await start_executions(app, user, EXECUTIONS // KILLS)
            await kill_mid_run(engine, processes, victim, owner, min_completed=0)
        at_last_kill = await job_statuses(engine, adapter.name)
        assert at_last_kill.get("active", 0) >= 2, at_last_kill
        await wait_until_completed(engine, len(execution_ids), within=240, logs=processes.logs)

        # The sweep aborts a job untouched for its heartbeat, at once; it runs every PACKFLOW_SWEEP_SECONDS
        # (here 1 s). The room beyond is for a loaded machine: SAQ's own sweep needed about five seconds
        # per job of a dead worker (60-70 s for the dozen jobs of three victims).
        deadline = time.monotonic() + heartbeat_seconds(LEASE_SECONDS) + 25
        while True:
            counts = await job_statuses(engine, adapter.name)
            if counts.get("active", 0) == 0 and counts.get("aborting", 0) == 0:
                break
            assert time.monotonic() < deadline, f"SAQ jobs still active: {counts}\n{processes.logs()}"
            await asyncio.sleep(0.5)
        assert counts.get("aborted", 0) >= KILLS * 2, counts
        assert sum(counts.values()) <= 3 * EXECUTIONS, counts
        print(f"\nSAQ jobs after {KILLS} kills, {EXECUTIONS} executions: {counts}")  # shown with -s
    finally:
        processes.kill_all()
        await adapter.disconnect()
        await engine.dispose()


@pytest.mark.postgres
def test_killed_workers_leave_no_saq_job_active(fixture_packs: Path, tmp_path: Path) -> None:
    with postgres_database() as url:
        migrate(url)
        asyncio.run(killed_workers_leave_no_active_jobs(url, fixture_packs, tmp_path))
