"""Crash consistency: a process SIGKILLed in the middle of a ``call`` step loses nothing and repeats nothing."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.database import configure_engine
from tests.support.processes import LITESTAR, REPO, environment, last_json_line, litestar

pytestmark = pytest.mark.processes  # every test here starts real processes (tests/test_markers.py)


def scalar(url: str, sql: str, **params: object) -> object:
    async def query() -> object:
        engine = configure_engine(create_async_engine(url))
        try:
            async with engine.connect() as connection:
                return (await connection.execute(text(sql), params)).scalar_one()
        finally:
            await engine.dispose()

    return asyncio.run(query())


def test_sigkill_in_the_middle_of_a_call_step_then_recover_in_a_new_process(
    database_url: str, fixture_packs: Path, tmp_path: Path
) -> None:
    env = environment(
        database_url, PACKFLOW_PACKS="pftest_crashy", PYTHONPATH=os.pathsep.join([str(fixture_packs), str(REPO)])
    )
    user = last_json_line(
        litestar(env, "users", "create", "--email", "crash@example.com", "--workspace", "Crash").stdout
    )
    label = f"crash-{uuid.uuid4().hex}"
    execution_id = str(uuid.uuid4())
    payload = {"user_id": user["user_id"], "workspace_id": user["workspace_id"], "label": label}
    hang = tmp_path / "hanging"
    process = subprocess.Popen(
        [*LITESTAR, "workflows", "run", "crash_test", "--input", json.dumps(payload), "--execution-id", execution_id],
        cwd=REPO,
        env={**env, "PACKFLOW_TEST_HANG_FILE": str(hang)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not hang.exists():
        assert process.poll() is None, "the run ended before reaching the call step"
        assert time.monotonic() < deadline, "the run never reached the call step"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)

    # Killed mid-step: the row the tool wrote was never committed; the checkpoint says 'write' is under way.
    count_items = "SELECT count(*) FROM items WHERE schema_slug = 'crash' AND data LIKE :label"
    assert scalar(database_url, count_items.replace("data LIKE", "CAST(data AS TEXT) LIKE"), label=f"%{label}%") == 0
    crashed = json.loads(litestar(env, "workflows", "show", execution_id).stdout)
    assert crashed["execution"]["status"] == "running"
    assert crashed["execution"]["current_step"] == "write"
    assert [(e["step_id"], e["action"]) for e in crashed["entries"]][-1] == ("write", "started")

    recovered = last_json_line(litestar(env, "workflows", "recover", execution_id).stdout)
    assert recovered["status"] == "completed"
    assert recovered["output"]["phase"] == "after"

    assert scalar(database_url, count_items.replace("data LIKE", "CAST(data AS TEXT) LIKE"), label=f"%{label}%") == 1
    final = json.loads(litestar(env, "workflows", "show", execution_id).stdout)
    completed = [e["step_id"] for e in final["entries"] if e["action"] == "completed"]
    assert completed.count("write") == 1
    assert completed == ["start", "before", "write", "after", "done"]
    assert final["execution"]["result"]["written"]["id"] == recovered["output"]["written"]["id"]
    assert final["execution"]["status"] == "completed"


def test_sigkill_at_iteration_500_of_a_1000_item_loop_then_recover_resumes_there(
    database_url: str, fixture_packs: Path, tmp_path: Path
) -> None:
    """Each iteration commits with the loop's cursor (docs/workflow-language.md, section 5): a process killed
    in iteration 500 leaves 500 rows and the cursor at 500; ``recover`` runs iterations 500..999 only."""
    env = environment(
        database_url, PACKFLOW_PACKS="pftest_crashy", PYTHONPATH=os.pathsep.join([str(fixture_packs), str(REPO)])
    )
    user = last_json_line(litestar(env, "users", "create", "--email", "loop@example.com", "--workspace", "Loop").stdout)
    label = f"loop-{uuid.uuid4().hex}"
    execution_id = str(uuid.uuid4())
    payload = {
        "user_id": user["user_id"],
        "workspace_id": user["workspace_id"],
        "label": label,
        "items": list(range(1000)),
    }
    hang = tmp_path / "hanging"
    process = subprocess.Popen(
        [*LITESTAR, "workflows", "run", "crash_loop", "--input", json.dumps(payload), "--execution-id", execution_id],
        cwd=REPO,
        env={**env, "PACKFLOW_TEST_LOOP_HANG_FILE": str(hang), "PACKFLOW_TEST_LOOP_HANG_AT": "500"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not hang.exists():
        assert process.poll() is None, "the run ended before reaching iteration 500"
        assert time.monotonic() < deadline, "the run never reached iteration 500"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)

    rows = "SELECT count(*) FROM items WHERE schema_slug = 'crash' AND CAST(data AS TEXT) LIKE :label"
    distinct = (
        "SELECT count(DISTINCT CAST(data AS TEXT)) FROM items WHERE schema_slug = 'crash' "
        "AND CAST(data AS TEXT) LIKE :label"
    )
    assert scalar(database_url, rows, label=f"%{label}%") == 500  # iterations 0..499, committed one by one
    crashed = json.loads(litestar(env, "workflows", "show", execution_id).stdout)
    assert crashed["execution"]["status"] == "running"
    assert crashed["execution"]["current_step"] == "each"
    assert crashed["execution"]["ctx"]["_loop"] == {"step": "each", "next": 500}

    recovered = last_json_line(litestar(env, "workflows", "recover", execution_id).stdout)
    assert recovered["status"] == "completed"
    assert recovered["output"]["count"] == [{"index": index} for index in range(1000)]

    assert scalar(database_url, rows, label=f"%{label}%") == 1000
    assert scalar(database_url, distinct, label=f"%{label}%") == 1000
    final = json.loads(litestar(env, "workflows", "show", execution_id).stdout)
    started = [e["step_id"] for e in final["entries"] if e["action"] == "started"]
    completed = [e["step_id"] for e in final["entries"] if e["action"] == "completed"]
    assert completed.count("each:write") == 1000
    assert started.count("each:write") == 1000  # the started entry of the killed iteration was never committed
    assert "_loop" not in final["execution"]["ctx"]


def test_sigkill_in_the_last_branch_of_a_parallel_step_then_recover_runs_only_that_branch(
    database_url: str, fixture_packs: Path, tmp_path: Path
) -> None:
    """Each branch that succeeds commits with its output in the step's cursor (docs/workflow-language.md,
    section 5): a process killed while the fourth branch's call has written its row leaves the three rows of
    the branches done and the cursor naming them; ``recover`` runs the fourth branch only."""
    env = environment(
        database_url, PACKFLOW_PACKS="pftest_crashy", PYTHONPATH=os.pathsep.join([str(fixture_packs), str(REPO)])
    )
    user = last_json_line(litestar(env, "users", "create", "--email", "fan@example.com", "--workspace", "Fan").stdout)
    label = f"fan-{uuid.uuid4().hex}"
    execution_id = str(uuid.uuid4())
    payload = {"user_id": user["user_id"], "workspace_id": user["workspace_id"], "label": label}
    hang = tmp_path / "hanging"
    process = subprocess.Popen(
        [
            *LITESTAR,
            "workflows",
            "run",
            "crash_parallel",
            "--input",
            json.dumps(payload),
            "--execution-id",
            execution_id,
        ],
        cwd=REPO,
        env={**env, "PACKFLOW_TEST_LOOP_HANG_FILE": str(hang), "PACKFLOW_TEST_LOOP_HANG_AT": "3"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not hang.exists():
        assert process.poll() is None, "the run ended before reaching the fourth branch"
        assert time.monotonic() < deadline, "the run never reached the fourth branch"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)

    rows = "SELECT count(*) FROM items WHERE schema_slug = 'crash' AND CAST(data AS TEXT) LIKE :label"
    distinct = (
        "SELECT count(DISTINCT CAST(data AS TEXT)) FROM items WHERE schema_slug = 'crash' "
        "AND CAST(data AS TEXT) LIKE :label"
    )
    assert scalar(database_url, rows, label=f"%{label}%") == 3  # branches 0..2, each committed with its checkpoint
    crashed = json.loads(litestar(env, "workflows", "show", execution_id).stdout)
    assert crashed["execution"]["status"] == "running"
    assert crashed["execution"]["current_step"] == "fan"
    cursor = crashed["execution"]["ctx"]["_parallel"]
    assert cursor["step"] == "fan"
    assert sorted(cursor["done"]) == ["0", "1", "2"]
    assert cursor["done"]["0"] == {"output": {"index": 0}, "ctx": {"first": {"index": 0}}}

    recovered = last_json_line(litestar(env, "workflows", "recover", execution_id).stdout)
    assert recovered["status"] == "completed"
    assert recovered["output"] == {"written": [{"index": index} for index in range(4)], "first": {"index": 0}}

    assert scalar(database_url, rows, label=f"%{label}%") == 4
    assert scalar(database_url, distinct, label=f"%{label}%") == 4
    final = json.loads(litestar(env, "workflows", "show", execution_id).stdout)
    for action in ("started", "completed"):
        steps = [e["step_id"] for e in final["entries"] if e["action"] == action]
        for branch in ("fan:b0", "fan:b1", "fan:b2", "fan:b3"):
            assert steps.count(branch) == 1, (action, branch)  # the killed branch's first entries never committed
    assert "_parallel" not in final["execution"]["ctx"]
