"""Parallel steps that resume mid-way: each branch that succeeds commits with its output and ctx changes in
the step's cursor, so a run that dies in the middle of a parallel step runs only the branches not committed,
and a ``call`` writing to the store's database takes effect once per branch (docs/workflow-language.md,
section 5)."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from typing import Any

import pytest

from packs.core import workflow as wf
from tests.support.checkpoint_rows import Crash, RowWriter, empty_rows_table, sql
from tests.support.engine import SQL_STORES, resolver

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


class Writer(RowWriter):
    """A service writing one row per call in the unit it runs in (on the SQL store); crashes or fails at one item."""

    table = "parallel_rows"
    yields = True


@pytest.fixture
async def rows(store: wf.Store) -> bool:
    """An empty ``parallel_rows`` table on a SQL store; whether there is one."""
    return await empty_rows_table(store, "parallel_rows")


def writes(*items: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"b{item}",
            "type": "call",
            "service": "svc",
            "method": "write",
            "input": {"item": item},
            "output": f"o{item}",
        }
        for item in items
    ]


def document(*branches: dict[str, Any], wait: Any = "all") -> dict[str, Any]:
    chain: list[dict[str, Any]] = [
        {"id": "start", "type": "start"},
        {"id": "before", "type": "assign", "set": {"phase": "before"}},
        {"id": "fan", "type": "parallel", "wait": wait, "output": "outs", "branches": list(branches)},
        {"id": "done", "type": "end"},
    ]
    for current, following in itertools.pairwise(chain):
        current["next"] = following["id"]
    return {"id": "fanning", "name": "Fanning", "steps": chain}


async def completed(store: wf.Store, execution_id: str) -> list[str]:
    return [entry.step_id for entry in await store.entries(execution_id) if entry.action == wf.Action.COMPLETED]


async def test_a_crash_in_a_branch_resumes_only_the_unfinished_branches_each_row_written_once(
    store: wf.Store, rows: bool
) -> None:
    definition = wf.load(document(*writes(0, 1, 2), {"id": "mark", "type": "assign", "set": {"marked": True}}))
    first = Writer(store, crash_at=2)
    execution_id = str(uuid.uuid4())
    with pytest.raises(Crash):
        await wf.Engine(definition, store=store, service_resolver=resolver(svc=first)).run({}, execution_id)

    crashed = await store.load(execution_id)
    assert crashed is not None
    assert crashed.status == wf.Status.RUNNING
    assert crashed.current_step == "fan"
    cursor = crashed.ctx["_parallel"]
    assert cursor["step"] == "fan"
    assert {"0", "1"} <= set(cursor["done"])
    assert "2" not in cursor["done"]
    assert cursor["done"]["0"] == {"output": {"item": 0}, "ctx": {"o0": {"item": 0}}}
    assert not {"o0", "o1", "outs"} & set(crashed.ctx)  # the branches' changes are merged when the step ends
    if rows:  # branches 0 and 1 committed, one row each; branch 2's row went with its rolled-back unit
        assert await sql(store, "SELECT count(*) FROM parallel_rows") == 2

    second = Writer(store)
    result = await wf.Engine(definition, store=store, service_resolver=resolver(svc=second)).recover(execution_id)

    assert result.status == wf.Status.COMPLETED, result.error
    assert second.calls == [2]
    assert result.output["outs"] == [{"item": 0}, {"item": 1}, {"item": 2}, {"marked": True}]
    assert (result.output["o0"], result.output["o1"], result.output["o2"]) == ({"item": 0}, {"item": 1}, {"item": 2})
    assert result.output["marked"] is True
    assert result.output["phase"] == "before"
    assert "_parallel" not in result.output
    done = await completed(store, execution_id)
    for step in ("fan:b0", "fan:b1", "fan:b2", "fan:mark", "fan"):
        assert done.count(step) == 1, step
    if rows:
        assert await sql(store, "SELECT count(*) FROM parallel_rows") == 3
        assert await sql(store, "SELECT count(DISTINCT item) FROM parallel_rows") == 3


@SQL_STORES
async def test_each_branch_commits_when_it_finishes(store: wf.Store, rows: bool) -> None:
    assert rows, "commits are what a SQL store shows"
    seen: list[int] = []

    class Watcher(Writer):
        async def write(self, item: int) -> dict[str, int]:
            seen.append(await sql(store, "SELECT count(*) FROM parallel_rows"))  # another connection's view
            return await super().write(item)

    definition = wf.load(document(*writes(0, 1, 2, 3)))
    result = await wf.Engine(definition, store=store, service_resolver=resolver(svc=Watcher(store))).run({})
    assert result.status == wf.Status.COMPLETED, result.error
    assert seen == [0, 1, 2, 3]
    assert result.output["outs"] == [{"item": item} for item in range(4)]


async def test_a_failing_branch_fails_the_step_without_its_writes_and_leaves_no_cursor(
    store: wf.Store, rows: bool
) -> None:
    definition = wf.load(document(*writes(0, 1, 2)))
    result = await wf.Engine(definition, store=store, service_resolver=resolver(svc=Writer(store, fail_at=1))).run({})
    assert result.status == wf.Status.FAILED
    assert result.error == "RuntimeError: item 1 is bad"
    failed = await store.load(result.execution_id)
    assert failed is not None
    assert not {"_parallel", "o0", "outs"} & set(failed.ctx)
    entries = [(entry.step_id, str(entry.action)) for entry in await store.entries(result.execution_id)]
    assert ("fan:b1", "failed") in entries
    assert ("fan", "failed") in entries
    if rows:  # branch 0 committed before branch 1 failed (as a loop keeps its committed iterations)
        assert await sql(store, "SELECT count(*) FROM parallel_rows WHERE item = 1") == 0
        assert await sql(store, "SELECT count(*) FROM parallel_rows WHERE item = 0") == 1


async def test_wait_any_keeps_the_first_success_and_undoes_the_cancelled_branches(store: wf.Store, rows: bool) -> None:
    class Slow(Writer):
        async def write(self, item: int) -> dict[str, int]:
            written = await super().write(item)
            if item == 1:
                await asyncio.sleep(5)
            return written

    definition = wf.load(document(*writes(0, 1), wait="any"))
    result = await wf.Engine(definition, store=store, service_resolver=resolver(svc=Slow(store))).run({})
    assert result.status == wf.Status.COMPLETED, result.error
    assert result.output["outs"] == [{"item": 0}, None]
    assert "o1" not in result.output
    if rows:
        assert await sql(store, "SELECT count(*) FROM parallel_rows") == 1


async def test_a_parallel_step_in_a_loop_body_runs_in_the_iteration_each_row_once(store: wf.Store, rows: bool) -> None:
    body = {"id": "fan", "type": "parallel", "output": "outs", "branches": writes(0, 1, 2)}
    loop = {"id": "each", "type": "loop", "over": [1, 2, 3], "checkpoint_every": 1, "do": [body], "output": "all"}
    document_ = {
        "id": "nested",
        "name": "Nested",
        "steps": [
            {"id": "start", "type": "start", "next": "each"},
            {**loop, "next": "done"},
            {"id": "done", "type": "end"},
        ],
    }
    writer = Writer(store)
    result = await wf.Engine(wf.load(document_), store=store, service_resolver=resolver(svc=writer)).run({})
    assert result.status == wf.Status.COMPLETED, result.error
    assert result.output["all"] == [[{"item": 0}, {"item": 1}, {"item": 2}]] * 3
    assert sorted(writer.calls) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    if rows:
        assert await sql(store, "SELECT count(*) FROM parallel_rows") == 9


async def test_a_resumed_parallel_step_whose_branches_all_finished_runs_none(store: wf.Store) -> None:
    definition = wf.load(document(*writes(0, 1)))
    engine = wf.Engine(definition, store=store, service_resolver=resolver(svc=Writer(store)))
    execution = engine.new_execution({})
    execution.current_step = "fan"
    execution.ctx = {
        "phase": "before",
        "_parallel": {
            "step": "fan",
            "done": {str(item): {"output": {"item": item}, "ctx": {f"o{item}": {"item": item}}} for item in (0, 1)},
        },
    }
    await store.checkpoint(
        execution, [wf.Entry(execution_id=execution.id, step_id="fan", step_type="parallel", action=wf.Action.STARTED)]
    )
    writer = Writer(store)
    result = await wf.Engine(definition, store=store, service_resolver=resolver(svc=writer)).recover(execution.id)
    assert result.status == wf.Status.COMPLETED, result.error
    assert writer.calls == []
    assert result.output["outs"] == [{"item": 0}, {"item": 1}]
    assert result.output["o1"] == {"item": 1}


async def test_a_lost_lease_in_one_branch_stops_the_others_whatever_wait_says(store: wf.Store) -> None:
    finished: list[str] = []
    lease = {"lost": False}

    async def lose(name: str) -> str:
        lease["lost"] = True  # the next checkpoint finds the lease gone
        finished.append(name)
        return name

    async def slow(name: str) -> str:
        await asyncio.sleep(0.3)
        finished.append(name)
        return name

    branches = [
        {"id": "first", "type": "call", "service": "lose", "input": {"name": "first"}},
        {"id": "second", "type": "call", "service": "slow", "input": {"name": "second"}},
    ]
    engine = wf.Engine(
        wf.load(document(*branches, wait="any")), store=store, service_resolver=resolver(lose=lose, slow=slow)
    )
    engine.should_stop = lambda: lease["lost"]
    with pytest.raises(wf.LeaseLostError):
        await engine.run({})
    await asyncio.sleep(0.4)
    assert finished == ["first"]  # the second branch was cancelled, not left to fail its own checkpoint
