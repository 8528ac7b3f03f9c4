"""Queued execution: workers, retries, cancel, queued resume, redrive, definition versions, AsyncRunner.

On MemoryStore and the SQL store (SQLite, PostgreSQL), through the ``store`` fixture.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections import Counter
from typing import Any

import pytest

from packs.core import workflow as wf
from packs.core.workflow.queue.adapters import InlineAdapter

WAIT = 10.0
"""How long a test waits for something that should happen within milliseconds."""


def doc(*steps: dict[str, Any], **top: Any) -> dict[str, Any]:
    """A workflow document with a ``start`` step first and the given steps chained in order."""
    chain: list[dict[str, Any]] = [{"id": "start", "type": "start"}, *steps]
    for current, following in itertools.pairwise(chain):
        current.setdefault("next", following["id"])
    return {"id": top.pop("id", "queued"), "name": top.pop("name", "Queued"), **top, "steps": chain}


def call(step_id: str, method: str, **config: Any) -> dict[str, Any]:
    return {"id": step_id, "type": "call", "service": "svc", "method": method, "output": step_id, **config}


async def actions(store: wf.QueueStore, execution_id: str) -> list[tuple[str, str]]:
    return [(entry.step_id, str(entry.action)) for entry in await store.entries(execution_id)]


async def loaded(store: wf.QueueStore, execution_id: str) -> wf.Execution:
    execution = await store.load(execution_id)
    assert execution is not None
    return execution


async def queued(store: wf.QueueStore, definition: wf.WorkflowDef, input: dict[str, Any] | None = None) -> str:
    """A pending execution of ``definition`` (as ``AsyncRunner.run`` saves it, without delivering it)."""
    execution = wf.Engine(definition, store).new_execution(input, status=wf.Status.PENDING)
    assert await store.add(execution)
    return execution.id


def worker(store: wf.QueueStore, definition: wf.WorkflowDef, services: Any, **options: Any) -> wf.Worker:
    catalog = wf.DefinitionCatalog(store, {definition.id: definition})
    return wf.Worker(store, catalog, service_resolver={"svc": services}.get, **options)


class Services:
    """Services that count their calls; ``hold`` waits until released, ``flaky`` fails while ``broken``."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.broken = True
        self.holding = asyncio.Event()
        self.released = asyncio.Event()

    async def slow(self, label: str) -> str:
        self.calls[label] += 1
        await asyncio.sleep(0.05)
        return label

    def quick(self, label: str) -> str:
        self.calls[label] += 1
        return label

    async def hold(self, seconds: float) -> str:
        self.calls["hold"] += 1
        self.holding.set()
        if self.calls["hold"] == 1:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.released.wait(), seconds)
        return "held"

    def flaky(self, n: int) -> int:
        self.calls["flaky"] += 1
        if self.broken:
            raise RuntimeError("the service is down")
        return n + 1


class RecordingAdapter:
    """A queue adapter that only records what it is given (nothing ever runs)."""

    def __init__(self) -> None:
        self.enqueued: list[tuple[str, float, str | None]] = []

    async def enqueue(self, execution_id: str, delay: float = 0.0, key: str | None = None) -> None:
        self.enqueued.append((execution_id, delay, key))


async def drained(runner: wf.AsyncRunner) -> None:
    """Wait for the runner's in-process deliveries (so nothing runs on after the test)."""
    assert isinstance(runner.adapter, InlineAdapter)
    await runner.adapter.drain()


class Together:
    """The store, where ``parties`` concurrent calls of ``method`` meet: each waits for the others before
    (or, with ``after``, after) calling the store, so racing callers act on the same state."""

    def __init__(self, store: wf.QueueStore, method: str, parties: int = 2, *, after: bool = False) -> None:
        self._store = store
        self._method = method
        self._after = after
        self._barrier = asyncio.Barrier(parties)

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._store, name)
        if name != self._method:
            return found

        async def together(*args: Any, **kwargs: Any) -> Any:
            if not self._after:
                await asyncio.wait_for(self._barrier.wait(), WAIT)
            result = await found(*args, **kwargs)
            if self._after:
                await asyncio.wait_for(self._barrier.wait(), WAIT)
            return result

        return together


# -- workers ------------------------------------------------------------------------------------

TWO_CALLS = doc(
    call("one", "slow", input={"label": "one"}),
    call("two", "slow", input={"label": "two"}),
    {"id": "done", "type": "end", "result": {"one": "$one", "two": "$two"}},
)


async def test_two_workers_given_the_same_execution_run_it_once(store: wf.QueueStore) -> None:
    definition = wf.load(TWO_CALLS)
    services = Services()
    execution_id = await queued(store, definition)
    racing: Any = Together(store, "claim", after=True)  # both claim before either runs
    workers = [worker(racing, definition, services, owner=owner) for owner in ("w1", "w2")]
    results = await asyncio.gather(*(each.process(execution_id) for each in workers))
    finished = [result for result in results if result is not None]
    assert len(finished) == 1
    assert (finished[0].status, finished[0].output) == ("completed", {"one": "one", "two": "two"})
    assert services.calls == {"one": 1, "two": 1}
    assert await actions(store, execution_id) == [
        ("start", "started"),
        ("start", "completed"),
        ("one", "started"),
        ("one", "completed"),
        ("two", "started"),
        ("two", "completed"),
        ("done", "started"),
        ("done", "completed"),
    ]
    stored = await loaded(store, execution_id)
    assert (stored.status, stored.lease_owner, stored.attempts) == ("completed", None, 1)
    # A late third delivery finds it finished.
    assert await worker(store, definition, services).process(execution_id) is None
    assert services.calls == {"one": 1, "two": 1}


async def test_a_worker_whose_lease_is_taken_stops_before_the_next_step(
    store: wf.QueueStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="packflow.workflow")
    definition = wf.load(
        doc(
            call("hold", "hold", input={"seconds": WAIT}),
            call("after", "quick", input={"label": "after"}),
            {"id": "done", "type": "end"},
        )
    )
    services = Services()
    execution_id = await queued(store, definition)
    running = asyncio.create_task(worker(store, definition, services, lease_seconds=0.3).process(execution_id))
    await asyncio.wait_for(services.holding.wait(), WAIT)
    cancelled = await wf.cancel(store, execution_id)
    assert cancelled.status == "cancelled"
    await asyncio.sleep(0.25)  # the keeper renews every 0.1 s: it has found the lease gone
    assert "lease lost by" in caplog.text
    services.released.set()  # the step ends normally; its checkpoint is refused
    assert await asyncio.wait_for(running, WAIT) is None
    stored = await loaded(store, execution_id)
    assert (stored.status, stored.error, stored.current_step) == ("cancelled", "Cancelled", "hold")
    assert await actions(store, execution_id) == [("start", "started"), ("start", "completed"), ("hold", "started")]
    assert services.calls == {"hold": 1}


async def test_a_worker_shut_down_mid_step_hands_the_execution_over_at_once(store: wf.QueueStore) -> None:
    definition = wf.load(
        doc(
            call("first", "quick", input={"label": "first"}),
            call("hold", "hold", input={"seconds": 30}),
            {"id": "done", "type": "end", "result": {"first": "$first", "hold": "$hold"}},
        )
    )
    services = Services()
    execution_id = await queued(store, definition)
    running = asyncio.create_task(worker(store, definition, services, owner="stopping").process(execution_id))
    await asyncio.wait_for(services.holding.wait(), WAIT)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    handed_over = await loaded(store, execution_id)
    assert (handed_over.status, handed_over.current_step, handed_over.lease_owner) == ("running", "hold", None)
    # Claimable at once (not after the 30 s lease): another worker continues from the last checkpoint.
    result = await worker(store, definition, services, owner="next").process(execution_id)
    assert result is not None
    assert (result.status, result.output) == ("completed", {"first": "first", "hold": "held"})
    assert services.calls == {"first": 1, "hold": 2}  # the interrupted step ran again, the one before did not
    assert [step for step, action in await actions(store, execution_id) if action == "completed"] == [
        "start",
        "first",
        "hold",
        "done",
    ]


# -- retries ------------------------------------------------------------------------------------


def test_retry_delays_double_up_to_the_cap() -> None:
    policy = wf.RetryPolicy()
    assert [policy.delay(attempts) for attempts in range(6)] == [0.0, 1.0, 2.0, 4.0, 8.0, 16.0]
    capped = wf.RetryPolicy(backoff_seconds=0.5, backoff_factor=3, max_backoff_seconds=10)
    assert [capped.delay(attempts) for attempts in range(1, 6)] == [0.5, 1.5, 4.5, 10.0, 10.0]
    assert wf.RetryPolicy(max_attempts=5).max_attempts == 5


async def test_an_attempt_that_fails_outside_any_step_is_retried_with_backoff_then_given_up(
    store: wf.QueueStore,
) -> None:
    # Nobody knows workflow "ghost" and no snapshot of it was kept: each attempt ends in a ConfigError.
    execution = wf.Execution(id=str(uuid.uuid4()), workflow_id="ghost", status=wf.Status.PENDING, current_step="start")
    assert await store.add(execution)
    requeued: list[tuple[str, float]] = []

    async def requeue(execution_id: str, delay: float) -> None:
        requeued.append((execution_id, delay))

    retry = wf.RetryPolicy(max_attempts=2, backoff_seconds=0.2, backoff_factor=2)
    ghost_worker = wf.Worker(store, wf.DefinitionCatalog(store), retry=retry, requeue=requeue)
    assert await ghost_worker.process(execution.id) is None
    assert requeued == [(execution.id, 0.2)]
    first = await loaded(store, execution.id)
    assert (first.status, first.attempts, first.lease_owner) == ("pending", 1, None)
    assert await ghost_worker.process(execution.id) is None  # too early: the backoff has not passed
    assert (await loaded(store, execution.id)).attempts == 1
    await asyncio.sleep(0.25)
    assert await ghost_worker.process(execution.id) is None
    assert requeued == [(execution.id, 0.2), (execution.id, 0.4)]
    assert (await loaded(store, execution.id)).attempts == 2
    await asyncio.sleep(0.45)
    given_up = await ghost_worker.process(execution.id)
    assert given_up is not None
    assert given_up.status == "failed"
    stored = await loaded(store, execution.id)
    assert stored.status == "failed"
    assert stored.error is not None
    assert "gave up after 2 attempts" in stored.error
    assert stored.lease_owner is None
    assert len(requeued) == 2
    assert await ghost_worker.process(execution.id) is None


# -- cancel -------------------------------------------------------------------------------------

APPROVAL = doc(
    {"id": "ask", "type": "approval", "prompt": "ok?"},
    {"id": "done", "type": "end", "result": {"approved": "$approved"}},
)


async def test_cancel_pending_and_halted_executions_but_not_finished_or_unknown_ones(store: wf.QueueStore) -> None:
    definition = wf.load(APPROVAL)
    services = Services()
    pending_id = await queued(store, definition)
    cancelled = await wf.cancel(store, pending_id)
    assert (cancelled.status, cancelled.error) == ("cancelled", "Cancelled")
    assert await worker(store, definition, services).process(pending_id) is None
    stored = await loaded(store, pending_id)
    assert (stored.status, stored.attempts) == ("cancelled", 0)
    assert await actions(store, pending_id) == []

    engine = wf.Engine(definition, store)
    halted = await engine.run()
    assert halted.status == "halted"
    assert (await wf.cancel(store, halted.execution_id)).status == "cancelled"
    assert (await loaded(store, halted.execution_id)).status == "cancelled"
    with pytest.raises(wf.ExecutionStateError):
        await engine.resume(halted.execution_id, approved=True)

    completed = await wf.Engine(wf.load(doc({"id": "done", "type": "end"})), store).run()
    assert completed.status == "completed"
    with pytest.raises(wf.ExecutionStateError, match="is completed"):
        await wf.cancel(store, completed.execution_id)
    with pytest.raises(wf.ExecutionStateError, match="is cancelled"):
        await wf.cancel(store, pending_id)
    with pytest.raises(wf.ExecutionNotFoundError):
        await wf.cancel(store, str(uuid.uuid4()))
    with pytest.raises(wf.ExecutionNotFoundError):
        await wf.cancel(store, "nope")


# -- queued resume ------------------------------------------------------------------------------


async def test_a_queued_resume_continues_a_halted_approval(store: wf.QueueStore) -> None:
    runner = wf.AsyncRunner(wf.load(APPROVAL), store)
    approved_id = await runner.run()
    rejected_id = await runner.run()
    for execution_id in (approved_id, rejected_id):
        halted = await runner.wait(execution_id, timeout=WAIT)
        assert halted is not None
        assert halted.status == "halted"

    resumed = await runner.resume(approved_id, approved=True)
    assert resumed.status == "pending"
    approved = await runner.wait(approved_id, timeout=WAIT)
    assert approved is not None
    assert (approved.status, approved.output) == ("completed", {"approved": True})

    await runner.resume(rejected_id, approved=False)
    rejected = await runner.wait(rejected_id, timeout=WAIT)
    assert rejected is not None
    assert (rejected.status, rejected.error) == ("failed", "StepError: Rejected")
    await drained(runner)
    for execution_id in (approved_id, rejected_id):
        stored = await loaded(store, execution_id)
        assert "_resume" not in stored.ctx
        assert stored.lease_owner is None
    assert [step for step, action in await actions(store, approved_id) if action == "completed"] == [
        "start",
        "ask",
        "done",
    ]

    with pytest.raises(wf.ExecutionStateError, match="only a halted execution can resume"):
        await runner.resume(approved_id, approved=True)
    with pytest.raises(wf.ExecutionNotFoundError):
        await runner.resume(str(uuid.uuid4()), approved=True)


async def test_a_rejection_goes_to_on_reject(store: wf.QueueStore) -> None:
    document = doc(
        {"id": "ask", "type": "approval", "on_reject": "no"},
        {"id": "yes", "type": "end", "result": "yes"},
        {"id": "no", "type": "end", "result": "no"},
    )
    runner = wf.AsyncRunner(wf.load(document), store)
    execution_id = await runner.run()
    assert (await runner.wait(execution_id, timeout=WAIT) or pytest.fail("no result")).status == "halted"
    await runner.resume(execution_id, approved=False)
    result = await runner.wait(execution_id, timeout=WAIT)
    assert result is not None
    assert (result.status, result.output) == ("completed", "no")
    await drained(runner)


async def test_of_two_racing_resumes_exactly_one_wins(store: wf.QueueStore) -> None:
    halted = await wf.Engine(wf.load(APPROVAL), store).run()
    racing: Any = Together(store, "load", after=True)  # both read "halted" before either writes
    outcomes = await asyncio.gather(
        wf.queue_resume(racing, halted.execution_id, approved=True),
        wf.queue_resume(racing, halted.execution_id, approved=False),
        return_exceptions=True,
    )
    won = [outcome for outcome in outcomes if isinstance(outcome, wf.Execution)]
    lost = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert len(won) == 1
    assert len(lost) == 1
    assert isinstance(lost[0], wf.ExecutionStateError)
    assert "no longer halted" in str(lost[0])
    stored = await loaded(store, halted.execution_id)
    assert stored.status == "pending"
    assert stored.ctx["_resume"] == {"response": None, "approved": won[0].ctx["approved"]}


async def test_a_transition_is_a_compare_and_set_on_the_status(store: wf.QueueStore) -> None:
    halted = await wf.Engine(wf.load(APPROVAL), store).run()
    first = await loaded(store, halted.execution_id)
    second = await loaded(store, halted.execution_id)  # both read "halted"
    first.status, second.status = wf.Status.PENDING, wf.Status.CANCELLED
    assert await store.transition(first, [wf.Status.HALTED]) is True
    assert await store.transition(second, [wf.Status.HALTED]) is False
    assert (await loaded(store, halted.execution_id)).status == "pending"
    assert await store.transition(wf.Execution(id=str(uuid.uuid4()), workflow_id="queued"), ["pending"]) is False


# -- redrive ------------------------------------------------------------------------------------


async def test_a_redrive_continues_a_failed_execution_from_its_failed_step(store: wf.QueueStore) -> None:
    document = doc(
        call("first", "quick", input={"label": "first"}),
        call("second", "flaky", input={"n": 1}),
        {"id": "done", "type": "end", "result": {"first": "$first", "second": "$second"}},
    )
    services = Services()
    runner = wf.AsyncRunner(wf.load(document), store, service_resolver={"svc": services}.get)
    execution_id = await runner.run()
    failed = await runner.wait(execution_id, timeout=WAIT)
    assert failed is not None
    assert failed.status == "failed"
    assert failed.error is not None
    assert "the service is down" in failed.error
    await drained(runner)
    with pytest.raises(wf.ExecutionStateError, match="only a halted execution can resume"):
        await runner.resume(execution_id)

    services.broken = False
    redriven = await runner.redrive(execution_id)
    assert (redriven.status, redriven.error) == ("pending", None)
    result = await runner.wait(execution_id, timeout=WAIT)
    assert result is not None
    assert (result.status, result.output) == ("completed", {"first": "first", "second": 2})
    assert services.calls == {"first": 1, "flaky": 2}
    completed = [step for step, action in await actions(store, execution_id) if action == "completed"]
    assert completed == ["start", "first", "second", "done"]
    await drained(runner)
    with pytest.raises(wf.ExecutionStateError, match="only a failed execution can be retried"):
        await runner.redrive(execution_id)
    with pytest.raises(wf.ExecutionNotFoundError):
        await runner.redrive(str(uuid.uuid4()))


# -- definition versions ------------------------------------------------------------------------


def approval_version(version: str) -> wf.WorkflowDef:
    """Version ``version`` of workflow ``deployed``: an approval, then an end naming the version."""
    return wf.load(
        doc(
            {"id": "ask", "type": "approval"},
            {"id": "done", "type": "end", "result": {"version": version}},
            id="deployed",
            version=version,
        )
    )


async def test_an_execution_finishes_with_the_definition_it_started_with(store: wf.QueueStore) -> None:
    v1, v2 = approval_version("1"), approval_version("2")
    assert v1.content_hash != v2.content_hash
    before = wf.AsyncRunner(v1, store)
    started = await before.run()
    assert (await before.wait(started, timeout=WAIT) or pytest.fail("no result")).status == "halted"
    await drained(before)
    execution = await loaded(store, started)
    assert (execution.definition_version, execution.definition_hash) == ("1", v1.content_hash)

    # The deploy: a new process whose catalog knows only v2.
    catalog = wf.DefinitionCatalog(store)
    catalog.add(v2)
    after = wf.AsyncRunner(v2, store, catalog=catalog)
    await after.resume(started, approved=True)
    old = await after.wait(started, timeout=WAIT)
    assert old is not None
    assert (old.status, old.output) == ("completed", {"version": "1"})

    fresh = await after.run()
    assert (await after.wait(fresh, timeout=WAIT) or pytest.fail("no result")).status == "halted"
    new_execution = await loaded(store, fresh)
    assert (new_execution.definition_version, new_execution.definition_hash) == ("2", v2.content_hash)
    await after.resume(fresh, approved=True)
    new = await after.wait(fresh, timeout=WAIT)
    assert new is not None
    assert (new.status, new.output) == ("completed", {"version": "2"})
    await drained(after)
    assert await store.definition_source("deployed", v1.content_hash) == v1.raw
    assert await store.definition_source("deployed", "0" * 64) is None


# -- AsyncRunner --------------------------------------------------------------------------------


async def test_run_queues_and_returns_at_once_and_wait_returns_the_result(store: wf.QueueStore) -> None:
    services = Services()
    runner = wf.AsyncRunner(wf.load(TWO_CALLS), store, service_resolver={"svc": services}.get)
    execution_id = await runner.run()
    assert services.calls == {}  # nothing ran yet: the delivery is a task of its own
    assert isinstance(runner.adapter, InlineAdapter)
    assert runner.adapter.busy
    result = await runner.wait(execution_id, timeout=WAIT)
    assert result is not None
    assert (result.status, result.output) == ("completed", {"one": "one", "two": "two"})
    assert await runner.status(execution_id) == wf.Status.COMPLETED
    assert await runner.status(str(uuid.uuid4())) is None

    # Running an existing id again neither queues it again nor runs it again.
    assert await runner.run(execution_id=execution_id) == execution_id
    await drained(runner)
    assert services.calls == {"one": 1, "two": 1}
    other = wf.AsyncRunner(wf.load(doc({"id": "done", "type": "end"}, id="other")), store)
    with pytest.raises(wf.ExecutionError, match="belongs to workflow 'queued'"):
        await other.run(execution_id=execution_id)


async def test_run_saves_a_pending_execution_and_delivers_it_under_one_key(store: wf.QueueStore) -> None:
    adapter = RecordingAdapter()
    runner = wf.AsyncRunner(wf.load(TWO_CALLS), store, adapter)
    given = str(uuid.uuid4())
    assert await runner.run({"x": 1}, execution_id=given) == given
    # A repeat of a start still pending is queued again (its first delivery may never have been queued),
    # under the same key: a queue that still holds the first delivery drops it.
    assert await runner.run({"x": 2}, execution_id=given) == given
    assert adapter.enqueued == [(given, 0.0, f"start:{given}")] * 2
    stored = await loaded(store, given)
    assert (stored.status, stored.input, stored.current_step, stored.attempts) == ("pending", {"x": 1}, "start", 0)
    assert await runner.status(given) == wf.Status.PENDING
    assert await runner.wait(given, timeout=0.05) is None  # never delivered: wait gives up


async def test_ownership_is_stored_and_pages_filter_on_the_workspace(store: wf.QueueStore) -> None:
    runner = wf.AsyncRunner(wf.load(TWO_CALLS), store, RecordingAdapter())
    ours, theirs, user = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    mine = [await runner.run(workspace_id=ours, created_by_id=user) for _ in range(3)]
    other = await runner.run(workspace_id=theirs)
    unowned = await runner.run()
    stored = await loaded(store, mine[0])
    assert (stored.workspace_id, stored.created_by_id) == (ours, user)
    assert (await loaded(store, unowned)).workspace_id is None

    page = await store.page(wf.ExecutionFilter(workspace_id=ours), limit=2)
    assert page.total == 3
    assert len(page.executions) == 2
    rest = await store.page(wf.ExecutionFilter(workspace_id=ours), offset=2, limit=2)
    assert rest.total == 3
    assert {e.id for e in [*page.executions, *rest.executions]} == set(mine)
    assert all(e.workspace_id == ours for e in [*page.executions, *rest.executions])
    theirs_page = await store.page(wf.ExecutionFilter(workspace_id=theirs))
    assert ([e.id for e in theirs_page.executions], theirs_page.total) == ([other], 1)
    everything = await store.page(wf.ExecutionFilter(workflow_id="queued", status="pending"))
    assert everything.total == 5
    assert (await store.page(wf.ExecutionFilter(workspace_id=ours, status="completed"))).total == 0
    assert (await store.page(wf.ExecutionFilter(workspace_id=str(uuid.uuid4())))).total == 0
