"""Events rebuilt from what the store keeps (entries and status), for watchers in any process.

The engine's listeners see events of the runs in their own process only. A watcher of an
execution run by a worker elsewhere reads its entries instead: :class:`EventReplay` turns the
entries it has not seen yet, and the execution's status, into the events of docs/workflow-language.md,
section 6, in order, each at the time its entry records. A halt that was over before the watcher saw the
execution halted (the replay of a finished execution, or a resume between two polls) is announced from
its ``halted`` entry, before the ``workflow.resumed`` (or the end) that followed it.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from packs.core.workflow.events import Event
from packs.core.workflow.model import Action, Entry, Execution, Status

STEP_EVENTS = {
    Action.STARTED: "step.started",
    Action.COMPLETED: "step.completed",
    Action.FAILED: "step.failed",
    Action.HALTED: "step.halted",
}


class EventReplay:
    """Remembers what it has emitted; :meth:`advance` gives the events since the last call."""

    def __init__(self, execution_id: str) -> None:
        self.execution_id = execution_id
        self.seen: set[str] = set()
        self.started = False
        self.halt_announced = False
        self.halt_entry: Entry | None = None
        """The top-level ``halted`` entry of the halt under way, ``None`` while there is none (it announces the halt
        when its status was missed)."""
        self.ended = False

    def advance(self, execution: Execution, entries: Iterable[Entry]) -> list[Event]:
        """The events that ``entries`` (all of them, oldest first) and the status add to those already given."""
        events: list[Event] = []
        entries = list(entries)
        # Entries are read after the status: an entry written in between means the run has started even
        # when the status read says ``pending`` (as it does again while a resume or retry waits in the queue).
        if not self.started and (execution.status != Status.PENDING or entries):
            self.started = True
            # At its first entry's time, not at the execution's last change.
            at = entries[0].timestamp if entries else execution.updated_at
            events.append(self._workflow("workflow.started", {"workflow_id": execution.workflow_id}, at))
        for entry in entries:
            if entry.id in self.seen:
                continue
            self.seen.add(entry.id)
            if self.halt_entry is not None and entry.action == Action.STARTED:
                events.extend(self._missed_halt())
                self.halt_entry = None
                self.halt_announced = False
                events.append(self._workflow("workflow.resumed", {"step_id": entry.step_id}, entry.timestamp))
            events.append(Event(STEP_EVENTS[Action(entry.action)], _step_data(entry), entry.timestamp.isoformat()))
            if entry.action == Action.HALTED and ":" not in entry.step_id:
                self.halt_entry = entry
        events.extend(self._status_events(execution))
        return events

    def _missed_halt(self) -> list[Event]:
        """``workflow.halted`` from the halted entry, when the halt is over and was not announced yet."""
        if self.halt_announced or self.halt_entry is None:
            return []
        self.halt_announced = True
        return [self._workflow("workflow.halted", {"halt": self.halt_entry.output}, self.halt_entry.timestamp)]

    def _status_events(self, execution: Execution) -> list[Event]:
        if self.ended:
            return []
        status = execution.status
        # The halted entry may have been read one call before the ``halted`` status (entries are read
        # after it): announce the halt once both are known, whichever call that is.
        if status == Status.HALTED and self.halt_entry is not None and not self.halt_announced:
            self.halt_announced = True
            return [self._workflow("workflow.halted", {"halt": execution.halt_data}, execution.updated_at)]
        final = {
            Status.COMPLETED: ("workflow.completed", {"output": execution.result}),
            Status.FAILED: ("workflow.failed", {"error": execution.error}),
            Status.CANCELLED: ("workflow.cancelled", {"error": execution.error}),
        }
        if status in final:
            self.ended = True
            kind, data = final[Status(status)]
            missed = self._missed_halt()  # cancelled while halted (nothing once the halt is over)
            return [*missed, self._workflow(kind, data, execution.updated_at)]
        return []

    def _workflow(self, kind: str, data: dict[str, Any], at: datetime.datetime) -> Event:
        return Event(kind, {"execution_id": self.execution_id, **data}, at.isoformat())


def _step_data(entry: Entry) -> dict[str, Any]:
    data: dict[str, Any] = {"step_id": entry.step_id, "step_type": entry.step_type}
    if entry.action == Action.COMPLETED:
        data["output"] = entry.output
    elif entry.action == Action.FAILED:
        data["error"] = entry.error
    elif entry.action == Action.HALTED:
        data["data"] = entry.output
    if entry.duration_ms is not None:
        data["duration_ms"] = entry.duration_ms
    return data
