"""What the signed-in user may decide now: the approvals inbox of :class:`ApprovalDesk`, as the console asks it
(the user's email and role come with the session), and its count, shown on every page."""

from __future__ import annotations

from typing import Any

from packs.core.console.forms import schema_fields
from packs.core.console.sessions import ConsoleUser
from packs.core.workflow_api.approvals import ApprovalDesk, Decider
from packs.core.workflow_api.service import WorkflowService

PENDING_CAP = 99
"""The pending approvals' count shows up to this many, then ``99+`` (it reads at most that many candidates)."""


def decider_for(user: ConsoleUser) -> Decider:
    """The signed-in user as a decider: their email and their role in the workspace they act in."""
    return Decider(str(user.user_id), user.email, user.workspace.role)


async def inbox_items(service: WorkflowService, user: ConsoleUser) -> list[dict[str, Any]]:
    """The approvals the user may decide now, oldest first, each with its form's fields."""
    items = await ApprovalDesk(service).inbox(str(user.workspace_id), decider_for(user))
    for item in items:
        item["fields"] = schema_fields(item.get("form"))
    return items


async def pending_count(service: WorkflowService, user: ConsoleUser) -> str:
    """How many approvals the user may decide now, as every page shows it: up to :data:`PENDING_CAP`, then
    ``99+``."""
    found = await ApprovalDesk(service).pending_count(str(user.workspace_id), decider_for(user), cap=PENDING_CAP + 1)
    return f"{PENDING_CAP}+" if found > PENDING_CAP else str(found)


__all__ = ["decider_for", "inbox_items", "pending_count"]
