"""Approval deadlines that fire on their own: the ``approval_deadline`` timer (docs/workflow-language.md, ``approval``).

An ``approval`` step with a ``timeout`` adds this timer in the unit of its halt, due at
``requested_at + timeout``. When it fires and the execution still halts at that approval (the same
``halt_id``), the handler queues its resume with no decision: the approval step then sees the
deadline passed and goes to ``on_timeout`` (or fails "approval timed out after Ns"). An approval
settled before its deadline cancels the timer.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from packs.core.workflow.steps.wait import resume_halted
from packs.core.workflow.timers import Firing, Timer, timer_handlers

if TYPE_CHECKING:
    from packs.core.workflow.state import RunState

KIND = "approval_deadline"
"""The timer kind of an approval's deadline."""


async def schedule_deadline(state: RunState, step_id: str, halt: str, requested_at: str, seconds: float) -> None:
    """Add the deadline timer of the approval ``step_id`` halting as ``halt`` (in the step's unit)."""
    add_timer = getattr(state.engine.store, "add_timer", None)
    if add_timer is None:
        return  # a store without timers: the deadline is looked at when the execution is resumed
    due_at = datetime.datetime.fromisoformat(requested_at) + datetime.timedelta(seconds=seconds)
    payload = {"step_id": step_id, "halt_id": halt}
    await add_timer(Timer(kind=KIND, due_at=due_at, execution_id=state.execution.id, payload=payload))


async def cancel_deadline(state: RunState) -> None:
    """Drop the execution's unfired approval deadlines (the approval it waited for is being settled)."""
    cancel_timers = getattr(state.engine.store, "cancel_timers", None)
    if cancel_timers is not None:
        await cancel_timers(state.execution.id, kind=KIND)


async def expire(timer: Timer, firing: Firing) -> None:
    """The deadline's handler: resume the execution, undecided, if it still halts at that approval."""
    if timer.execution_id is None:
        return
    halt = timer.payload.get("halt_id")
    await resume_halted(
        firing, timer.execution_id, lambda data: data.get("type") == "approval" and data.get("halt_id") == halt
    )


timer_handlers.register(KIND, expire)
