"""A retry's wait with real processes (docs/workflow-language.md, Retry and catch): no wait lives in a worker.

PostgreSQL, SAQ workers: a worker runs a ``call`` step that fails into its retrier's 4-second wait (the
execution halts on a durable ``retry`` timer) and is SIGKILLed; another worker, started after, fires the
timer and runs the retry, which succeeds.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from app.queue import SAQAdapter
from app.settings import default_queue_url
from packs.core.models import WorkflowTimer
from tests.support.databases import migrate, postgres_database
from tests.support.workers import (
    Processes,
    add_held,
    aware,
    engine_of,
    http_app,
    http_environment,
    make_user,
    runtime_of,
    wait_for_owner,
    wait_for_statuses,
)

pytestmark = pytest.mark.processes

WORKFLOW = "http_retry_later"
"""``tests/fixture_packs/workflows/http/http_retry_later.yml``: a call failing until a flag file exists, one
retry 4 s later."""


async def retry_survives_the_workers_death(url: str, fixture_packs: Path, folder: Path) -> None:
    app = http_app(url, queue="saq", queue_url=default_queue_url(url))
    runtime, engine = runtime_of(app), engine_of(app)
    assert isinstance(runtime.adapter, SAQAdapter)
    env = http_environment(url, fixture_packs, PACKFLOW_QUEUE="saq")
    flag = folder / "flag"
    processes = Processes(folder)
    try:
        user = await make_user(app)
        await runtime.adapter.connect()
        first = processes.start("first", ["workflows", "worker", "--concurrency", "2"], env)
        await wait_for_owner(first, processes)
        [execution_id] = await add_held(app, user, WORKFLOW, {"flag": str(flag)})
        await runtime.adapter.enqueue(execution_id)
        await wait_for_statuses(engine, {"halted": 1}, within=30, logs=processes.logs)
        processes.sigkill(first)  # during the wait: the retry is a row in workflow_timers, not a sleep
        waiting = await runtime.store.load(execution_id)
        assert waiting is not None
        assert waiting.halt_data is not None
        assert waiting.halt_data["retry"] == {
            "step_id": "check",
            "attempt": 2,
            "error": f"RuntimeError: the flag file {flag} is missing",
        }
        flag.write_text("here", encoding="utf-8")

        second = processes.start("second", ["workflows", "worker", "--concurrency", "2"], env)
        await wait_for_owner(second, processes)
        await wait_for_statuses(engine, {"completed": 1}, within=30, logs=processes.logs)
        execution = await runtime.store.load(execution_id)
        assert execution is not None
        assert execution.result == {"found": {"flag": "found"}}
        checks = [(str(e.action), e.attempt) for e in await runtime.store.entries(execution_id) if e.step_id == "check"]
        assert checks == [("started", 1), ("failed", 1), ("started", 2), ("completed", 2)]
        table = WorkflowTimer.__table__
        async with engine.connect() as connection:
            statement = select(table.c.kind, table.c.due_at, table.c.fired_at).where(
                table.c.execution_id == uuid.UUID(execution_id)
            )
            [(kind, due_at, fired_at)] = (await connection.execute(statement)).all()
        assert kind == "retry"
        assert aware(fired_at) >= aware(due_at) == aware(waiting.halt_data["due_at"])
    finally:
        processes.kill_all()
        await runtime.adapter.disconnect()
        await engine.dispose()


@pytest.mark.postgres
def test_a_retry_wait_survives_the_sigkill_of_the_worker_that_started_it(fixture_packs: Path, tmp_path: Path) -> None:
    with postgres_database() as url:
        migrate(url)
        asyncio.run(retry_survives_the_workers_death(url, fixture_packs, tmp_path))
