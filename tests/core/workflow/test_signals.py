"""Signals and the ``receive`` step (docs/workflow-language.md, step type ``receive``): arrival order, a signal
sent before or after the step is reached, idempotency keys, timeouts on durable timers, ended executions, and
a sender and a receiving step that cannot miss each other.

Every test runs on the memory store and on the SQL store over SQLite and PostgreSQL, with a frozen clock
where time matters.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime
import itertools
import uuid
from typing import Any

import pytest

from packs.core import workflow as wf
from packs.core.workflow import clock
from packs.core.workflow.signals import SignalKeyConflictError, send_signal
from packs.core.workflow.timers import fire_due
from tests.support.engine import SQL_STORES


def doc(*steps: dict[str, Any]) -> dict[str, Any]:
    chain: list[dict[str, Any]] = [{"id": "start", "type": "start"}, *steps]
    for current, following in itertools.pairwise(chain):
        current.setdefault("next", following["id"])
    return {"id": "receiving", "name": "Receiving", "steps": chain}


PAYMENT = doc(
    {"id": "await_payment", "type": "receive", "signal": "payment_received", "output": "payment"},
    {"id": "done", "type": "end", "result": {"payment": "$payment"}},
)


def engine_for(store: wf.Store, document: dict[str, Any] = PAYMENT) -> wf.Engine:
    return wf.Engine(wf.load(document), store=store)


async def started(engine: wf.Engine) -> str:
    """An execution saved but not run yet (signals may be sent to it before it reaches its receive step)."""
    execution = engine.new_execution({}, str(uuid.uuid4()), status=wf.Status.PENDING)
    await engine.store.save(execution)
    return execution.id


async def test_a_receive_step_halts_until_its_signal_arrives_then_gets_the_payload(store: wf.Store) -> None:
    engine = engine_for(store)
    result = await engine.run()
    assert result.status == "halted"
    assert result.halt is not None
    assert result.halt.data == {"type": "signal", "signal": "payment_received", "due_at": None}

    with pytest.raises(wf.ExecutionStateError, match="waiting for the signal 'payment_received'"):
        await engine.resume(result.execution_id, response={"amount": 1})
    other = await send_signal(store, result.execution_id, "refund_requested", {"amount": 1})
    assert (other.repeated, other.woke) == (False, False)
    assert (await store.load(result.execution_id)).status == "halted"  # type: ignore[union-attr]

    sent = await send_signal(store, result.execution_id, "payment_received", {"amount": 42})
    assert (sent.repeated, sent.woke) == (False, True)
    assert (await store.load(result.execution_id)).status == "pending"  # type: ignore[union-attr]
    result = await engine.recover(result.execution_id)
    assert result.status == "completed"
    assert result.output == {"payment": {"amount": 42}}
    signals = await store.signals_of(result.execution_id)  # type: ignore[attr-defined]
    assert [(s.name, s.payload, s.consumed_by) for s in signals] == [
        ("refund_requested", {"amount": 1}, None),
        ("payment_received", {"amount": 42}, "await_payment"),
    ]


async def test_a_signal_sent_before_the_step_is_reached_is_consumed_without_halting(store: wf.Store) -> None:
    engine = engine_for(store)
    execution_id = await started(engine)
    sent = await send_signal(store, execution_id, "payment_received", {"amount": 7})
    assert sent.woke is False
    result = await engine.recover(execution_id)
    assert result.status == "completed"
    assert result.output == {"payment": {"amount": 7}}
    actions = [str(entry.action) for entry in await store.entries(execution_id)]
    assert "halted" not in actions


async def test_each_receive_consumes_the_oldest_unread_signal_of_its_name(store: wf.Store) -> None:
    document = doc(
        {"id": "first", "type": "receive", "signal": "item", "output": "a"},
        {"id": "second", "type": "receive", "signal": "item", "output": "b"},
        {"id": "done", "type": "end", "result": ["$a", "$b"]},
    )
    engine = engine_for(store, document)
    execution_id = await started(engine)
    for n in (1, 2, 3):
        await send_signal(store, execution_id, "item", n)
    result = await engine.recover(execution_id)
    assert result.output == [1, 2]
    unread = [s.payload for s in await store.signals_of(execution_id) if s.consumed_at is None]  # type: ignore[attr-defined]
    assert unread == [3]


async def test_an_idempotency_key_makes_a_repeated_send_a_no_op(store: wf.Store) -> None:
    engine = engine_for(store)
    result = await engine.run()
    first = await send_signal(store, result.execution_id, "payment_received", {"n": 1}, idempotency_key="pay-1")
    again = await send_signal(store, result.execution_id, "payment_received", {"n": 1}, idempotency_key="pay-1")
    assert (first.woke, again.repeated, again.woke) == (True, True, False)
    assert again.signal.id == first.signal.id
    with pytest.raises(SignalKeyConflictError, match="another payload"):
        await send_signal(store, result.execution_id, "payment_received", {"n": 2}, idempotency_key="pay-1")
    await engine.recover(result.execution_id)  # the signal ends the execution; a repeat still answers it
    late = await send_signal(store, result.execution_id, "payment_received", {"n": 1}, idempotency_key="pay-1")
    assert (late.repeated, late.woke, late.signal.id) == (True, False, first.signal.id)
    assert len(await store.signals_of(result.execution_id)) == 1  # type: ignore[attr-defined]


async def test_signals_to_an_ended_or_unknown_execution_are_refused_and_kept_nowhere(store: wf.Store) -> None:
    engine = engine_for(store)
    result = await engine.run()
    await send_signal(store, result.execution_id, "payment_received", 1)
    await engine.recover(result.execution_id)
    with pytest.raises(wf.ExecutionStateError, match="is completed"):
        await send_signal(store, result.execution_id, "payment_received", 2)
    assert len(await store.signals_of(result.execution_id)) == 1  # type: ignore[attr-defined]
    with pytest.raises(wf.ExecutionNotFoundError):
        await send_signal(store, str(uuid.uuid4()), "payment_received", 1)


TIMED = doc(
    {
        "id": "await_payment",
        "type": "receive",
        "signal": "payment_received",
        "output": "payment",
        "timeout": 3600,
        "on_timeout": "remind",
        "next": "done",
    },
    {"id": "remind", "type": "end", "result": {"timed_out": "$payment.timed_out", "due_at": "$payment.due_at"}},
    {"id": "done", "type": "end", "result": {"payment": "$payment"}},
)


async def test_a_receive_times_out_on_its_durable_timer_and_goes_to_on_timeout(store: wf.Store) -> None:
    engine = engine_for(store, TIMED)
    with clock.frozen() as moment:
        result = await engine.run()
        due = moment.current + datetime.timedelta(seconds=3600)
        assert result.halt is not None
        assert result.halt.data == {"type": "signal", "signal": "payment_received", "due_at": due.isoformat()}
        (timer,) = await store.timers_of(result.execution_id)  # type: ignore[attr-defined]
        assert (timer.kind, timer.due_at) == ("signal_timeout", due)
        moment.advance(seconds=3599)
        assert (await fire_due(store)).timers == []
        moment.advance(seconds=1)
        fired = await fire_due(store)
        assert fired.deliveries == [result.execution_id]
        result = await engine.recover(result.execution_id)
    assert result.status == "completed"
    assert result.output == {"timed_out": True, "due_at": due.isoformat()}  # under the step's output, as documented
    entries = await store.entries(result.execution_id)
    receive = [e for e in entries if e.step_id == "await_payment" and e.action == "completed"]
    assert receive[0].output == {"timed_out": True, "signal": "payment_received", "due_at": due.isoformat()}


async def test_a_signal_before_the_timeout_cancels_the_receive_timer(store: wf.Store) -> None:
    engine = engine_for(store, TIMED)
    with clock.frozen() as moment:
        result = await engine.run()
        assert [timer.kind for timer in await store.timers_of(result.execution_id)] == ["signal_timeout"]  # type: ignore[attr-defined]
        sent = await send_signal(store, result.execution_id, "payment_received", {"amount": 7})
        assert sent.woke
        result = await engine.recover(result.execution_id)
        assert (result.status, result.output) == ("completed", {"payment": {"amount": 7}})
        assert await store.timers_of(result.execution_id) == []  # type: ignore[attr-defined]
        moment.advance(seconds=3600)
        assert (await fire_due(store)).timers == []  # nothing fires at the old due time


async def test_a_receive_timeout_without_on_timeout_fails_the_execution(store: wf.Store) -> None:
    document = doc(
        {"id": "await_payment", "type": "receive", "signal": "payment_received", "timeout": 60},
        {"id": "done", "type": "end"},
    )
    engine = engine_for(store, document)
    with clock.frozen() as moment:
        result = await engine.run()
        moment.advance(seconds=60)
        await fire_due(store)
        result = await engine.recover(result.execution_id)
    assert result.status == "failed"
    assert result.error == "StepError: step 'await_payment': no signal 'payment_received' within 60s"


async def test_a_signal_before_the_timeout_wins_and_the_timer_then_does_nothing(store: wf.Store) -> None:
    engine = engine_for(store, TIMED)
    with clock.frozen() as moment:
        result = await engine.run()
        moment.advance(seconds=10)
        await send_signal(store, result.execution_id, "payment_received", {"amount": 3})
        result = await engine.recover(result.execution_id)
        assert result.output == {"payment": {"amount": 3}}
        moment.advance(seconds=3600)
        assert (await fire_due(store)).deliveries == []
    assert (await store.load(result.execution_id)).status == "completed"  # type: ignore[union-attr]


@SQL_STORES
async def test_a_sender_waits_for_a_receiving_step_that_holds_the_execution(store: wf.Store) -> None:
    """The step's unit holds the row lock from its read of the signals to its halt's commit: a signal sent
    meanwhile is kept only after that commit, and then sees the halt and wakes it."""
    engine = engine_for(store)
    result = await engine.run()
    execution_id = result.execution_id
    execution = await store.load(execution_id)
    assert execution is not None
    async with store.unit():
        await store.lock_execution(execution_id)  # type: ignore[attr-defined]
        sending = asyncio.create_task(
            send_signal(store, execution_id, "payment_received", {"amount": 9}),
            context=contextvars.Context(),  # another request: outside this unit
        )
        await asyncio.sleep(0.3)
        assert not sending.done()
    sent = await asyncio.wait_for(sending, 10)
    assert sent.woke is True


def test_receive_needs_a_signal_and_is_not_allowed_in_a_loop_body() -> None:
    with pytest.raises(wf.ValidationError, match="step 'r' field 'signal' is required"):
        wf.load(doc({"id": "r", "type": "receive", "output": "x"}))
    body = {"id": "r", "type": "receive", "signal": "s"}
    with pytest.raises(wf.ValidationError, match="a receive step cannot be inside a loop body"):
        wf.load(doc({"id": "each", "type": "loop", "over": [1], "do": [body]}))
    with pytest.raises(wf.ValidationError, match="field 'on_timeout': no step 'nowhere'"):
        wf.load(doc({"id": "r", "type": "receive", "signal": "s", "timeout": 5, "on_timeout": "nowhere"}))
