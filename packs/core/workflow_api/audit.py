"""``GET /api/v1/workflows/audit``: the caller's workspace's audit log, newest first, by keyset
(docs/http-api.md, Audit log; :mod:`packs.core.audit`)."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Request, get
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from packs.core.audit import AuditCursor, audit_json, audit_page
from packs.core.items import MAX_PER_PAGE, decode_cursor, encode_cursor
from packs.core.tools.errors import ValidationError
from packs.core.workflow_api.controller import WorkflowApiController, errors, identify
from packs.core.workflow_api.payloads import query_number


class AuditMeta(msgspec.Struct):
    """``per_page`` and the next page's ``cursor`` (``null`` on the last page)."""

    per_page: int
    cursor: str | None


class AuditList(msgspec.Struct):
    """``{"data": [entries], "meta": {...}}``."""

    data: list[dict[str, Any]]
    meta: AuditMeta


def _target(raw: str | None) -> str | None:
    """The id an ``execution_id`` filter names, as the log writes ids (a UUID's canonical form); 422 otherwise."""
    if raw is None:
        return None
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        shown = raw if len(raw) <= 80 else raw[:80] + "..."
        raise ValidationError(
            "execution_id must be an execution id", {"execution_id": f"must be an execution id (a UUID), got {shown!r}"}
        ) from None


def _per_page(raw: str | None) -> int:
    if raw is None:
        return 50
    value = query_number(raw)
    if value is None or value < 1:
        raise ValidationError("per_page must be a positive integer", {"per_page": f"not a positive integer: {raw!r}"})
    return min(value, MAX_PER_PAGE)


class AuditController(WorkflowApiController):
    """``/api/v1/workflows/audit``."""

    @get("/audit", summary="The audit log", responses=errors(422), operation_id="workflows_audit_list")
    async def list_audit(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        cursor: str | None = Parameter(
            default=None, required=False, description="The meta.cursor of the page before (none: the newest)"
        ),
        per_page: str | None = Parameter(
            default=None, required=False, description="Entries per page (default 50, at most 100)"
        ),
        execution_id: str | None = Parameter(
            default=None,
            required=False,
            description="Only the entries of this execution (its id, a UUID; also a schedule's id)",
        ),
        action: str | None = Parameter(
            default=None, required=False, description="Only this action (start, cancel, retry, approve, ...)"
        ),
    ) -> AuditList:
        """Every action that changed an execution or a schedule in the workspace, newest first: who
        (`actor_id`), what (`action`, `target_type`, `target_id`, `details`), when (`created_at`) and from
        where (`source`: `api`, `console` or `cli`)."""
        identity = await identify(request, db_session)
        size = _per_page(per_page)
        target = _target(execution_id)
        after = None
        if cursor:
            decoded = decode_cursor(cursor)
            after = None if decoded is None else AuditCursor(decoded[0], decoded[1])
        try:
            entries = await audit_page(
                db_session, identity.workspace_id, limit=size + 1, after=after, target_id=target, action=action
            )
        finally:
            await db_session.close()
        shown = entries[:size]
        following = encode_cursor(shown[-1].created_at, shown[-1].id) if len(entries) > size else None
        return AuditList(data=[audit_json(entry) for entry in shown], meta=AuditMeta(per_page=size, cursor=following))


__all__ = ["AuditController"]
