"""The ``receive`` step and the ``signal_timeout`` timer (docs/workflow-language.md, step type ``receive``).

``signal: NAME`` (required), ``output`` (the context key of the payload), optional ``timeout``
(seconds) and ``on_timeout`` (a step id). The step consumes the oldest unread signal of its name,
whether it arrived before or after the step was reached, and goes to ``next`` with the payload as
its output. With none there yet it halts with ``halt_data = {type: "signal", signal, due_at}``
(``due_at`` is ``null`` without a timeout) and a ``signal_timeout`` timer at the due time; a
signal arriving wakes it through the queue (:func:`packs.core.workflow.signals.send_signal`), the
timer at the due time. Past the due time the step times out: ``on_timeout`` with the output
``{timed_out: true, signal, due_at}``, or the execution fails.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from packs.core.workflow.errors import StepError
from packs.core.workflow.model import Status, utcnow
from packs.core.workflow.signals import HALT_TYPE, RESUME_REQUEST
from packs.core.workflow.steps.base import Outcome, StepExecutor
from packs.core.workflow.steps.configs import Config, Positive
from packs.core.workflow.timers import Firing, Timer, timer_handlers

if TYPE_CHECKING:
    from packs.core.workflow.state import RunState

KIND = "signal_timeout"
"""The timer kind of a ``receive`` step's timeout."""

RECEIVING = "_receiving"
"""Context key: for each ``receive`` step the execution halted at (by step id), its due time (or ``None``)."""


class ReceiveConfig(Config):
    signal: str
    output: str | None = None
    timeout: Positive | None = None
    on_timeout: str | None = None


class ReceiveStep(StepExecutor):
    """Consumes the oldest unread signal of its name, or halts until one arrives (or the timeout)."""

    type_name = "receive"

    async def call(self, state: RunState) -> Outcome:
        settings: ReceiveConfig = self.settings
        store: Any = state.engine.store  # a SignalStore (and a TimerStore for a timeout), checked below
        if getattr(store, "take_signal", None) is None:
            raise StepError(f"step {self.step.id!r}: the store keeps no signals, so it cannot receive")
        if settings.timeout is not None and getattr(store, "add_timer", None) is None:
            raise StepError(f"step {self.step.id!r}: the store keeps no timers, so it cannot time out")
        execution_id = state.execution.id
        receiving: dict[str, Any] = state.ctx.get(RECEIVING, {})
        waited = self.step.id in receiving
        due = receiving.get(self.step.id)
        if waited and isinstance(due, str) and utcnow() >= datetime.datetime.fromisoformat(due):
            self._forget(state)
            output = {"timed_out": True, "signal": settings.signal, "due_at": due}
            if settings.on_timeout:
                self.set_variable(state, settings.output, output)  # as an approval's timeout does
                return self.continue_(output=output, next_step=settings.on_timeout)
            raise StepError(f"step {self.step.id!r}: no signal {settings.signal!r} within {settings.timeout:g}s")
        await store.lock_execution(execution_id)
        signal = await store.take_signal(execution_id, settings.signal, self.step.id)
        if signal is not None:
            if waited and isinstance(due, str):  # it halted with a timeout: that timer has nothing left to do
                await store.cancel_timers(execution_id, kind=KIND)
            self._forget(state)
            self.set_variable(state, settings.output, signal.payload)
            return self.continue_(output=signal.payload)
        if not waited:
            due = None
            if settings.timeout is not None:
                moment = utcnow() + datetime.timedelta(seconds=settings.timeout)
                due = moment.isoformat()
                await store.add_timer(
                    Timer(kind=KIND, due_at=moment, execution_id=execution_id, payload={"step_id": self.step.id})
                )
            state.ctx[RECEIVING] = {**receiving, self.step.id: due}
        return self.halt({"type": HALT_TYPE, "signal": settings.signal, "due_at": due}, resume_step=self.step.id)

    def _forget(self, state: RunState) -> None:
        receiving = state.ctx.get(RECEIVING)
        if isinstance(receiving, dict):
            receiving = dict(receiving)
            receiving.pop(self.step.id, None)
            if receiving:
                state.ctx[RECEIVING] = receiving
            else:
                state.ctx.pop(RECEIVING, None)


async def time_out(timer: Timer, firing: Firing) -> None:
    """The ``signal_timeout`` handler: queue the run of the ``receive`` step still waiting at its due time."""
    store = firing.store
    execution = None if timer.execution_id is None else await store.load(timer.execution_id)
    if execution is None or execution.status != Status.HALTED:
        return
    halt = execution.halt_data or {}
    if halt.get("type") != HALT_TYPE or execution.recover_to != timer.payload.get("step_id"):
        return
    if halt.get("due_at") != timer.due_at.isoformat():
        return  # the timer of an earlier wait at this step, which a signal ended
    execution.current_step = execution.recover_to
    execution.halt_data = None
    execution.recover_to = None
    execution.ctx[RESUME_REQUEST] = {"response": None, "approved": None}
    execution.status = Status.PENDING
    execution.updated_at = firing.now
    if await store.transition(execution, [Status.HALTED]):
        firing.deliver(execution.id)


timer_handlers.register(KIND, time_out)
