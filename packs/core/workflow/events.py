"""Stream events (docs/workflow-language.md, section 6): ``workflow.*`` and ``step.*``, with JSON and SSE renderings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from packs.core.workflow.model import utcnow

EVENT_TYPES = (
    "workflow.started",
    "workflow.resumed",
    "workflow.completed",
    "workflow.halted",
    "workflow.failed",
    "workflow.cancelled",
    "step.started",
    "step.completed",
    "step.failed",
    "step.halted",
)


@dataclass(frozen=True)
class Event:
    """Something that happened in an execution."""

    type: str
    data: dict[str, Any]
    timestamp: str = field(default_factory=lambda: utcnow().isoformat())

    def to_dict(self) -> dict[str, Any]:
        """``{type, data, timestamp}``."""
        return {"type": self.type, "data": self.data, "timestamp": self.timestamp}

    def to_json(self) -> str:
        """The event as a JSON document."""
        return msgspec.json.encode(self.to_dict()).decode()

    def to_sse(self, event_id: int | None = None) -> str:
        """The event as one server-sent event: ``event: <type>`` and ``data: <json>`` (after ``id: <event_id>``
        when given: what a client that reconnects sends back as ``Last-Event-ID``)."""
        head = "" if event_id is None else f"id: {event_id}\n"
        return f"{head}event: {self.type}\ndata: {self.to_json()}\n\n"
