"""Crash consistency: a process SIGKILLed in the middle of a ``call`` step loses nothing and repeats nothing."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.database import configure_engine
from tests.support.processes import REPO, environment, last_json_line, litestar, sigkill_when

pytestmark = pytest.mark.processes  # every test here starts real processes (tests/test_markers.py)

ROWS = "SELECT count(*) FROM items WHERE schema_slug = 'crash' AND CAST(data AS TEXT) LIKE :label"
DISTINCT_ROWS = ROWS.replace("count(*)", "count(DISTINCT CAST(data AS TEXT))")


def scalar(url: str, sql: str, **params: object) -> object:
    async def query() -> object:
        engine = configure_engine(create_async_engine(url))
        try:
            async with engine.connect() as connection:
                return (await connection.execute(text(sql), params)).scalar_one()
        finally:
            await engine.dispose()

    return asyncio.run(query())


class Crash:
    """One execution of a ``pftest_crashy`` workflow: run in a process SIGKILLed at a point, then shown and
    recovered with the CLI; its rows are the ``crash`` items whose data holds its unique label."""

    def __init__(self, database_url: str, fixture_packs: Path, name: str) -> None:
        self.database_url = database_url
        self.env = environment(
            database_url, PACKFLOW_PACKS="pftest_crashy", PYTHONPATH=os.pathsep.join([str(fixture_packs), str(REPO)])
        )
        command = ("users", "create", "--email", f"{name}@example.com", "--workspace", name.title())
        user = last_json_line(litestar(self.env, *command).stdout)
        self.identity = {"user_id": user["user_id"], "workspace_id": user["workspace_id"]}
        self.label = f"{name}-{uuid.uuid4().hex}"
        self.execution_id = str(uuid.uuid4())

    def run_and_kill(
        self, workflow: str, marker: Path, reaching: str, within: float = 60, *, extra: dict[str, Any], **hang: str
    ) -> None:
        """``workflows run WORKFLOW`` with the identity, the label and ``extra`` as input, SIGKILLed once the
        fixture pack writes ``marker`` (``hang``: the pack's variables saying where)."""
        payload = {**self.identity, "label": self.label, **extra}
        sigkill_when(
            marker,
            {**self.env, **hang},
            *("workflows", "run", workflow, "--input", json.dumps(payload), "--execution-id", self.execution_id),
            within=within,
            reaching=reaching,
        )

    def rows(self, distinct: bool = False) -> object:
        return scalar(self.database_url, DISTINCT_ROWS if distinct else ROWS, label=f"%{self.label}%")

    def show(self) -> dict[str, Any]:
        shown: dict[str, Any] = json.loads(litestar(self.env, "workflows", "show", self.execution_id).stdout)
        return shown

    def recover(self) -> dict[str, Any]:
        return last_json_line(litestar(self.env, "workflows", "recover", self.execution_id).stdout)


def test_sigkill_in_the_middle_of_a_call_step_then_recover_in_a_new_process(
    database_url: str, fixture_packs: Path, tmp_path: Path
) -> None:
    crash = Crash(database_url, fixture_packs, "crash")
    hang = tmp_path / "hanging"
    crash.run_and_kill("crash_test", hang, "the call step", extra={}, PACKFLOW_TEST_HANG_FILE=str(hang))

    # Killed mid-step: the row the tool wrote was never committed; the checkpoint says 'write' is under way.
    assert crash.rows() == 0
    crashed = crash.show()
    assert crashed["execution"]["status"] == "running"
    assert crashed["execution"]["current_step"] == "write"
    assert [(e["step_id"], e["action"]) for e in crashed["entries"]][-1] == ("write", "started")

    recovered = crash.recover()
    assert recovered["status"] == "completed"
    assert recovered["output"]["phase"] == "after"

    assert crash.rows() == 1
    final = crash.show()
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
    crash = Crash(database_url, fixture_packs, "loop")
    hang = tmp_path / "hanging"
    crash.run_and_kill(
        "crash_loop",
        hang,
        "iteration 500",
        within=120,
        extra={"items": list(range(1000))},
        PACKFLOW_TEST_LOOP_HANG_FILE=str(hang),
        PACKFLOW_TEST_LOOP_HANG_AT="500",
    )

    assert crash.rows() == 500  # iterations 0..499, committed one by one
    crashed = crash.show()
    assert crashed["execution"]["status"] == "running"
    assert crashed["execution"]["current_step"] == "each"
    assert crashed["execution"]["ctx"]["_loop"] == {"step": "each", "next": 500}

    recovered = crash.recover()
    assert recovered["status"] == "completed"
    assert recovered["output"]["count"] == [{"index": index} for index in range(1000)]

    assert crash.rows() == 1000
    assert crash.rows(distinct=True) == 1000
    final = crash.show()
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
    crash = Crash(database_url, fixture_packs, "fan")
    hang = tmp_path / "hanging"
    crash.run_and_kill(
        "crash_parallel",
        hang,
        "the fourth branch",
        extra={},
        PACKFLOW_TEST_LOOP_HANG_FILE=str(hang),
        PACKFLOW_TEST_LOOP_HANG_AT="3",
    )

    assert crash.rows() == 3  # branches 0..2, each committed with its checkpoint
    crashed = crash.show()
    assert crashed["execution"]["status"] == "running"
    assert crashed["execution"]["current_step"] == "fan"
    cursor = crashed["execution"]["ctx"]["_parallel"]
    assert cursor["step"] == "fan"
    assert sorted(cursor["done"]) == ["0", "1", "2"]
    assert cursor["done"]["0"] == {"output": {"index": 0}, "ctx": {"first": {"index": 0}}}

    recovered = crash.recover()
    assert recovered["status"] == "completed"
    assert recovered["output"] == {"written": [{"index": index} for index in range(4)], "first": {"index": 0}}

    assert crash.rows() == 4
    assert crash.rows(distinct=True) == 4
    final = crash.show()
    for action in ("started", "completed"):
        steps = [e["step_id"] for e in final["entries"] if e["action"] == action]
        for branch in ("fan:b0", "fan:b1", "fan:b2", "fan:b3"):
            assert steps.count(branch) == 1, (action, branch)  # the killed branch's first entries never committed
    assert "_parallel" not in final["execution"]["ctx"]
