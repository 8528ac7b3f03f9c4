"""Services the contacts_service pack registers for workflows."""

from __future__ import annotations

from typing import Any

from packs.contacts_service.tools import Create
from packs.core.db import current_session
from packs.core.tools import Tool, ValidationError

CREATE: type[Tool] = Create
"""Typed as the base so that the class-level ``execute`` (the tool entry point) type-checks."""


async def import_one(*, user_id: str, workspace_id: str, contact: Any) -> dict[str, Any]:
    """Create one contact; a contact that fails validation is reported, not raised.

    Answers ``{"created": true, "id": ...}`` or ``{"created": false, "error": ..., "details": {...}}``.
    The attempt runs in a savepoint, so a failed one leaves nothing behind.
    """
    try:
        async with current_session().begin_nested():
            created = await CREATE.execute(user_id=user_id, workspace_id=workspace_id, contact=contact)
    except ValidationError as error:
        return {"created": False, "error": error.message, "details": error.details, "contact": contact}
    return {"created": True, "id": created["data"]["id"]}
