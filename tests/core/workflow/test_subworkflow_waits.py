"""Sub-workflows that wait (docs/workflow-language.md, step type ``workflow``): a child woken on its own resumes
its parent, once, however it was woken, on the memory store and the SQL store over SQLite and PostgreSQL.

The clock is frozen; timers fire through ``fire_due`` and queued executions run on a real ``Worker`` whose
``requeue`` records what it delivers (the queue the app gives it), so each test sees exactly which
execution is delivered and when.
"""

from __future__ import annotations

import datetime
import itertools
from typing import Any

import pytest

from packs.core import workflow as wf
from packs.core.workflow import clock
from packs.core.workflow.signals import send_signal
from packs.core.workflow.steps.workflow_parent import PARENT
from tests.support.engine import resolver

START = datetime.datetime(2026, 12, 1, 9, 0, tzinfo=datetime.UTC)


def chain(workflow_id: str, *steps: dict[str, Any], result: Any = None) -> wf.WorkflowDef:
    """A workflow ``start -> steps... -> done`` (``done`` ends with ``result`` when given)."""
    done: dict[str, Any] = {"id": "done", "type": "end"}
    if result is not None:
        done["result"] = result
    listed: list[dict[str, Any]] = [{"id": "start", "type": "start"}, *steps, done]
    for current, following in itertools.pairwise(listed):
        current.setdefault("next", following["id"])
    return wf.load({"id": workflow_id, "name": workflow_id, "steps": listed})


def parent_of(child_id: str, **step: Any) -> wf.WorkflowDef:
    sub = {"id": "sub", "type": "workflow", "workflow_id": child_id, "input": {"n": "$input.n"}, "output": "sub"}
    return chain("parent", {**sub, **step}, result={"child": "$sub"})


class Delivered:
    """The queue of a test worker: the ids it was asked to deliver."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    async def __call__(self, execution_id: str, delay: float) -> None:
        self.ids.append(execution_id)


def setup(store: Any, child: wf.WorkflowDef, parent: wf.WorkflowDef, **services: Any) -> tuple[wf.Engine, wf.Worker]:
    wf.register(child)
    wf.register(parent)
    catalog = wf.DefinitionCatalog(store, {child.id: child, parent.id: parent})
    worker = wf.Worker(store, catalog, service_resolver=resolver(**services))
    worker.requeue = Delivered()
    return wf.Engine(parent, store, resolver(**services)), worker


def delivered(worker: wf.Worker) -> list[str]:
    queue = worker.requeue
    assert isinstance(queue, Delivered)
    return queue.ids


async def halted_parent(engine: wf.Engine, n: int = 1) -> tuple[str, str]:
    """Run the parent until its child halts; the parent's and the child's ids."""
    result = await engine.run(input={"n": n})
    assert result.status == wf.Status.HALTED, result
    assert result.halt is not None
    assert result.halt.data["type"] == "workflow"
    return result.execution_id, result.halt.data["child_execution_id"]


async def wake_child(store: Any, worker: wf.Worker, moment: Any, seconds: float, child_id: str) -> wf.ExecutionResult:
    """Move the clock to the child's timer, fire it and run the child it queued on the worker; the child's result."""
    moment.advance(seconds=seconds)
    assert (await wf.fire_due(store)).deliveries == [child_id]
    result = await worker.process(child_id)
    assert result is not None
    return result


async def status(store: Any, execution_id: str) -> str:
    execution = await store.load(execution_id)
    assert execution is not None
    return str(execution.status)


async def sub_entries(store: Any, execution_id: str) -> list[str]:
    return [str(e.action) for e in await store.entries(execution_id) if e.step_id == "sub"]


async def test_a_wait_in_the_child_resumes_the_parent_once_when_the_child_completes(store: Any) -> None:
    child = chain("napping", {"id": "nap", "type": "wait", "seconds": 30}, result={"slept": "$input.n"})
    engine, worker = setup(store, child, parent_of("napping"))
    with clock.frozen(START) as moment:
        parent_id, child_id = await halted_parent(engine, 7)
        parent = await store.load(parent_id)
        assert parent.halt_data["child"]["type"] == "wait"
        # The parent waits as its child does: no resume, no recovery moves it before the timer.
        with pytest.raises(wf.ExecutionStateError, match="waiting until"):
            await engine.resume(parent_id)
        assert (await engine.recover(parent_id)).status == wf.Status.HALTED
        assert await status(store, parent_id) == "halted"

        finished_child = await wake_child(store, worker, moment, 30, child_id)
        assert finished_child.status == wf.Status.COMPLETED
        assert finished_child.output == {"slept": 7}
        assert delivered(worker) == [parent_id]  # the child's end queued its parent, once
        assert await status(store, parent_id) == "pending"

        finished = await worker.process(parent_id)
        assert finished is not None
        assert finished.status == wf.Status.COMPLETED
        assert finished.output == {"child": {"slept": 7}}
        assert await worker.process(parent_id) is None  # nothing left to run
        assert await worker.process(child_id) is None
    assert delivered(worker) == [parent_id]
    assert await sub_entries(store, parent_id) == ["started", "halted", "started", "completed"]


async def test_a_child_without_an_end_result_does_not_hand_its_parent_link_on(store: Any) -> None:
    child = chain("plain_nap", {"id": "nap", "type": "wait", "seconds": 5})
    engine, worker = setup(store, child, parent_of("plain_nap"))
    with clock.frozen(START) as moment:
        parent_id, child_id = await halted_parent(engine, 3)
        assert (await store.load(child_id)).ctx[PARENT] == {"execution_id": parent_id, "step": "sub"}
        await wake_child(store, worker, moment, 5, child_id)
        finished = await worker.process(parent_id)
    assert finished is not None
    assert finished.status == wf.Status.COMPLETED
    assert PARENT not in finished.output["child"]
    assert finished.output["child"]["input"] == {"n": 3}


async def test_a_child_resumed_by_the_engine_alone_drives_its_parent_itself(store: Any) -> None:
    child = chain("engine_nap", {"id": "nap", "type": "wait", "seconds": 10}, result={"ok": True})
    engine, _ = setup(store, child, parent_of("engine_nap"))
    with clock.frozen(START) as moment:
        parent_id, child_id = await halted_parent(engine)
        moment.advance(seconds=11)
        # A script (or the CLI) resumes the child with no worker around: the parent goes on in the same call.
        resumed = await wf.Engine(child, store).resume(child_id)
    assert resumed.status == wf.Status.COMPLETED
    parent = await store.load(parent_id)
    assert parent.status == wf.Status.COMPLETED
    assert parent.result == {"child": {"ok": True}}


async def test_a_signal_wakes_the_waiting_child_sent_to_it_or_to_its_parent(store: Any) -> None:
    child = chain(
        "receiving", {"id": "paid", "type": "receive", "signal": "payment", "output": "payment"}, result="$payment"
    )
    engine, worker = setup(store, child, parent_of("receiving"))
    for target in ("child", "parent"):
        parent_id, child_id = await halted_parent(engine)
        waits_for = (await store.load(parent_id)).halt_data["child"]
        assert waits_for == {"type": "signal", "signal": "payment", "due_at": None}
        with pytest.raises(wf.ExecutionStateError, match="waiting for the signal 'payment'"):
            await engine.resume(parent_id)
        sent = await send_signal(store, child_id if target == "child" else parent_id, "payment", {"to": target}, "k1")
        assert (sent.woke, sent.execution_id) == (True, child_id)  # kept for the child that waits for it
        again = await send_signal(store, parent_id, "payment", {"to": target}, "k1")
        assert again.repeated
        assert not again.woke
        await worker.process(child_id)
        assert delivered(worker)[-1] == parent_id
        finished = await worker.process(parent_id)
        assert finished is not None
        assert finished.output == {"child": {"to": target}}
        assert [s.payload for s in await store.signals_of(child_id)] == [{"to": target}]
        # The parent lists what it passed on (kept by the child); a signal sent to the child directly is not its.
        passed_on = [(s.execution_id, s.addressed_to) for s in await store.signals_of(parent_id)]
        assert passed_on == ([] if target == "child" else [(child_id, parent_id)])


async def test_a_signal_the_child_does_not_wait_for_stays_with_the_parent(store: Any) -> None:
    child = chain("receiving_other", {"id": "paid", "type": "receive", "signal": "payment"})
    engine, _ = setup(store, child, parent_of("receiving_other"))
    parent_id, child_id = await halted_parent(engine)
    sent = await send_signal(store, parent_id, "refund", 1)
    assert (sent.woke, sent.execution_id) == (False, parent_id)
    assert await status(store, child_id) == "halted"


async def test_a_child_failing_after_its_wake_up_fails_the_parent_step(store: Any) -> None:
    def decline() -> None:
        raise RuntimeError("card declined")

    child = chain(
        "failing_nap",
        {"id": "nap", "type": "wait", "seconds": 5},
        {"id": "charge", "type": "call", "service": "billing"},
    )
    wf.register(child)
    caught = chain(
        "catching_parent",
        {
            "id": "sub",
            "type": "workflow",
            "workflow_id": "failing_nap",
            "catch": [{"errors": ["StepError"], "next": "handled", "output": "problem"}],
        },
        {"id": "handled", "type": "end", "result": "$problem"},
    )
    for parent, expected in ((parent_of("failing_nap"), "failed"), (caught, "completed")):
        engine, worker = setup(store, child, parent, billing=decline)
        with clock.frozen(START) as moment:
            parent_id, child_id = await halted_parent(engine)
            assert (await wake_child(store, worker, moment, 5, child_id)).status == wf.Status.FAILED
            assert delivered(worker)[-1] == parent_id
            finished = await worker.process(parent_id)
        assert finished is not None
        assert finished.status == expected
        if expected == "failed":
            assert finished.error is not None
            assert "sub-workflow 'failing_nap' failed: RuntimeError: card declined" in finished.error
        else:
            assert finished.output["type"] == "StepError"
            assert "card declined" in finished.output["message"]
            assert finished.output["step_id"] == "sub"


async def test_an_approval_deadline_in_the_child_resumes_the_parent(store: Any) -> None:
    approval = {
        "id": "approve",
        "type": "approval",
        "prompt": "OK?",
        "timeout": 60,
        "on_timeout": "late",
        "next": "done",
    }
    child = chain("deadline_child", approval, {"id": "late", "type": "end", "result": {"late": True}})
    engine, worker = setup(store, child, parent_of("deadline_child"))
    with clock.frozen(START) as moment:
        parent_id, child_id = await halted_parent(engine)
        assert (await store.load(parent_id)).halt_data["child"]["type"] == "approval"
        await wake_child(store, worker, moment, 61, child_id)
        assert delivered(worker) == [parent_id]
        finished = await worker.process(parent_id)
    assert finished is not None
    assert finished.output == {"child": {"late": True}}


async def test_a_child_that_halts_again_shows_its_new_halt_in_the_parent(store: Any) -> None:
    approval = {"id": "approve", "type": "approval", "prompt": "Ship it?", "next": "done"}
    child = chain(
        "nap_then_ask", {"id": "nap", "type": "wait", "seconds": 5}, approval, result={"approved": "$approved"}
    )
    engine, worker = setup(store, child, parent_of("nap_then_ask"))
    with clock.frozen(START) as moment:
        parent_id, child_id = await halted_parent(engine)
        assert (await wake_child(store, worker, moment, 5, child_id)).status == wf.Status.HALTED
        assert delivered(worker) == []  # a halt wakes nobody
        parent = await store.load(parent_id)
        assert parent.status == wf.Status.HALTED
        assert parent.halt_data["child"]["type"] == "approval"
        assert parent.halt_data["prompt"] == "Ship it?"
        # The parent is decided on as usual: it drives its child on.
        decided = await wf.decide(store, parent_id, approved=True)
        assert decided.verdict is True
        finished = await worker.process(parent_id)
    assert finished is not None
    assert finished.status == wf.Status.COMPLETED
    assert finished.output == {"child": {"approved": True}}


async def test_a_child_resumed_through_the_queue_and_recovered_after_a_crash_resumes_its_parent(store: Any) -> None:
    child = chain("asking_child", {"id": "ask", "type": "halt", "reason": "name?"}, result={"said": "$response"})
    engine, worker = setup(store, child, parent_of("asking_child"))
    with clock.frozen(START) as moment:
        parent_id, child_id = await halted_parent(engine)
        await wf.queue_resume(store, child_id, response="ada")  # the resume API, on the child
        # The worker that took it died: its lease runs out, the recovery sweep hands it to another.
        assert await store.claim(child_id, "dead-worker", 5) is not None
        assert await worker.process(child_id) is None  # leased by the dead one, for now
        moment.advance(seconds=10)
        recovered = await worker.process(child_id)
        assert recovered is not None
        assert recovered.status == wf.Status.COMPLETED
        assert delivered(worker) == [parent_id]
        finished = await worker.process(parent_id)
    assert finished is not None
    assert finished.output == {"child": {"said": "ada"}}


async def test_a_nested_child_resumes_every_parent_up_the_chain(store: Any) -> None:
    inner = chain("inner_nap", {"id": "nap", "type": "wait", "seconds": 5}, result={"inner": True})
    wf.register(inner)
    middle = chain(
        "middle", {"id": "sub", "type": "workflow", "workflow_id": "inner_nap", "output": "sub"}, result="$sub"
    )
    engine, worker = setup(store, middle, parent_of("middle"))
    worker.catalog.add(inner)
    with clock.frozen(START) as moment:
        top_id, middle_id = await halted_parent(engine)
        top = await store.load(top_id)
        inner_id = top.halt_data["child"]["child_execution_id"]
        assert top.halt_data["child"]["child"]["type"] == "wait"
        moment.advance(seconds=5)
        assert (await wf.fire_due(store)).deliveries == [inner_id]
        await worker.process(inner_id)
        assert delivered(worker) == [middle_id]
        await worker.process(middle_id)
        assert delivered(worker) == [middle_id, top_id]
        finished = await worker.process(top_id)
    assert finished is not None
    assert finished.output == {"child": {"inner": True}}


async def test_a_parent_resumed_while_its_child_runs_on_its_own_halts_again_until_the_child_ends(store: Any) -> None:
    child = chain("asked_twice", {"id": "ask", "type": "halt", "reason": "name?"}, result={"said": "$response"})
    engine, worker = setup(store, child, parent_of("asked_twice"))
    parent_id, child_id = await halted_parent(engine)
    await wf.queue_resume(store, child_id, response="ada")  # the child goes on by itself (queued) ...
    await wf.queue_resume(store, parent_id, response="bob")  # ... and the parent is resumed meanwhile
    again = await worker.process(parent_id)
    assert again is not None
    assert again.status == wf.Status.HALTED  # it waits for the child it did not drive
    assert again.halt is not None
    assert again.halt.data["child_execution_id"] == child_id
    assert await status(store, child_id) == "pending"
    await worker.process(child_id)
    assert delivered(worker) == [parent_id]
    finished = await worker.process(parent_id)
    assert finished is not None
    assert finished.output == {"child": {"said": "ada"}}


async def test_cancelling_a_parent_cancels_the_child_it_waits_for_and_the_childs_timers(store: Any) -> None:
    inner = chain("inner_long_nap", {"id": "nap", "type": "wait", "seconds": 3600})
    wf.register(inner)
    middle = chain("middle_long", {"id": "sub", "type": "workflow", "workflow_id": "inner_long_nap"})
    engine, worker = setup(store, middle, parent_of("middle_long"))
    with clock.frozen(START) as moment:
        top_id, middle_id = await halted_parent(engine)
        inner_id = (await store.load(top_id)).halt_data["child"]["child_execution_id"]
        assert len(await store.timers_of(inner_id)) == 1
        await wf.cancel(store, top_id)
        assert [await status(store, key) for key in (top_id, middle_id, inner_id)] == ["cancelled"] * 3
        assert (await store.load(inner_id)).error == "Cancelled with its parent"
        assert await store.timers_of(inner_id) == []
        moment.advance(seconds=3601)
        assert (await wf.fire_due(store)).timers == []  # nothing left to wake, nothing runs
    assert delivered(worker) == []
