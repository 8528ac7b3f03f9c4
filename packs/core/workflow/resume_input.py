"""What a resume must bring: checked against the halt before anything is written (``docs/workflow-language.md``,
step types ``approval`` and ``workflow``).

A halted ``approval`` (or a ``workflow`` step whose child, at any depth, halted on one) moves only with
a decision, ``approved`` true or false, unless its ``timeout`` has passed (resuming it then takes
``on_timeout``). A ``halt`` takes any response. A resume that does not fit raises
:class:`ResumeInputError` and leaves the execution halted as it was.
"""

from __future__ import annotations

import datetime
from typing import Any

from packs.core.workflow.errors import ExecutionStateError, ResumeInputError, StepError
from packs.core.workflow.halts import innermost
from packs.core.workflow.model import Execution, utcnow
from packs.core.workflow.signals import waiting_for_signal
from packs.core.workflow.state import to_json_value
from packs.core.workflow.steps.wait import waiting_until


def waiting_approval(halt: dict[str, Any] | None) -> dict[str, Any] | None:
    """The halt data of the approval a halt waits for (through sub-workflows), or ``None``."""
    while isinstance(halt, dict):
        if halt.get("type") == "approval":
            return halt
        if halt.get("type") != "workflow":
            return None
        halt = halt.get("child")
    return None


def timed_out(approval: dict[str, Any], now: datetime.datetime | None = None) -> bool:
    """Whether the approval's ``timeout`` has passed since it was requested."""
    timeout, requested = approval.get("timeout"), approval.get("requested_at")
    if not isinstance(timeout, int | float) or not isinstance(requested, str):
        return False
    try:
        requested_at = datetime.datetime.fromisoformat(requested)
    except ValueError:
        return False
    return ((now or utcnow()) - requested_at).total_seconds() >= timeout


def check_resume(execution: Execution, response: Any, approved: Any) -> None:
    """:class:`ResumeInputError` unless ``response`` / ``approved`` fit what halted ``execution`` waits for."""
    halt, child = innermost(execution.halt_data)  # what a sub-workflow's child waits for, the parent waits for
    of_child = "" if child is None else f" (its sub-workflow execution {child})"
    due = waiting_until(halt)
    if due is not None and utcnow() < datetime.datetime.fromisoformat(due):
        raise ExecutionStateError(
            f"execution {execution.id}{of_child} is waiting until {due}; its timer resumes it then "
            "(cancel it to stop it)"
        )
    signal = waiting_for_signal(halt)
    if signal is not None:
        raise ExecutionStateError(
            f"execution {execution.id}{of_child} is waiting for the signal {signal!r}; send it "
            f"(POST /api/v1/workflows/executions/{execution.id}/signals/{signal}) to go on, or cancel it"
        )
    details: dict[str, str] = {}
    if approved is not None and not isinstance(approved, bool):
        details["approved"] = f"must be true or false, got {approved!r}"
    approval = waiting_approval(execution.halt_data)
    if approval is not None and approved is None and not timed_out(approval):
        details["approved"] = "is required: this execution waits for an approval (true approves, false rejects)"
    try:
        to_json_value(response, "the response")
    except StepError as error:
        details["response"] = str(error)
    if details:
        reason = "; ".join(f"{name} {problem}" for name, problem in details.items())
        raise ResumeInputError(f"cannot resume execution {execution.id}: {reason}", details)
