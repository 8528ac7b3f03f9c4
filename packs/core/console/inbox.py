"""What the signed-in user may decide now: the approvals inbox of :class:`ApprovalDesk`, as the console asks it
(the user's email and role come with the session), and its count, shown on every page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from packs.core.console.forms import schema_fields
from packs.core.console.sessions import ConsoleUser
from packs.core.items import DEFAULT_PER_PAGE, decode_cursor, encode_cursor
from packs.core.workflow_api.approvals import ApprovalDesk, Decider
from packs.core.workflow_api.service import WorkflowService

PER_PAGE = DEFAULT_PER_PAGE
"""Approvals per page of the console's inbox (as the API's default page)."""
PENDING_CAP = 99
"""The pending approvals' count shows up to this many, then ``99+`` (it reads at most that many candidates)."""


def decider_for(user: ConsoleUser) -> Decider:
    """The signed-in user as a decider: their email and their role in the workspace they act in."""
    return Decider(str(user.user_id), user.email, user.workspace.role)


@dataclass(frozen=True)
class InboxShown:
    """A page of the console's inbox: its approvals (each with its form's fields) and the next page's cursor
    (``None`` on the last page)."""

    items: list[dict[str, Any]]
    next_cursor: str | None


async def inbox_items(service: WorkflowService, user: ConsoleUser, cursor: str | None = None) -> InboxShown:
    """A page of :data:`PER_PAGE` approvals the user may decide now, oldest first, each with its form's fields,
    after ``cursor`` (a page's ``next_cursor``; none or empty: the first page; anything else is a
    :class:`~packs.core.tools.errors.ValidationError`)."""
    decoded = decode_cursor(cursor or "")
    after = None if decoded is None else (decoded[0], str(decoded[1]))
    found = await ApprovalDesk(service).inbox_page(
        str(user.workspace_id), decider_for(user), per_page=PER_PAGE, after=after
    )
    for item in found.items:
        item["fields"] = schema_fields(item.get("form"))
    following = None if found.following is None else encode_cursor(*found.following)
    return InboxShown(found.items, following)


async def pending_count(service: WorkflowService, user: ConsoleUser) -> str:
    """How many approvals the user may decide now, as every page shows it: up to :data:`PENDING_CAP`, then
    ``99+``."""
    found = await ApprovalDesk(service).pending_count(str(user.workspace_id), decider_for(user), cap=PENDING_CAP + 1)
    return f"{PENDING_CAP}+" if found > PENDING_CAP else str(found)


__all__ = ["PER_PAGE", "InboxShown", "decider_for", "inbox_items", "pending_count"]
