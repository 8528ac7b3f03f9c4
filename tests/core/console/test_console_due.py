"""The due times the execution page shows, from its halt data when no timer holds them (a store without timers,
a halt recorded before its timer)."""

from __future__ import annotations

import datetime

from packs.core.console.due import DueTime, due_times
from packs.core.workflow import Execution

AT = datetime.datetime(2026, 1, 1, 12, tzinfo=datetime.UTC)


def halted(halt: dict[str, object]) -> Execution:
    return Execution(id="e", workflow_id="w", status="halted", current_step="s", halt_data=halt)


def test_an_approvals_deadline_is_requested_at_plus_timeout() -> None:
    execution = halted({"type": "approval", "step_id": "ok", "requested_at": AT.isoformat(), "timeout": 60})
    assert due_times(execution, []) == [DueTime("Approval deadline", "ok", AT + datetime.timedelta(seconds=60))]


def test_a_retry_a_wait_and_a_signal_from_their_halts_and_a_timer_due_then_is_shown_once() -> None:
    retry = halted({"type": "wait", "due_at": AT.isoformat(), "retry": {"step_id": "call"}})
    assert due_times(retry, []) == [DueTime("Next retry", "call", AT)]
    signal = halted({"type": "signal", "signal": "paid", "due_at": None})
    assert due_times(signal, []) == []
    wait = halted({"type": "wait", "due_at": AT.isoformat()})
    timer = {"kind": "wait", "due_at": AT.isoformat(), "payload": {"step_id": "s"}}
    later = {"kind": "approval_deadline", "due_at": (AT + datetime.timedelta(hours=1)).isoformat(), "payload": {}}
    assert due_times(wait, [later, timer]) == [
        DueTime("Wait ends", "s", AT),
        DueTime("Approval deadline", None, AT + datetime.timedelta(hours=1)),
    ]
    done = Execution(id="e", workflow_id="w", status="completed", halt_data={"type": "wait", "due_at": AT.isoformat()})
    assert due_times(done, []) == []
