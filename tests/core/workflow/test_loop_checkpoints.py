"""Loops that resume mid-way: each iteration (or every ``checkpoint_every``) commits with the loop's cursor,
so a run that dies in the middle of a loop goes on from the first iteration not committed, and a ``call``
writing to the store's database takes effect once per iteration (docs/workflow-language.md, section 5)."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import pytest

from packs.core import workflow as wf
from packs.core.workflow.steps import loop as loop_step
from tests.support.checkpoint_rows import Crash, RowWriter, empty_rows_table, sql
from tests.support.engine import SQL_STORES, resolver

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

ITEMS = 1000
CRASH_AT = 500


class Writer(RowWriter):
    """A service writing one row per call in the step's unit (on the SQL store), crashing at one item."""

    table = "loop_rows"


@pytest.fixture
async def rows(store: wf.Store) -> bool:
    """An empty ``loop_rows`` table on a SQL store; whether there is one."""
    return await empty_rows_table(store, "loop_rows")


def document(loop: dict[str, Any]) -> dict[str, Any]:
    chain: list[dict[str, Any]] = [
        {"id": "start", "type": "start"},
        {"id": "before", "type": "assign", "set": {"phase": "before"}},
        {"id": "each", "type": "loop", "max": 5000, "output": "written", **loop},
        {"id": "done", "type": "end", "result": {"written": "$written", "phase": "$phase"}},
    ]
    for current, following in itertools.pairwise(chain):
        current["next"] = following["id"]
    return {"id": "looping", "name": "Looping", "steps": chain}


FOREACH = {
    "checkpoint_every": 1,
    "over": "$input.items",
    "do": [
        {"id": "note", "type": "assign", "set": {"last": "$item"}},
        {"id": "write", "type": "call", "service": "svc", "method": "write", "input": {"item": "$item"}},
    ],
}


async def crash_then_recover(
    store: wf.Store, definition: wf.WorkflowDef, input: dict[str, Any], crash_at: int
) -> tuple[str, Writer, Writer, wf.ExecutionResult]:
    first = Writer(store, crash_at=crash_at)
    execution_id = str(uuid.uuid4())
    with pytest.raises(Crash):
        await wf.Engine(definition, store=store, service_resolver=resolver(svc=first)).run(input, execution_id)
    second = Writer(store)
    result = await wf.Engine(definition, store=store, service_resolver=resolver(svc=second)).recover(execution_id)
    return execution_id, first, second, result


async def test_a_crash_at_iteration_500_of_1000_resumes_there_and_writes_each_row_once(
    store: wf.Store, rows: bool
) -> None:
    definition = wf.load(document(FOREACH))
    first = Writer(store, crash_at=CRASH_AT)
    execution_id = str(uuid.uuid4())
    with pytest.raises(Crash):
        await wf.Engine(definition, store=store, service_resolver=resolver(svc=first)).run(
            {"items": list(range(ITEMS))}, execution_id
        )
    crashed = await store.load(execution_id)
    assert crashed is not None
    assert crashed.status == wf.Status.RUNNING
    assert crashed.current_step == "each"
    assert crashed.ctx["_loop"] == {"step": "each", "next": CRASH_AT}
    if rows:  # iterations 0..499 committed, one row each; the 500th's row went with its rolled-back unit
        assert await sql(store, "SELECT count(*) FROM loop_rows") == CRASH_AT
        assert await sql(store, "SELECT count(DISTINCT item) FROM loop_rows") == CRASH_AT

    second = Writer(store)
    result = await wf.Engine(definition, store=store, service_resolver=resolver(svc=second)).recover(execution_id)

    assert result.status == wf.Status.COMPLETED
    assert second.calls == list(range(CRASH_AT, ITEMS))
    assert result.output["written"] == [{"item": item} for item in range(ITEMS)]
    assert result.output["phase"] == "before"
    final = await store.load(execution_id)
    assert final is not None
    assert not {"_loop", "item", "index"} & set(final.ctx)
    assert final.ctx["last"] == ITEMS - 1
    entries = await store.entries(execution_id)
    completed = [entry.step_id for entry in entries if entry.action == wf.Action.COMPLETED]
    assert completed.count("each:write") == ITEMS
    assert completed.count("each:note") == ITEMS
    assert completed.count("each") == 1
    if rows:
        assert await sql(store, "SELECT count(*) FROM loop_rows") == ITEMS
        assert await sql(store, "SELECT count(DISTINCT item) FROM loop_rows") == ITEMS


async def test_checkpoint_every_n_resumes_at_the_last_multiple_of_n(store: wf.Store, rows: bool) -> None:
    definition = wf.load(document({**FOREACH, "checkpoint_every": 100}))
    execution_id, first, second, result = await crash_then_recover(
        store, definition, {"items": list(range(ITEMS))}, crash_at=CRASH_AT + 37
    )
    assert first.calls == list(range(CRASH_AT + 38))
    assert second.calls == list(range(CRASH_AT, ITEMS))  # iterations 500..537 were not committed: run again
    assert result.status == wf.Status.COMPLETED
    assert result.output["written"] == [{"item": item} for item in range(ITEMS)]
    if rows:
        assert await sql(store, "SELECT count(*) FROM loop_rows") == ITEMS
        assert await sql(store, "SELECT count(DISTINCT item) FROM loop_rows") == ITEMS
    entries = await store.entries(execution_id)
    assert [entry.step_id for entry in entries if entry.action == wf.Action.COMPLETED].count("each:write") == ITEMS


async def test_a_while_loop_resumes_with_its_iteration_count(store: wf.Store, rows: bool) -> None:
    loop = {
        "checkpoint_every": 1,
        "while": {"field": "count", "op": "lt", "value": 50},
        "do": [
            {"id": "bump", "type": "assign", "set": {"count": "$iteration"}},
            {"id": "write", "type": "call", "service": "svc", "method": "write", "input": {"item": "$iteration"}},
        ],
    }
    doc = document(loop)
    doc["steps"][1]["set"] = {"phase": "before", "count": 0}
    definition = wf.load(doc)
    _, first, second, result = await crash_then_recover(store, definition, {}, crash_at=20)
    assert first.calls == list(range(1, 21))
    assert second.calls == list(range(20, 51))
    assert result.status == wf.Status.COMPLETED, result.error
    assert result.output["written"] == [{"item": item} for item in range(1, 51)]
    if rows:
        assert await sql(store, "SELECT count(*) FROM loop_rows") == 50


@SQL_STORES
async def test_iterations_are_committed_while_the_loop_runs(store: wf.Store, rows: bool) -> None:
    assert rows, "commits are what a SQL store shows"
    seen: list[int] = []

    class Watcher(Writer):
        async def write(self, item: int) -> dict[str, int]:
            seen.append(await sql(store, "SELECT count(*) FROM loop_rows"))  # another connection's view
            return await super().write(item)

    definition = wf.load(document({**FOREACH, "over": "$input.items"}))
    result = await wf.Engine(definition, store=store, service_resolver=resolver(svc=Watcher(store))).run(
        {"items": list(range(5))}
    )
    assert result.status == wf.Status.COMPLETED
    assert seen == [0, 1, 2, 3, 4]


async def test_a_loop_failing_after_checkpoints_leaves_no_cursor(store: wf.Store, rows: bool) -> None:
    class Failing(Writer):
        async def write(self, item: int) -> dict[str, int]:
            if item == 3:
                raise RuntimeError("item 3 is bad")
            return await super().write(item)

    definition = wf.load(document(FOREACH))
    result = await wf.Engine(definition, store=store, service_resolver=resolver(svc=Failing(store))).run(
        {"items": list(range(5))}
    )
    assert result.status == wf.Status.FAILED
    failed = await store.load(result.execution_id)
    assert failed is not None
    assert not {"_loop", "item"} & set(failed.ctx)
    if rows:  # the iterations before the failure were committed each in its own unit
        assert await sql(store, "SELECT count(*) FROM loop_rows") == 3


async def test_without_checkpoint_every_a_loop_commits_by_time(
    store: wf.Store, rows: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default: a commit once ``CHECKPOINT_SECONDS`` passed since the last one, not every iteration."""
    clock = {"now": 0.0}
    monkeypatch.setattr(loop_step.time, "monotonic", lambda: clock["now"])

    class Ticking(Writer):
        async def write(self, item: int) -> dict[str, int]:
            clock["now"] += loop_step.CHECKPOINT_SECONDS / 8  # eight iterations per interval (exact in binary)
            return await super().write(item)

    definition = wf.load(document({key: value for key, value in FOREACH.items() if key != "checkpoint_every"}))
    first = Ticking(store, crash_at=57)
    execution_id = str(uuid.uuid4())
    with pytest.raises(Crash):
        await wf.Engine(definition, store=store, service_resolver=resolver(svc=first)).run(
            {"items": list(range(100))}, execution_id
        )
    crashed = await store.load(execution_id)
    assert crashed is not None
    assert crashed.ctx["_loop"]["next"] == 56  # commits after iterations 8, 16, ..., 56; item 57 crashed
    second = Writer(store)
    result = await wf.Engine(definition, store=store, service_resolver=resolver(svc=second)).recover(execution_id)
    assert result.status == wf.Status.COMPLETED, result.error
    assert second.calls[0] == crashed.ctx["_loop"]["next"]
    if rows:
        assert await sql(store, "SELECT count(DISTINCT item) FROM loop_rows") == 100
        assert await sql(store, "SELECT count(*) FROM loop_rows") == 100


async def test_a_variable_the_loop_hid_gets_its_value_back_after_a_crash_mid_loop(store: wf.Store, rows: bool) -> None:
    """The cursor keeps what the loop's ``item`` hid: the loop that goes on after the crash gives it back."""
    loop_first = document(FOREACH)
    loop_first["steps"][1]["set"] = {"phase": "before", "item": "mine"}
    loop_first["steps"][-1]["result"] = {"item": "$item", "last": "$last"}
    _, _, _, result = await crash_then_recover(store, wf.load(loop_first), {"items": list(range(20))}, 10)
    assert result.output == {"item": "mine", "last": 19}, result.error
