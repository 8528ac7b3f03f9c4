"""Approval deadlines fire on their own (docs/workflow-language.md, ``approval``), with a frozen clock.

On the memory store and the SQL store over SQLite and PostgreSQL: at ``requested_at + timeout`` the
deadline timer queues the execution's resume, and the approval goes to ``on_timeout`` or fails, with
nobody resuming it; an approval decided in time cancels its deadline.
"""

from __future__ import annotations

import datetime
from typing import Any

from packs.core import workflow as wf
from packs.core.workflow import clock

START = datetime.datetime(2026, 12, 1, 9, 0, tzinfo=datetime.UTC)
HOUR = 3600


def definition(**approval: Any) -> wf.WorkflowDef:
    return wf.load(
        {
            "id": "deadline",
            "name": "Deadline",
            "steps": [
                {"id": "start", "type": "start", "next": "ask"},
                {
                    "id": "ask",
                    "type": "approval",
                    "prompt": "Ship it?",
                    "timeout": HOUR,
                    "output": "decision",
                    "next": "done",
                    "on_reject": "escalate",
                    **approval,
                },
                {"id": "escalate", "type": "end", "result": {"escalated": "$decision"}},
                {"id": "done", "type": "end", "result": {"approved": True}},
            ],
        }
    )


async def fire_and_run(store: Any, eng: wf.Engine) -> list[str]:
    """What the app's sweep and worker do: fire the due timers, then run what they delivered."""
    fired = await wf.fire_due(store)
    worker = wf.Worker(store, wf.DefinitionCatalog(store, {eng.definition.id: eng.definition}))
    for execution_id in fired.deliveries:
        await worker.process(execution_id)
    return fired.deliveries


async def test_at_the_deadline_the_approval_goes_to_on_timeout_by_itself(store: Any) -> None:
    eng = wf.Engine(definition(on_timeout="escalate"), store=store)
    with clock.frozen(START) as moment:
        result = await eng.run()
        assert result.status == wf.Status.HALTED
        [timer] = await store.timers_of(result.execution_id)
        assert (timer.kind, timer.due_at) == ("approval_deadline", START + datetime.timedelta(seconds=HOUR))
        moment.advance(seconds=HOUR - 1)
        assert await fire_and_run(store, eng) == []
        moment.advance(seconds=1)
        assert await fire_and_run(store, eng) == [result.execution_id]
    execution = await store.load(result.execution_id)
    assert execution.status == wf.Status.COMPLETED
    assert execution.result == {"escalated": {"approved": None, "timed_out": True, "decisions": []}}
    assert await store.timers_of(result.execution_id) == []


async def test_without_on_timeout_the_execution_fails_at_the_deadline(store: Any) -> None:
    eng = wf.Engine(definition(), store=store)
    with clock.frozen(START) as moment:
        result = await eng.run()
        moment.advance(seconds=HOUR)
        assert await fire_and_run(store, eng) == [result.execution_id]
    execution = await store.load(result.execution_id)
    assert execution.status == wf.Status.FAILED
    assert execution.error is not None
    assert "approval timed out after 3600s" in execution.error


async def test_an_approval_decided_in_time_cancels_its_deadline(store: Any) -> None:
    eng = wf.Engine(definition(on_timeout="escalate"), store=store)
    with clock.frozen(START) as moment:
        result = await eng.run()
        moment.advance(seconds=60)
        assert (await eng.resume(result.execution_id, approved=True)).status == wf.Status.COMPLETED
        assert await store.timers_of(result.execution_id) == []
        moment.advance(seconds=2 * HOUR)
        assert (await wf.fire_due(store)).timers == []
    assert (await store.load(result.execution_id)).result == {"approved": True}


async def test_a_deadline_firing_after_the_approval_moved_on_does_nothing(store: Any) -> None:
    eng = wf.Engine(definition(on_timeout="escalate"), store=store)
    with clock.frozen(START) as moment:
        result = await eng.run()
        [timer] = await store.timers_of(result.execution_id)
        await wf.cancel(store, result.execution_id)
        # A stale timer (cancelled execution): re-added by hand, it fires and changes nothing.
        await store.add_timer(
            wf.Timer(kind=timer.kind, due_at=timer.due_at, execution_id=timer.execution_id, payload=timer.payload)
        )
        moment.advance(seconds=HOUR)
        fired = await wf.fire_due(store)
    assert len(fired.timers) == 1
    assert fired.deliveries == []
    assert (await store.load(result.execution_id)).status == wf.Status.CANCELLED


async def test_every_halt_names_what_it_waits_for_and_the_list_filters_on_it(store: Any) -> None:
    steps = {
        "approval": {"id": "s", "type": "approval", "prompt": "ok?"},
        "wait": {"id": "s", "type": "wait", "seconds": 60},
        "input": {"id": "s", "type": "halt", "reason": "need more", "data": {"type": "not this"}},
    }
    ids: dict[str, str] = {}
    with clock.frozen(START):
        for kind, step in steps.items():
            document = {
                "id": f"halts_{kind}",
                "name": kind,
                "steps": [
                    {"id": "start", "type": "start", "next": "s"},
                    {**step, "next": "end"},
                    {"id": "end", "type": "end"},
                ],
            }
            result = await wf.Engine(wf.load(document), store=store).run()
            assert result.halt is not None
            assert result.halt.data["type"] == kind
            ids[kind] = result.execution_id
        done = await wf.Engine(
            wf.load({"id": "plain", "name": "p", "steps": [{"id": "end", "type": "end"}]}), store=store
        ).run()
    for kind, execution_id in ids.items():
        page = await store.page(wf.ExecutionFilter(waiting_for=kind))
        assert [execution.id for execution in page.executions] == [execution_id]
    assert (await store.page(wf.ExecutionFilter(waiting_for="signal"))).executions == []
    everything = await store.page(wf.ExecutionFilter())
    assert done.execution_id in {execution.id for execution in everything.executions}
