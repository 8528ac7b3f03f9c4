"""The ``wait`` step and the ``wait`` timer that wakes it (docs/workflow-language.md, step type ``wait``).

``seconds: N`` (a number or a reference to one) or ``until: <ISO 8601 with offset>`` (or a reference
to one). The step adds a durable timer in its own unit (it commits with the halt's checkpoint) and
halts with ``halt_data = {type: "wait", due_at, timer_id}``; no process holds the wait. When the timers
fire, their handler turns the executions still halted at them into queued ones at the wait step (one
compare-and-set on ``halted`` for a sweep's batch) and asks for their delivery; the wait step sees its
due time passed, completes with ``{"due_at", "woke_at"}`` and goes to ``next``. A due time already
past does not halt.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from packs.core.workflow.errors import StepError, StepValueError
from packs.core.workflow.model import Status, utcnow
from packs.core.workflow.steps.base import Outcome, StepExecutor
from packs.core.workflow.steps.configs import WaitConfig
from packs.core.workflow.timers import Firing, Timer, timer_handlers

if TYPE_CHECKING:
    from packs.core.workflow.state import RunState

KIND = "wait"
"""The timer kind of a ``wait`` step."""

WAITS = "_waits"
"""Context key: the due time of each wait step the execution halted at (by step id), until it wakes."""

MAX_WAIT_SECONDS = 100 * 366 * 86400
"""The longest ``seconds`` a wait takes: a century (a longer one would overflow the due time)."""

RESUME_REQUEST = "_resume"
"""The engine's context key of a queued resume (``packs.core.workflow.engine.RESUME_REQUEST``)."""


def parse_until(value: Any, where: str) -> datetime.datetime:
    """An aware datetime from an ISO 8601 text with an offset; :class:`StepError` naming ``where`` otherwise."""
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.datetime.fromisoformat(value)
        except ValueError:
            raise StepValueError(f"{where}: {value!r} is not an ISO 8601 timestamp") from None
    else:
        raise StepValueError(f"{where}: expected an ISO 8601 timestamp with an offset, got {value!r}")
    if moment.tzinfo is None:
        raise StepValueError(f"{where}: {value!r} has no UTC offset (write e.g. 2026-12-01T09:00:00+01:00 or ...Z)")
    try:
        return moment.astimezone(datetime.UTC)
    except OverflowError:  # 0001-01-01T00:00:00+05:00: before the first UTC timestamp
        raise StepValueError(f"{where}: {value!r} is outside the years 1 to 9999 in UTC") from None


def wait_seconds(value: Any, where: str) -> float:
    """A number of seconds (not negative); :class:`StepError` naming ``where`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise StepValueError(f"{where}: expected a number of seconds (0 or more), got {value!r}")
    if not value <= MAX_WAIT_SECONDS:  # NaN too
        raise StepValueError(f"{where}: at most {MAX_WAIT_SECONDS} seconds (a century), got {value!r}")
    return float(value)


def waiting_until(halt: dict[str, Any] | None) -> str | None:
    """The due time of the wait a halt stands for (``halt_data.type == "wait"``), or ``None``."""
    if isinstance(halt, dict) and halt.get("type") == KIND and isinstance(halt.get("due_at"), str):
        return str(halt["due_at"])
    return None


class WaitStep(StepExecutor):
    """Halts until a durable timer fires at the due time, then goes on to ``next``."""

    type_name = "wait"

    def is_instant(self, state: RunState) -> bool:
        """Instant unless resumed by hand (it then cancels its timer): its time has come, it halts, or it
        adds its timer in the halt's own commit."""
        return not state.resumed

    async def call(self, state: RunState) -> Outcome:
        waits: dict[str, str] = state.ctx.get(WAITS, {})
        due = waits.get(self.step.id)
        if due is not None and (state.resumed or utcnow() >= datetime.datetime.fromisoformat(due)):
            self._forget(state)
            cancel_timers = getattr(state.engine.store, "cancel_timers", None)
            if state.resumed and cancel_timers is not None:  # resumed past its due time, maybe before the timer fired
                await cancel_timers(state.execution.id, kind=KIND)
            # Else its timer fired (it queued the execution): nothing to cancel, and the step's unit stays empty.
            return self.continue_(output={"due_at": due, "woke_at": utcnow().isoformat()})
        due_at = self._due_at(state)
        now = utcnow()
        if due_at <= now:
            self._forget(state)
            return self.continue_(output={"due_at": due_at.isoformat(), "woke_at": now.isoformat()})
        add_timer = getattr(state.engine.store, "add_timer", None)
        if add_timer is None:
            raise StepError(f"step {self.step.id!r}: the store keeps no timers, so it cannot wait")
        timer = Timer(kind=KIND, due_at=due_at, execution_id=state.execution.id, payload={"step_id": self.step.id})
        await add_timer(timer)
        state.ctx.setdefault(WAITS, {})[self.step.id] = due_at.isoformat()
        return self.halt({"type": KIND, "due_at": due_at.isoformat(), "timer_id": timer.id}, resume_step=self.step.id)

    def _due_at(self, state: RunState) -> datetime.datetime:
        settings: WaitConfig = self.settings
        where = f"step {self.step.id!r}"
        if settings.until is not None:
            return parse_until(self.resolve(state, settings.until), f"{where} field 'until'")
        seconds = wait_seconds(self.resolve(state, settings.seconds), f"{where} field 'seconds'")
        return utcnow() + datetime.timedelta(seconds=seconds)

    def _forget(self, state: RunState) -> None:
        waits = state.ctx.get(WAITS)
        if isinstance(waits, dict):
            waits.pop(self.step.id, None)
            if not waits:
                state.ctx.pop(WAITS, None)
            else:
                state.ctx.touch(WAITS)  # changed in place


async def wake(timers: list[Timer], firing: Firing) -> None:
    """The ``wait`` timers' handler: queue each execution that still halts at its timer, all in one statement
    (``wake_waiting``) when the store can; the wait step then sees its due time passed and goes on. When the
    firing claims for a worker (``firing.claim_for``), the same statement takes their leases for it
    (``wake_and_claim_waiting``), so the worker runs them without a claim each."""
    waits = [(timer.execution_id, timer.id) for timer in timers if timer.execution_id is not None]
    wake_and_claim = getattr(firing.store, "wake_and_claim_waiting", None)
    if firing.claim_for is not None and wake_and_claim is not None:
        owner, lease_seconds = firing.claim_for
        for execution in await wake_and_claim(waits, firing.now, owner, lease_seconds):
            firing.deliver(execution.id, claimed=execution)
        return
    wake_waiting = getattr(firing.store, "wake_waiting", None)
    if wake_waiting is not None:
        for execution_id in await wake_waiting(waits, firing.now):
            firing.deliver(execution_id)
        return
    for execution_id, timer_id in waits:
        await resume_halted(firing, execution_id, lambda halt, timer_id=timer_id: halt.get("timer_id") == timer_id)


async def resume_halted(firing: Firing, execution_id: str, matches: Any, approved: bool | None = None) -> bool:
    """Turn the halted execution into a queued resume when ``matches(halt_data)``; whether it did.

    A compare-and-set on ``halted`` (the store's ``transition``) inside the firing's unit: a resume or
    cancel that came first wins, and the timer does nothing.
    """
    store = firing.store
    execution = await store.load(execution_id)
    if execution is None or execution.status != Status.HALTED or not matches(execution.halt_data or {}):
        return False
    execution.current_step = execution.recover_to or execution.current_step
    execution.halt_data = None
    execution.recover_to = None
    execution.ctx[RESUME_REQUEST] = {"response": None, "approved": approved}
    execution.status = Status.PENDING
    execution.updated_at = firing.now
    if not await store.transition(execution, [Status.HALTED]):
        return False
    firing.deliver(execution.id)
    return True


timer_handlers.register_batch(KIND, wake)
