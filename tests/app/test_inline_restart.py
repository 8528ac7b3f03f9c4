"""The inline queue end to end on SQLite, with a real ``litestar run`` server process.

With ``PACKFLOW_QUEUE=inline`` the app process runs executions itself; its recovery sweep queues,
when the app starts, every execution left pending, and every one left running once its lease
expires. So executions saved as ``pending`` while no server runs are run when one starts, and a
server SIGKILLed in the middle of executions finishes them after a restart: every step completed
exactly once, one row per ``call`` step.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from litestar import Litestar
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.plugin import PackflowPlugin
from packs.core.models import Item
from tests.fixture_packs.queue_load import CALL_STEPS, SCHEMA, WORK_SECONDS, WRITE_SECONDS
from tests.support.databases import migrate, sqlite_url
from tests.support.processes import free_port
from tests.support.workers import (
    Process,
    Processes,
    add_pending,
    audit,
    engine_of,
    fixture_environment,
    load_app,
    make_user,
    runtime_of,
    statuses,
    wait_until_completed,
)


def serve(processes: Processes, name: str, env: dict[str, str]) -> Process:
    """``litestar run`` on a free port with the inline queue."""
    return processes.start(name, ["run", "--host", "127.0.0.1", "--port", str(free_port())], env)


def stop(server: Process, processes: Processes) -> None:
    """SIGTERM: the server shuts down gracefully (uvicorn then exits by the same signal)."""
    server.popen.send_signal(signal.SIGTERM)
    assert server.popen.wait(timeout=30) in (0, -signal.SIGTERM), processes.logs()
    assert "Application shutdown complete" in server.output(), processes.logs()


async def items(app: Litestar) -> int:
    """Rows the workflow's ``call`` steps have committed."""
    async with app.plugins.get(PackflowPlugin).db.create_session_maker()() as session:
        statement = select(func.count()).select_from(Item).where(Item.schema_slug == SCHEMA)
        return int((await session.execute(statement)).scalar_one())


async def leased(engine: AsyncEngine) -> int:
    """Executions running under a lease."""
    async with engine.connect() as connection:
        statement = text(
            "SELECT count(*) FROM workflow_executions WHERE status = 'running' AND lease_owner IS NOT NULL"
        )
        return int((await connection.execute(statement)).scalar_one())


async def pending_executions_run_when_the_server_starts(url: str, fixture_packs: Path, folder: Path) -> None:
    app = load_app(url)
    engine = engine_of(app)
    processes = Processes(folder)
    try:
        user = await make_user(app)
        execution_ids = await add_pending(app, user, 12)
        assert await statuses(engine) == {"pending": 12}
        env = fixture_environment(  # a long lease: none expires, each execution is claimed once
            url,
            fixture_packs,
            PACKFLOW_QUEUE="inline",
            PACKFLOW_LEASE_SECONDS="30",
            **{WORK_SECONDS: "0.02", WRITE_SECONDS: "0"},
        )
        server = serve(processes, "server", env)
        await wait_until_completed(engine, 12, within=60, logs=processes.logs)
        result = await audit(app, execution_ids)
        result.assert_clean()
        assert result.attempts == {1: 12}
        stop(server, processes)
    finally:
        processes.kill_all()
        await engine.dispose()


@pytest.mark.processes
def test_the_inline_server_runs_pending_executions_when_it_starts(fixture_packs: Path, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    migrate(url)
    asyncio.run(pending_executions_run_when_the_server_starts(url, fixture_packs, tmp_path))


RUNNING = 3


async def killed_server_resumes_on_restart(url: str, fixture_packs: Path, folder: Path) -> None:
    app = load_app(url)
    engine = engine_of(app)
    processes = Processes(folder)
    try:
        user = await make_user(app)
        execution_ids = await add_pending(app, user, RUNNING)
        slow = fixture_environment(
            url, fixture_packs, PACKFLOW_QUEUE="inline", **{WORK_SECONDS: "0.5", WRITE_SECONDS: "0"}
        )
        first = serve(processes, "first", slow)

        # Kill the server once every execution is running and some call steps have committed their rows.
        deadline = time.monotonic() + 60
        while not (await leased(engine) == RUNNING and await items(app) >= 2):
            assert first.popen.poll() is None, f"the server exited:\n{processes.logs()}"
            assert time.monotonic() < deadline, f"the executions never got under way:\n{processes.logs()}"
            await asyncio.sleep(0.05)
        processes.sigkill(first)

        written = await items(app)
        assert await statuses(engine) == {"running": RUNNING}, "the kill landed after an execution finished"
        assert 2 <= written < RUNNING * len(CALL_STEPS)

        fast = fixture_environment(
            url, fixture_packs, PACKFLOW_QUEUE="inline", **{WORK_SECONDS: "0.02", WRITE_SECONDS: "0"}
        )
        second = serve(processes, "second", fast)
        await wait_until_completed(engine, RUNNING, within=60, logs=processes.logs)
        result = await audit(app, execution_ids)
        result.assert_clean()
        assert sum(result.attempts.values()) == RUNNING
        assert min(result.attempts) >= 2, f"an execution was not run again after the restart: {result.attempts}"
        stop(second, processes)
    finally:
        processes.kill_all()
        await engine.dispose()


@pytest.mark.processes
def test_a_sigkilled_inline_server_finishes_its_executions_after_a_restart(fixture_packs: Path, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    migrate(url)
    asyncio.run(killed_server_resumes_on_restart(url, fixture_packs, tmp_path))


async def cancel_a_renewal_waiting_for_the_write_lock(url: str, database: Path) -> BaseException | None:
    app = load_app(url)
    store = runtime_of(app).store
    try:
        [execution_id] = await add_pending(app, await make_user(app), 1)
        assert await store.claim(execution_id, "me", 30) is not None
        blocker = sqlite3.connect(database, isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")  # the write lock, as a long step of another execution holds it
            renewing = asyncio.create_task(store.renew(execution_id, "me", 30))
            await asyncio.sleep(0.3)
            renewing.cancel()
            await asyncio.sleep(0.1)
        finally:
            blocker.execute("COMMIT")
            blocker.close()
        outcome = (await asyncio.gather(renewing, return_exceptions=True))[0]
        return outcome if isinstance(outcome, BaseException) else None
    finally:
        await engine_of(app).dispose()


def test_a_sqlite_statement_cut_short_by_a_cancellation_raises_the_cancellation(tmp_path: Path) -> None:
    """A task cancelled while its statement waits for SQLite's write lock ends cancelled: the rollback of the
    invalidated connection works (it raised ``PendingRollbackError``, which hid the cancellation)."""
    url = sqlite_url(tmp_path)
    migrate(url)
    outcome = asyncio.run(cancel_a_renewal_waiting_for_the_write_lock(url, tmp_path / "packflow-test.db"))
    assert isinstance(outcome, asyncio.CancelledError), repr(outcome)
