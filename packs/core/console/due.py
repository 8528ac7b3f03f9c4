"""When an execution moves next without anyone acting: the due times of its waits, retries, approval deadlines
and signal timeouts, as the execution's page shows them (README, "The operations console").

They come from its durable timers that have not fired yet (what ``GET /api/v1/workflows/executions/{id}`` lists
as ``timers``) and, for a store without timers or a halt recorded without one, from its halt data's ``due_at``
(an approval's ``requested_at + timeout``).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from packs.core.workflow import Execution, Status
from packs.core.workflow.resume_input import waiting_approval
from packs.core.workflow_api.approvals import due_at as approval_due_at

WHAT = {
    "wait": "Wait ends",
    "retry": "Next retry",
    "approval_deadline": "Approval deadline",
    "signal_timeout": "Signal timeout",
}
"""A timer's kind in words."""


@dataclass(frozen=True)
class DueTime:
    """One moment the execution moves next: what happens, at which step, when."""

    what: str
    step_id: str | None
    due_at: datetime.datetime


def _moment(value: Any) -> datetime.datetime | None:
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.UTC)


def _halt_due(execution: Execution) -> DueTime | None:
    """The due time the halt data holds (a wait's, a retry's, a signal's timeout, an approval's deadline)."""
    halt = execution.halt_data if execution.status == Status.HALTED else None
    if not isinstance(halt, dict):
        return None
    step = execution.current_step
    approval = waiting_approval(halt)
    if approval is not None:
        moment = _moment(approval.get("due_at") or approval_due_at(approval))
        return None if moment is None else DueTime(WHAT["approval_deadline"], approval.get("step_id") or step, moment)
    moment = _moment(halt.get("due_at"))
    if moment is None:
        return None
    retry = halt.get("retry")
    if isinstance(retry, dict):
        return DueTime(WHAT["retry"], retry.get("step_id") or step, moment)
    kind = {"wait": "wait", "signal": "signal_timeout"}.get(str(halt.get("type")))
    return DueTime(WHAT[kind] if kind else "Due", step, moment)


def due_times(execution: Execution, timers: list[dict[str, Any]]) -> list[DueTime]:
    """The execution's due times, earliest first: each unfired timer (``{kind, due_at, payload}``), and the halt
    data's due time when no timer is due then."""
    found: list[DueTime] = []
    for timer in timers:
        moment = _moment(timer.get("due_at"))
        if moment is None:
            continue
        kind = str(timer.get("kind"))
        payload = timer.get("payload")
        step = payload.get("step_id") if isinstance(payload, dict) else None
        found.append(DueTime(WHAT.get(kind, kind), step, moment))
    halt = _halt_due(execution)
    if halt is not None and all(item.due_at != halt.due_at for item in found):
        found.append(halt)
    found.sort(key=lambda item: item.due_at)
    return found


__all__ = ["WHAT", "DueTime", "due_times"]
