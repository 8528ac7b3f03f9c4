"""The ``wait`` step on durable timers (docs/workflow-language.md, step type ``wait``), with a frozen clock.

On the memory store and the SQL store over SQLite and PostgreSQL: the step halts with its due time,
a timer in the store wakes it (fire_due + a worker, as the app's sweep does), nothing else does.
"""

from __future__ import annotations

import datetime
import itertools
import re
from typing import Any

import pytest

from packs.core import workflow as wf
from packs.core.workflow import clock
from packs.core.workflow.engine import RESUME_REQUEST
from packs.core.workflow.steps import wait as wait_step

START = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)


def doc(*steps: dict[str, Any]) -> dict[str, Any]:
    chain: list[dict[str, Any]] = [{"id": "start", "type": "start"}, *steps, {"id": "done", "type": "end"}]
    for current, following in itertools.pairwise(chain):
        current.setdefault("next", following["id"])
    return {"id": "waiting", "name": "Waiting", "steps": chain}


def engine(store: Any, *steps: dict[str, Any]) -> wf.Engine:
    return wf.Engine(wf.load(doc(*steps)), store=store)


def worker(store: Any, eng: wf.Engine) -> wf.Worker:
    return wf.Worker(store, wf.DefinitionCatalog(store, {eng.definition.id: eng.definition}))


def test_the_engine_and_the_wait_step_agree_on_the_resume_key() -> None:
    assert wait_step.RESUME_REQUEST == RESUME_REQUEST


async def test_a_wait_halts_until_its_timer_fires_then_goes_on(store: Any) -> None:
    eng = engine(store, {"id": "pause", "type": "wait", "seconds": "$input.delay"})
    with clock.frozen(START) as moment:
        result = await eng.run(input={"delay": 90})
        assert result.status == wf.Status.HALTED
        assert result.halt is not None
        due = (START + datetime.timedelta(seconds=90)).isoformat()
        assert result.halt.data["type"] == "wait"
        assert result.halt.data["due_at"] == due
        [timer] = await store.timers_of(result.execution_id)
        assert (timer.kind, timer.due_at, timer.payload) == (
            "wait",
            START + datetime.timedelta(seconds=90),
            {"step_id": "pause"},
        )

        with pytest.raises(wf.ExecutionStateError, match=re.escape(f"waiting until {due}")):
            await eng.resume(result.execution_id)
        with pytest.raises(wf.ExecutionStateError, match="waiting until"):
            await wf.queue_resume(store, result.execution_id)
        # Recovering a waiting execution leaves it waiting.
        assert (await eng.recover(result.execution_id)).status == wf.Status.HALTED

        moment.advance(seconds=89)
        assert (await wf.fire_due(store)).timers == []
        moment.advance(seconds=1)
        fired = await wf.fire_due(store)
        assert [t.id for t in fired.timers] == [timer.id]
        assert fired.deliveries == [result.execution_id]
        assert (await store.load(result.execution_id)).status == wf.Status.PENDING
        assert (await wf.fire_due(store)).deliveries == []

        moment.advance(seconds=2)
        finished = await worker(store, eng).process(result.execution_id)
    assert finished is not None
    assert finished.status == wf.Status.COMPLETED
    entries = [(e.step_id, str(e.action), e.output) for e in await store.entries(result.execution_id)]
    pause = [output for step, action, output in entries if step == "pause" and action == "completed"]
    assert pause == [{"due_at": due, "woke_at": (START + datetime.timedelta(seconds=92)).isoformat()}]
    assert "_waits" not in (await store.load(result.execution_id)).ctx
    assert await store.timers_of(result.execution_id) == []


async def test_until_waits_for_a_timestamp_and_a_past_one_does_not_halt(store: Any) -> None:
    eng = engine(store, {"id": "pause", "type": "wait", "until": "$input.at"})
    with clock.frozen(START):
        later = await eng.run(input={"at": "2026-12-01T14:30:00+01:00"})
        earlier = await eng.run(input={"at": "2026-12-01T11:00:00Z"})
        bad = await eng.run(input={"at": "2026-12-01T14:30:00"})
    assert later.status == wf.Status.HALTED
    assert later.halt is not None
    assert later.halt.data["due_at"] == "2026-12-01T13:30:00+00:00"
    assert earlier.status == wf.Status.COMPLETED
    assert await store.timers_of(earlier.execution_id) == []
    assert bad.status == wf.Status.FAILED
    assert bad.error is not None
    assert "has no UTC offset" in bad.error


async def test_the_engines_resume_after_the_due_time_goes_on_without_the_timer(store: Any) -> None:
    eng = engine(store, {"id": "pause", "type": "wait", "seconds": 5})
    with clock.frozen(START) as moment:
        result = await eng.run()
        moment.advance(seconds=6)
        resumed = await eng.resume(result.execution_id)
        assert resumed.status == wf.Status.COMPLETED
        # The wake-up cancelled the timer that had not fired yet.
        assert await store.timers_of(result.execution_id) == []
        fired = await wf.fire_due(store)
    assert fired.timers == []
    assert (await store.load(result.execution_id)).status == wf.Status.COMPLETED


async def test_cancelling_a_waiting_execution_cancels_its_timer(store: Any) -> None:
    eng = engine(store, {"id": "pause", "type": "wait", "seconds": 3600})
    with clock.frozen(START) as moment:
        result = await eng.run()
        assert len(await store.timers_of(result.execution_id)) == 1
        await wf.cancel(store, result.execution_id)
        assert await store.timers_of(result.execution_id) == []
        moment.advance(seconds=7200)
        assert (await wf.fire_due(store)).timers == []
    assert (await store.load(result.execution_id)).status == wf.Status.CANCELLED


@pytest.mark.parametrize(
    ("step", "problem"),
    [
        ({}, "a wait needs 'seconds'"),
        ({"seconds": 1, "until": "2026-12-01T00:00:00Z"}, "not both"),
        ({"seconds": -1}, "field 'seconds': expected a number of seconds"),
        ({"seconds": "soon"}, "field 'seconds': expected a number of seconds"),
        ({"until": "tomorrow"}, "is not an ISO 8601 timestamp"),
        ({"until": "2026-12-01T09:00:00"}, "has no UTC offset"),
        ({"until": 5}, "field 'until': expected an ISO 8601 timestamp"),
        ({"seconds": "$nothing.here"}, "nothing"),
    ],
)
def test_a_bad_wait_is_a_load_time_error(step: dict[str, Any], problem: str) -> None:
    with pytest.raises(wf.ValidationError) as raised:
        wf.load(doc({"id": "pause", "type": "wait", **step}))
    assert problem in str(raised.value)
    assert "'pause'" in str(raised.value)


def test_a_wait_inside_a_loop_body_is_a_load_time_error() -> None:
    body = [{"id": "pause", "type": "wait", "seconds": 1}]
    with pytest.raises(wf.ValidationError, match="a wait step cannot be inside a loop body"):
        wf.load(doc({"id": "each", "type": "loop", "over": [1, 2], "do": body}))
