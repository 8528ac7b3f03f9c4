"""Instant steps (``start``, ``end``, ``assign``, ``router``, ``transform``, ``halt``, a ``wait`` not resumed by
hand) are committed together: between two of them the engine writes nothing, and their entries go with the next
checkpoint (docs/workflow-language.md, section 5). A step that is not instant starts committed and ends committed.

On the memory store and the SQL store over SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from packs.core import workflow as wf
from tests.core.workflow.test_engine import actions
from tests.core.workflow.test_timer_runs import count_checkpoints


def chain(workflow_id: str, *steps: dict[str, Any]) -> wf.WorkflowDef:
    listed: list[dict[str, Any]] = [{"id": "start", "type": "start"}, *steps]
    for current, following in itertools.pairwise(listed):
        current.setdefault("next", following["id"])
    return wf.load({"id": workflow_id, "name": workflow_id, "steps": listed})


def instant_then_call() -> list[dict[str, Any]]:
    """``a1``, ``route`` and ``t`` (instant), then ``look``, a call of the service ``look`` (new dicts each time:
    :func:`chain` fills in their ``next``)."""
    return [
        {"id": "a1", "type": "assign", "set": {"x": [3, 1, 2], "go": True}},
        {"id": "route", "type": "router", "routes": [{"when": {"field": "go", "op": "truthy"}, "then": "t"}]},
        {"id": "t", "type": "transform", "input": "x", "expression": {"sort": True}, "output": "xs"},
        {"id": "look", "type": "call", "service": "look", "input": {"xs": "$xs"}, "output": "seen"},
    ]


def ran(*step_ids: str) -> list[tuple[str, str]]:
    """The entries of steps that started and completed, in order."""
    return [(step_id, action) for step_id in step_ids for action in ("started", "completed")]


ASSIGNS_THEN_CALL = chain(
    "assigns_then_call",
    *instant_then_call(),
    {"id": "a2", "type": "assign", "set": {"y": 2}},
    {"id": "done", "type": "end", "result": {"seen": "$seen", "y": "$y"}},
)


async def test_instant_steps_are_committed_with_the_next_checkpoint(store: wf.Store) -> None:
    seen: list[tuple[str, str | None, list[tuple[str, str]]]] = []

    async def look(xs: list[int]) -> list[int]:
        # The call starts committed: the store shows it as the current step, with every entry before it.
        execution = await store.load(engine_run.id)
        assert execution is not None
        seen.append((str(execution.status), execution.current_step, await actions(store, engine_run.id)))
        return xs

    engine = wf.Engine(ASSIGNS_THEN_CALL, store=store, service_resolver={"look": look}.get)
    engine_run = engine.new_execution({})
    assert await store.add(engine_run)
    checkpoints = count_checkpoints(store)
    result = await engine.recover(engine_run.id)
    assert result.status == wf.Status.COMPLETED, result.error
    assert result.output == {"seen": [1, 2, 3], "y": 2}
    # start, a1, route and t in one commit with the call's start; the call's end; a2 and the end in the last one.
    assert checkpoints == [9, 2, 3]
    status, current, entries = seen[0]
    assert (status, current) == ("running", "look")
    assert entries == [*ran("start", "a1", "route", "t"), ("look", "started")]
    every = await actions(store, engine_run.id)
    assert every[len(entries) :] == [("look", "completed"), *ran("a2", "done")]


async def test_a_run_stopped_between_instant_steps_resumes_from_its_last_commit(store: wf.Store) -> None:
    calls: list[int] = []

    async def look(xs: list[int]) -> list[int]:
        calls.append(len(calls))
        return xs

    definition = chain(
        "stopped_between",
        *instant_then_call(),
        {"id": "b1", "type": "assign", "set": {"y": 2}},
        {"id": "b2", "type": "assign", "set": {"z": "$y"}},
        {"id": "done", "type": "end", "result": {"seen": "$seen", "y": "$y", "z": "$z"}},
    )
    engine = wf.Engine(definition, store=store, service_resolver={"look": look}.get)
    execution = engine.new_execution({})
    assert await store.add(execution)
    checks = 0

    def stop_before_b2() -> bool:
        # Checked before every step: start, a1, route, t, look, b1, b2 (the seventh: stop there, as a crash would).
        nonlocal checks
        checks += 1
        return checks == 7

    engine.should_stop = stop_before_b2
    with pytest.raises(wf.LeaseLostError):
        await engine.recover(execution.id)
    stored = await store.load(execution.id)
    assert stored is not None
    # The call's end was committed with b1's start; b1's end was not (b1 and b2 are instant).
    assert (stored.status, stored.current_step) == (wf.Status.RUNNING, "b1")
    assert "y" not in stored.ctx
    assert (await actions(store, execution.id))[-2:] == [("look", "completed"), ("b1", "started")]
    engine.should_stop = None
    result = await engine.recover(execution.id)
    assert result.status == wf.Status.COMPLETED, result.error
    assert result.output == {"seen": [1, 2, 3], "y": 2, "z": 2}
    assert calls == [0]  # the call ran once: it ended committed
    # The recovering run went on from b1, whose start was committed.
    assert (await actions(store, execution.id))[-7:] == [("look", "completed"), *ran("b1", "b2", "done")]


async def test_a_step_that_fails_after_instant_steps_keeps_their_entries(store: wf.Store) -> None:
    definition = chain(
        "failing_after_instant",
        {"id": "a1", "type": "assign", "set": {"x": 1}},
        {"id": "bad", "type": "router", "routes": [{"when": {"field": "x", "op": "eq", "value": 2}, "then": "done"}]},
        {"id": "done", "type": "end"},
    )
    result = await wf.Engine(definition, store=store).run({})
    assert result.status == wf.Status.FAILED
    assert result.error is not None
    assert "no route matched" in result.error
    assert await actions(store, result.execution_id) == [*ran("start", "a1"), ("bad", "started"), ("bad", "failed")]
    stored = await store.load(result.execution_id)
    assert stored is not None
    assert stored.ctx["x"] == 1


async def test_a_timeout_between_instant_steps_keeps_the_entries_not_committed_yet(store: wf.Store) -> None:
    definition = wf.load(
        {
            "id": "timed_out_between",
            "name": "timed out between",
            "timeout": 0.2,
            "steps": [
                {"id": "start", "type": "start", "next": "a1"},
                {"id": "a1", "type": "assign", "set": {"x": 1}, "next": "a2"},
                {"id": "a2", "type": "assign", "set": {"y": 2}, "next": "done"},
                {"id": "done", "type": "end"},
            ],
        }
    )
    engine = wf.Engine(definition, store=store)

    async def slow_after_a1(event: wf.Event) -> None:
        if event.type == "step.completed" and event.data.get("step_id") == "a1":
            await asyncio.sleep(5)  # the workflow's timeout falls here, after a1's end was carried

    engine.listeners.append(slow_after_a1)
    result = await engine.run({})
    assert result.status == wf.Status.FAILED
    assert result.error == "Workflow timeout after 0.2s"
    assert await actions(store, result.execution_id) == [*ran("start", "a1"), ("a2", "started"), ("a2", "failed")]
