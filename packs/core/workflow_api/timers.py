"""An execution's durable timers as the API shows them (docs/http-api.md, Workflow executions).

``GET /api/v1/workflows/executions/{id}`` lists the timers that have not fired yet (a ``wait``'s wake-up,
an approval's deadline, a ``receive`` timeout, a retry's next attempt), earliest first, so that a page
can show when the execution moves next.
"""

from __future__ import annotations

from typing import Any


async def pending_timers(store: Any, execution_id: str) -> list[dict[str, Any]]:
    """``[{"id", "kind", "due_at", "payload"}]`` of the execution's unfired timers (none for a store without timers)."""
    timers_of = getattr(store, "timers_of", None)
    if timers_of is None:
        return []
    return [
        {"id": timer.id, "kind": timer.kind, "due_at": timer.due_at.isoformat(), "payload": timer.payload}
        for timer in await timers_of(execution_id)
    ]
