"""A checkpoint writes what changed (docs/workflow-language.md, section 1, Checkpoints): a step that changes one
top-level ctx key writes that key (a change row beside ``workflow_executions.ctx``), large step outputs are
written once, every read sees the whole current context, and the size limits are checked on what a step adds.

On the engine's stores (memory, SQLite, PostgreSQL) for what a run sees, and on the SQL store over SQLite and
PostgreSQL for what is written (the rows and their bytes).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import msgspec
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.database import configure_engine
from packs.core import workflow as wf
from packs.core.models import WorkflowCtxChange, WorkflowEntry, WorkflowExecution
from packs.core.workflow.context import LARGE_VALUE_BYTES, Context
from packs.core.workflow.stores.sql.changes import COMPACT_RATIO, WHOLE_BELOW_BYTES
from tests.support.databases import migrate, postgres_database, sqlite_url
from tests.support.engine import sql_store

BIG = "b" * (WHOLE_BELOW_BYTES * 2)
"""A value that puts the context over the size below which it is always written whole."""


def doc(workflow_id: str, *steps: dict[str, Any]) -> dict[str, Any]:
    chain: list[dict[str, Any]] = [{"id": "start", "type": "start"}, *steps]
    for current, following in itertools.pairwise(chain):
        current.setdefault("next", following["id"])
    return {"id": workflow_id, "name": workflow_id, "steps": chain}


def ticks(count: int, prefix: str = "t") -> list[dict[str, Any]]:
    """``count`` assigns, each changing the one key ``tick``."""
    return [{"id": f"{prefix}{n}", "type": "assign", "set": {"tick": f"{prefix}{n}"}} for n in range(count)]


def called_ticks(count: int, prefix: str = "t") -> list[dict[str, Any]]:
    """``count`` calls of the ``tick`` service (:data:`TICK`), each changing the one key ``tick``: unlike an
    ``assign``, which is instant and committed with the next checkpoint, each is a checkpoint of its own."""
    return [
        {"id": f"{prefix}{n}", "type": "call", "service": "tick", "input": {"value": f"{prefix}{n}"}, "output": "tick"}
        for n in range(count)
    ]


async def tick(value: str) -> str:
    return value


TICK = {"tick": tick}
"""The service of :func:`called_ticks`."""


EARLY_THEN_100 = doc(
    "early_then_100",
    {"id": "early", "type": "assign", "set": {"early": {"kept": BIG, "list": [1, 2, 3]}}},
    *ticks(100),
    {"id": "wait", "type": "halt", "reason": "look"},
    {"id": "done", "type": "end", "result": {"early": "$early", "tick": "$tick"}},
)


EARLY_THEN_100_CALLS = doc(
    "early_then_100_calls",
    {"id": "early", "type": "assign", "set": {"early": {"kept": BIG, "list": [1, 2, 3]}}},
    *called_ticks(100),
    {"id": "wait", "type": "halt", "reason": "look"},
    {"id": "done", "type": "end", "result": {"early": "$early", "tick": "$tick"}},
)


# -- what a run sees, on every store --------------------------------------------------------------


async def test_a_key_written_early_is_whole_after_100_steps_that_changed_others(store: wf.Store) -> None:
    engine = wf.Engine(wf.load(EARLY_THEN_100), store=store)
    halted = await engine.run({})
    assert halted.status == wf.Status.HALTED
    loaded = await store.load(halted.execution_id)
    assert loaded is not None
    assert loaded.ctx["early"] == {"kept": BIG, "list": [1, 2, 3]}
    assert loaded.ctx["tick"] == "t99"
    done = await wf.Engine(wf.load(EARLY_THEN_100), store=store).resume(halted.execution_id)
    assert done.status == wf.Status.COMPLETED, done.error
    assert done.output == {"early": {"kept": BIG, "list": [1, 2, 3]}, "tick": "t99"}


async def test_a_large_output_kept_in_ctx_reads_back_whole(store: wf.Store) -> None:
    big = {"rows": ["r" * 100] * (LARGE_VALUE_BYTES // 50)}

    async def produce() -> dict[str, Any]:
        return big

    definition = wf.load(
        doc(
            "large_output",
            {"id": "pad", "type": "assign", "set": {"pad": BIG}},
            {"id": "make", "type": "call", "service": "produce", "output": "made"},
            *ticks(3),
            {"id": "wait", "type": "halt", "reason": "look"},
            {"id": "done", "type": "end", "result": {"made": "$made"}},
        )
    )
    halted = await wf.Engine(definition, store=store, service_resolver={"produce": produce}.get).run({})
    loaded = await store.load(halted.execution_id)
    assert loaded is not None
    assert loaded.ctx["made"] == big
    done = await wf.Engine(definition, store=store).resume(halted.execution_id)
    assert done.output == {"made": big}


async def test_removed_keys_stay_removed(store: wf.Store) -> None:
    definition = wf.load(
        doc(
            "removing",
            {"id": "pad", "type": "assign", "set": {"pad": BIG, "gone": 1}},
            {"id": "each", "type": "loop", "over": [1, 2, 3], "as": "item", "do": [*ticks(2, "l")], "next": "wait"},
            {"id": "wait", "type": "halt", "reason": "look"},
            {"id": "done", "type": "end"},
        )
    )
    halted = await wf.Engine(definition, store=store).run({})
    loaded = await store.load(halted.execution_id)
    assert loaded is not None
    assert "item" not in loaded.ctx  # set by every iteration, removed when the loop ended
    assert loaded.ctx["pad"] == BIG
    assert loaded.ctx["tick"] == "l1"


async def test_a_step_output_over_the_limit_fails_the_step(store: wf.Store) -> None:
    async def produce() -> str:
        return "x" * 3000

    definition = wf.load(doc("too_big_output", {"id": "make", "type": "call", "service": "produce"}))
    result = await wf.Engine(
        definition, store=store, service_resolver={"produce": produce}.get, max_state_bytes=2000
    ).run({})
    assert result.status == wf.Status.FAILED
    assert result.error is not None
    assert "step 'make': output is 3002 bytes, over the limit of 2000 bytes" in result.error


async def test_a_context_grown_over_the_limit_by_small_additions_fails_where_it_crosses(store: wf.Store) -> None:
    steps = [{"id": f"v{n}", "type": "assign", "set": {f"v{n}": "y" * 90}} for n in range(40)]
    definition = wf.load(doc("growing", *steps, {"id": "done", "type": "end"}))
    result = await wf.Engine(definition, store=store, max_state_bytes=2000).run({})
    assert result.status == wf.Status.FAILED
    assert result.error is not None
    grown: dict[str, Any] = {"input": {}}
    for n in range(40):
        grown[f"v{n}"] = "y" * 90
        if len(msgspec.json.encode(grown)) > 2000:
            break
    message = f"step 'v{n}': context is {len(msgspec.json.encode(grown))} bytes, over the limit of 2000 bytes"
    assert message in result.error


# -- the running size -------------------------------------------------------------------------------


def test_the_running_size_is_the_size_of_the_encoded_context() -> None:
    ctx = Context({"a": 1, "b": [1, 2]})
    assert ctx.measure() == len(msgspec.json.encode(ctx))
    ctx["c"] = {"x": "é" * 10}
    del ctx["a"]
    ctx.pop("missing", None)
    ctx.setdefault("d", [])
    assert ctx.measure() == len(msgspec.json.encode(ctx))
    ctx.clear()
    assert ctx.measure() == len(msgspec.json.encode(ctx)) == 2
    ctx.update({"e": None}, f=True)
    assert ctx.measure() == len(msgspec.json.encode(ctx))


def test_a_context_records_the_keys_set_or_removed_and_a_restore_records_what_differs() -> None:
    ctx = Context({"a": 1, "b": 2})
    ctx.saved()
    snapshot = dict(ctx)
    ctx["c"] = 3
    ctx.pop("a")
    assert ctx.unsaved == {"a", "c"}
    ctx.saved()
    ctx.restore(snapshot)
    assert dict(ctx) == {"a": 1, "b": 2}
    assert ctx.unsaved == {"a", "c"}


def test_an_undo_puts_back_the_top_level_values_of_before_the_step() -> None:
    ctx = Context({"a": 1, "b": [1]})
    ctx.begin_undo()
    ctx["a"] = 2
    ctx["c"] = 3
    del ctx["b"]
    ctx["a"] = 4
    ctx.undo()
    assert dict(ctx) == {"a": 1, "b": [1]}
    assert ctx.measure() == len(msgspec.json.encode(ctx))


async def test_a_failed_step_leaves_the_context_as_it_was_before_it(store: wf.Store) -> None:
    async def fail() -> None:
        raise RuntimeError("no")

    definition = wf.load(
        doc(
            "undoing",
            {"id": "pad", "type": "assign", "set": {"pad": BIG, "kept": 1}},
            {
                "id": "each",
                "type": "loop",
                "over": [1, 2],
                "as": "item",
                "do": [
                    {"id": "set", "type": "assign", "set": {"kept": 2, "new": 1}},
                    {"id": "fail", "type": "call", "service": "fail"},
                ],
                "on_error": "wait",
                "next": "wait",
            },
            {"id": "wait", "type": "halt", "reason": "look"},
            {"id": "done", "type": "end"},
        )
    )
    halted = await wf.Engine(definition, store=store, service_resolver={"fail": fail}.get).run({})
    assert halted.status == wf.Status.HALTED
    loaded = await store.load(halted.execution_id)
    assert loaded is not None
    assert loaded.ctx["kept"] == 1
    assert "new" not in loaded.ctx
    assert "item" not in loaded.ctx
    assert loaded.ctx["_last_error"]["message"] == "no"
    assert loaded.ctx["pad"] == BIG


# -- what is written, on the SQL store --------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def sql_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        url = sqlite_url(tmp_path_factory.mktemp("ctx-changes"))
        migrate(url)
        yield url
    else:
        with postgres_database() as url:
            migrate(url)
            yield url


@pytest.fixture
async def sql_engine(sql_url: str) -> AsyncIterator[AsyncEngine]:
    engine = configure_engine(create_async_engine(sql_url))
    yield engine
    await engine.dispose()


async def change_rows(engine: AsyncEngine, execution_id: str) -> list[Any]:
    table = WorkflowCtxChange.__table__
    async with engine.connect() as connection:
        statement = select(table).where(table.c.execution_id == uuid.UUID(execution_id)).order_by(table.c.seq)
        return list((await connection.execute(statement)).all())


async def ctx_column(engine: AsyncEngine, execution_id: str) -> dict[str, Any]:
    table = WorkflowExecution.__table__
    async with engine.connect() as connection:
        found = await connection.execute(select(table.c.ctx).where(table.c.id == uuid.UUID(execution_id)))
        value: dict[str, Any] = found.scalar_one()
    return value


async def test_each_step_writes_only_the_key_it_changed(sql_engine: AsyncEngine) -> None:
    store = sql_store(sql_engine)
    halted = await wf.Engine(wf.load(EARLY_THEN_100_CALLS), store=store, service_resolver=TICK.get).run({})
    rows = await change_rows(sql_engine, halted.execution_id)
    # The big early value made the context large: it was written once, as the base row a read starts from...
    base, *ticked = rows
    assert base.changes == {"base": True, "set": {"input": {}, "early": {"kept": BIG, "list": [1, 2, 3]}}}
    # ...then each of the 100 steps wrote one row holding only the key it changed.
    assert [row.changes for row in ticked] == [{"set": {"tick": f"t{n}"}} for n in range(100)]
    assert all(len(msgspec.json.encode(row.changes)) < 30 for row in ticked)
    assert [row.seq for row in rows] == list(range(base.seq, base.seq + 101))
    # The execution's row never held the large context (SQLite rewrites a whole row on every update).
    assert len(msgspec.json.encode(await ctx_column(sql_engine, halted.execution_id))) < WHOLE_BELOW_BYTES


async def test_a_large_output_is_written_once_in_its_entry(sql_engine: AsyncEngine) -> None:
    big = {"rows": ["r" * 100] * (LARGE_VALUE_BYTES // 50)}

    async def produce() -> dict[str, Any]:
        return big

    definition = wf.load(
        doc(
            "large_output_rows",
            {"id": "pad", "type": "assign", "set": {"pad": BIG}},
            {"id": "make", "type": "call", "service": "produce", "output": "made"},
            {"id": "wait", "type": "halt", "reason": "look"},
            {"id": "done", "type": "end"},
        )
    )
    store = sql_store(sql_engine)
    halted = await wf.Engine(definition, store=store, service_resolver={"produce": produce}.get).run({})
    rows = await change_rows(sql_engine, halted.execution_id)
    # The step's change row names the entry instead of holding the value again.
    assert (rows[-1].entry_key, rows[-1].changes) == ("made", {})
    assert all("made" not in row.changes.get("set", {}) for row in rows)
    entries = WorkflowEntry.__table__
    async with sql_engine.connect() as connection:
        output = (
            await connection.execute(select(entries.c.output).where(entries.c.id == rows[-1].entry_id))
        ).scalar_one()
    assert output == big
    assert "made" not in await ctx_column(sql_engine, halted.execution_id)
    loaded = await store.load(halted.execution_id)
    assert loaded is not None
    assert loaded.ctx["made"] == big


async def test_a_new_base_is_written_once_the_changes_outweigh_the_context(sql_engine: AsyncEngine) -> None:
    store = sql_store(sql_engine)
    steps = [
        {"id": f"s{n}", "type": "call", "service": "tick", "input": {"value": "z" * 200}, "output": "tick"}
        for n in range(200)
    ]
    definition = wf.load(
        doc(
            "compacting",
            {"id": "pad", "type": "assign", "set": {"pad": BIG}},
            *steps,
            {"id": "wait", "type": "halt", "reason": "look"},
            {"id": "done", "type": "end"},
        )
    )
    halted = await wf.Engine(definition, store=store, service_resolver=TICK.get).run({})
    rows = await change_rows(sql_engine, halted.execution_id)
    base, *after = rows
    assert base.changes.get("base") is True, [(row.seq, sorted(row.changes)) for row in rows]
    assert base.seq > 1  # not the first base: the rows before the latest one were deleted
    assert not any(row.changes.get("base") for row in after)
    size = len(msgspec.json.encode(base.changes["set"]))
    assert sum(len(msgspec.json.encode(row.changes)) for row in after) <= COMPACT_RATIO * size
    loaded = await store.load(halted.execution_id)
    assert loaded is not None
    assert loaded.ctx["pad"] == BIG
    assert loaded.ctx["tick"] == "z" * 200


async def test_a_crash_mid_run_recovers_with_the_whole_context(sql_engine: AsyncEngine) -> None:
    class Crash(BaseException):
        """Stands for the process dying: not an ``Exception``, so no step failure is recorded."""

    calls = 0

    async def crash_once() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise Crash
        return "ok"

    definition = wf.load(
        doc(
            "crashing",
            {"id": "pad", "type": "assign", "set": {"pad": BIG}},
            *called_ticks(20),
            {"id": "boom", "type": "call", "service": "crash", "output": "boomed"},
            {"id": "done", "type": "end", "result": {"pad": "$pad", "tick": "$tick", "boomed": "$boomed"}},
        )
    )
    resolver = {"crash": crash_once, **TICK}.get
    execution_id = str(uuid.uuid4())
    with pytest.raises(Crash):
        await wf.Engine(definition, store=sql_store(sql_engine), service_resolver=resolver).run(
            {}, execution_id=execution_id
        )
    logged = await change_rows(sql_engine, execution_id)
    assert logged
    assert logged[-1].changes == {"set": {"tick": "t19"}}
    recovered = await wf.Engine(definition, store=sql_store(sql_engine), service_resolver=resolver).recover(
        execution_id
    )
    assert recovered.status == wf.Status.COMPLETED, recovered.error
    assert recovered.output == {"pad": BIG, "tick": "t19", "boomed": "ok"}


async def test_deleting_an_execution_deletes_its_changes(sql_engine: AsyncEngine) -> None:
    store = sql_store(sql_engine)
    halted = await wf.Engine(wf.load(EARLY_THEN_100), store=store).run({})
    assert await change_rows(sql_engine, halted.execution_id)
    assert await store.delete(halted.execution_id)
    assert await change_rows(sql_engine, halted.execution_id) == []


async def test_every_read_sees_the_whole_context(sql_engine: AsyncEngine) -> None:
    store = sql_store(sql_engine)
    halted = await wf.Engine(wf.load(EARLY_THEN_100), store=store).run({})
    expected = (await store.load(halted.execution_id)).ctx  # type: ignore[union-attr]
    assert expected["tick"] == "t99"
    found = [e for e in await store.find(workflow_id="early_then_100") if e.id == halted.execution_id]
    assert found[0].ctx == expected
    listed = await store.page(wf.ExecutionFilter(workflow_id="early_then_100"), limit=100)
    assert [e.ctx for e in listed.executions if e.id == halted.execution_id] == [expected]
    picked = await store.page(wf.ExecutionFilter(workflow_id="early_then_100"), limit=100, ctx_keys=("tick",))
    assert [e.ctx for e in picked.executions if e.id == halted.execution_id] == [{"tick": "t99"}]
    executions = WorkflowExecution.__table__
    async with sql_engine.begin() as connection:
        await connection.execute(
            update(executions).where(executions.c.id == uuid.UUID(halted.execution_id)).values(status="pending")
        )
    claimed = await store.claim(halted.execution_id, "worker-1", 30)
    assert claimed is not None
    assert claimed.ctx == expected


async def test_a_transition_writes_the_context_as_one_base_row(sql_engine: AsyncEngine) -> None:
    store = sql_store(sql_engine)
    halted = await wf.Engine(wf.load(EARLY_THEN_100), store=store).run({})
    loaded = await store.load(halted.execution_id)
    assert loaded is not None
    loaded.status = wf.Status.CANCELLED
    assert await store.transition(loaded, [wf.Status.HALTED])
    # A large context goes to one base row (the others are deleted), not into the executions row.
    rows = await change_rows(sql_engine, halted.execution_id)
    assert [(row.seq, row.changes) for row in rows] == [(0, {"base": True, "set": dict(loaded.ctx)})]
    assert await ctx_column(sql_engine, halted.execution_id) == {}
    again = await store.load(halted.execution_id)
    assert again is not None
    assert again.ctx == loaded.ctx
    assert again.status == wf.Status.CANCELLED


async def test_a_save_writes_a_small_context_into_its_column(sql_engine: AsyncEngine) -> None:
    store = sql_store(sql_engine)
    halted = await wf.Engine(wf.load(EARLY_THEN_100), store=store).run({})
    loaded = await store.load(halted.execution_id)
    assert loaded is not None
    loaded.ctx = {"small": True}
    await store.save(loaded)
    assert await change_rows(sql_engine, halted.execution_id) == []
    assert await ctx_column(sql_engine, halted.execution_id) == {"small": True}
    again = await store.load(halted.execution_id)
    assert again is not None
    assert again.ctx == {"small": True}


async def test_a_small_context_is_written_whole_with_no_change_rows(sql_engine: AsyncEngine) -> None:
    store = sql_store(sql_engine)
    definition = wf.load(
        doc("small", *ticks(10), {"id": "wait", "type": "halt", "reason": "look"}, {"id": "done", "type": "end"})
    )
    halted = await wf.Engine(definition, store=store).run({})
    assert await change_rows(sql_engine, halted.execution_id) == []
    assert (await ctx_column(sql_engine, halted.execution_id))["tick"] == "t9"
    async with sql_engine.connect() as connection:
        total = (await connection.execute(select(func.count()).select_from(WorkflowCtxChange.__table__))).scalar_one()
    assert isinstance(total, int)
