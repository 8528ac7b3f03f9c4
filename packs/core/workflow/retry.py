"""What happens after a step fails: retry it (its retriers), go to a catcher's ``next``, or neither
(docs/workflow-language.md, Retry and catch).

The engine calls :func:`after_failure` with the error and the step's context as it was before the
failed attempt. The counts of attempts live in the context under :data:`RETRY_STATE`
(``{step, attempt, counts}``), so they survive a crash and a worker change; the engine takes that
key out before every attempt, so it is gone once the step succeeds, and the context restored
after a failure brings it back. :func:`schedule` checkpoints the failed attempt and either the next
one at once or a halt until a durable ``retry`` timer (:func:`wake` is its handler).
"""

from __future__ import annotations

import asyncio
import datetime
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from packs.core.workflow.language.retry import Catcher, Retrier, matches
from packs.core.workflow.model import Action, Entry, Status, utcnow
from packs.core.workflow.state import error_details, error_message
from packs.core.workflow.timers import Firing, Timer, timer_handlers

if TYPE_CHECKING:
    from packs.core.workflow.language.definition import StepDef
    from packs.core.workflow.state import RunState

KIND = "retry"
"""The timer kind of a wait between attempts."""

RESUME_REQUEST = "_resume"
"""The engine's context key of a queued resume (``packs.core.workflow.engine.RESUME_REQUEST``)."""

RETRY_STATE = "_retry"
"""Context key of the attempts of the step being retried: ``{step, attempt, counts: {retrier index: retries}}``."""


@dataclass(frozen=True)
class Retry:
    """Run the step again, after ``delay`` seconds: retry number ``retry`` of retrier ``retrier``."""

    attempt: int
    """The attempt that failed (from 1); the next one is ``attempt + 1``."""
    retrier: Retrier
    retry: int
    delay: float


@dataclass(frozen=True)
class Caught:
    """Go to ``catcher.next``, with ``error`` stored under ``catcher.output``."""

    catcher: Catcher
    error: dict[str, Any]


def attempt_of(ctx: dict[str, Any], step: StepDef) -> int | None:
    """The number of the attempt of ``step`` that ``ctx`` is at (1 for the first), or ``None`` for a step
    without retriers: what each of its entries records (docs/workflow-language.md, Retry and catch)."""
    return _counts(ctx, step)[1] if step.retry else None


def begin_attempt(ctx: dict[str, Any], step: StepDef) -> int | None:
    """Take the retry counts out of the context before an attempt (a failure restores them); the attempt's
    number (:func:`attempt_of`)."""
    attempt = attempt_of(ctx, step)
    ctx.pop(RETRY_STATE, None)
    return attempt


def after_failure(step: StepDef, error: BaseException, ctx: dict[str, Any], failed: Entry) -> Retry | Caught | None:
    """What follows the failed attempt of ``step`` (``None``: neither a retry nor a catcher applies).

    ``ctx`` is the context before the attempt: on a retry its counts are updated, otherwise they are
    removed (and a catcher's ``output`` is set). ``failed``, the attempt's ``failed`` entry, gets its
    attempt number when the step has retriers.
    """
    counts, attempt = _counts(ctx, step)
    ctx.pop(RETRY_STATE, None)
    if step.retry:
        failed.attempt = attempt
    for index, retrier in enumerate(step.retry):
        if not matches(error, retrier.errors):
            continue
        done = counts.get(str(index), 0)
        if done < retrier.max_attempts:
            counts[str(index)] = done + 1
            ctx[RETRY_STATE] = {"step": step.id, "attempt": attempt + 1, "counts": counts}
            return Retry(attempt=attempt, retrier=retrier, retry=done + 1, delay=_delay(retrier, done + 1))
        break
    for catcher in step.catch:
        if matches(error, catcher.errors):
            record = error_record(error, step.id, attempt)
            if catcher.output:
                ctx[catcher.output] = record
            return Caught(catcher, record)
    return None


def error_record(error: BaseException, step_id: str, attempts: int) -> dict[str, Any]:
    """What a catcher's ``output`` receives: ``{type, message, details, step_id, attempts}``."""
    return {
        "type": type(error).__name__,
        "message": error_message(error),
        "details": error_details(error),
        "step_id": step_id,
        "attempts": attempts,
    }


def _counts(ctx: dict[str, Any], step: StepDef) -> tuple[dict[str, int], int]:
    """The retries per retrier so far and the number of the attempt that just failed."""
    kept = ctx.get(RETRY_STATE)
    if not isinstance(kept, dict) or kept.get("step") != step.id:
        return {}, 1
    counts = kept.get("counts")
    attempt = kept.get("attempt")
    return (
        {str(k): int(v) for k, v in counts.items()} if isinstance(counts, dict) else {},
        attempt if isinstance(attempt, int) and attempt > 0 else 1,
    )


def _delay(retrier: Retrier, retry: int) -> float:
    computed = retrier.delay(retry)
    if retrier.jitter == "full" and computed > 0:
        return random.uniform(0, computed)
    return computed


async def retry_now(state: RunState, step: StepDef, followup: Retry, entries: list[Entry]) -> None:
    """Checkpoint a failed attempt and the start of the next one (the run goes on with the step at once)."""
    execution = state.execution
    started = state.entry(step.id, step, Action.STARTED, attempt=followup.attempt + 1)
    state.remember(started)
    execution.current_step = step.id
    execution.ctx = state.ctx
    execution.updated_at = utcnow()
    await state.store.checkpoint(execution, [*entries, started])


async def schedule(state: RunState, step: StepDef, followup: Retry, entries: list[Entry]) -> bool:
    """Checkpoint a failed attempt and what comes before the next one; whether the run goes on with the step now.

    Without a wait the next attempt starts at once. With one, the execution halts until a durable
    timer of kind :data:`KIND` fires (``halt_data = {type: "wait", due_at, timer_id, retry: {step_id,
    attempt, error}}``): the timer and the halt commit together, and no process holds the wait. A
    store that keeps no timers waits in the process instead.
    """
    if followup.delay <= 0:
        await retry_now(state, step, followup, entries)
        return True
    execution = state.execution
    due = utcnow() + datetime.timedelta(seconds=followup.delay)
    add_timer = getattr(state.store, "add_timer", None)
    if add_timer is None:
        await retry_now(state, step, followup, entries)
        await asyncio.sleep(followup.delay)
        return True
    failed = entries[-1].error if entries else None
    timer = Timer(kind=KIND, due_at=due, execution_id=execution.id, payload={"step_id": step.id})
    halt = {
        "type": "wait",
        "due_at": due.isoformat(),
        "timer_id": timer.id,
        "retry": {"step_id": step.id, "attempt": followup.attempt + 1, "error": failed},
    }
    execution.status = Status.HALTED
    execution.halt_data = halt
    execution.current_step = step.id
    execution.recover_to = step.id
    execution.ctx = state.ctx
    execution.updated_at = utcnow()
    async with state.store.unit():
        await add_timer(timer)
        await state.store.checkpoint(execution, entries)
    state.engine.logger.info("step %s attempt %d failed; retrying at %s", step.id, followup.attempt, halt["due_at"])
    await state.engine.notify("workflow.halted", {"execution_id": execution.id, "halt": halt})
    return False


async def wake(timer: Timer, firing: Firing) -> None:
    """The ``retry`` timer's handler: queue the execution's next attempt if it still waits for this timer.

    A compare-and-set on ``halted`` (the store's ``transition``) inside the firing's unit, so a cancel
    that came first wins and the timer does nothing; the engine then runs the step again from a queued
    resume (``RESUME_REQUEST``), on whichever worker the queue delivers it to.
    """
    store = firing.store
    execution = None if timer.execution_id is None else await store.load(timer.execution_id)
    if execution is None or execution.status != Status.HALTED:
        return
    halt = execution.halt_data or {}
    if halt.get("timer_id") != timer.id:
        return
    execution.current_step = execution.recover_to or execution.current_step
    execution.halt_data = None
    execution.recover_to = None
    execution.ctx[RESUME_REQUEST] = {"response": None, "approved": None}
    execution.status = Status.PENDING
    execution.updated_at = firing.now
    if await store.transition(execution, [Status.HALTED]):
        firing.deliver(execution.id)


timer_handlers.register(KIND, wake)
