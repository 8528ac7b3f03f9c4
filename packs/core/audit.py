"""The audit log: every action that changed an execution or a schedule, who took it, when and from where.

Call :func:`record_action` from anything that changes an execution or a schedule (an HTTP endpoint, a
console page, a CLI command) once the change is made, with the caller's session; it adds one row to the
session's transaction (the caller commits). :func:`audit_page` reads a workspace's log, newest first, by
keyset. ``GET /api/v1/workflows/audit`` and ``/console/audit`` show it (docs/http-api.md, Audit log).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from packs.core.models.console import AuditEntry

SOURCES = ("api", "console", "cli")
"""Where an action came from."""

ACTIONS = (
    "start",
    "approve",
    "reject",
    "decide",
    "resume",
    "cancel",
    "retry",
    "signal",
    "schedule_create",
    "schedule_update",
    "schedule_delete",
    "schedule_pause",
    "schedule_resume",
    "schedule_trigger",
)
"""The actions the core and the people-and-time endpoints record (others may record their own names)."""


@dataclass(frozen=True)
class AuditCursor:
    """Where the next page of the log starts: after the entry of this ``(created_at, id)``."""

    created_at: datetime.datetime
    id: UUID


def _uuid(value: UUID | str | None) -> UUID | None:
    return None if value is None else value if isinstance(value, UUID) else UUID(str(value))


async def record_action(
    session: AsyncSession,
    *,
    workspace_id: UUID | str,
    actor_id: UUID | str | None,
    action: str,
    target_id: str,
    source: str,
    target_type: str = "execution",
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add one audit entry to ``session`` (flushed, not committed): ``actor_id`` did ``action`` to the
    ``target_type`` ``target_id`` in ``workspace_id`` from ``source`` (one of :data:`SOURCES`)."""
    if source not in SOURCES:
        raise ValueError(f"audit source must be one of {', '.join(SOURCES)}, got {source!r}")
    workspace = _uuid(workspace_id)
    assert workspace is not None
    entry = AuditEntry(
        workspace_id=workspace,
        actor_id=_uuid(actor_id),
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        source=source,
        details=details,
        created_at=datetime.datetime.now(datetime.UTC),
    )
    session.add(entry)
    await session.flush()
    return entry


async def audit_page(
    session: AsyncSession,
    workspace_id: UUID | str,
    *,
    limit: int = 50,
    after: AuditCursor | None = None,
    target_id: str | None = None,
    action: str | None = None,
) -> list[AuditEntry]:
    """The workspace's audit entries, newest first: ``limit`` of them after ``after``, optionally only those of
    one target or one action."""
    statement = select(AuditEntry).where(AuditEntry.workspace_id == _uuid(workspace_id))
    if target_id is not None:
        statement = statement.where(AuditEntry.target_id == target_id)
    if action is not None:
        statement = statement.where(AuditEntry.action == action)
    if after is not None:
        columns = AuditEntry.__table__.c
        bound = tuple_(literal(after.created_at, columns.created_at.type), literal(after.id, columns.id.type))
        statement = statement.where(tuple_(AuditEntry.created_at, AuditEntry.id) < bound)
    statement = statement.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc()).limit(limit)
    return list((await session.execute(statement)).scalars())


def audit_json(entry: AuditEntry) -> dict[str, Any]:
    """An entry as the API answers it."""
    return {
        "id": str(entry.id),
        "workspace_id": str(entry.workspace_id),
        "actor_id": None if entry.actor_id is None else str(entry.actor_id),
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "source": entry.source,
        "details": entry.details,
        "created_at": entry.created_at.isoformat(),
    }


async def record_in_own_transaction(sessions: Callable[[], AsyncSession], **action: Any) -> None:
    """:func:`record_action` in a session of its own, committed (for callers without a unit of work, such as
    the CLI); ``action`` holds its keyword arguments."""
    async with sessions() as session:
        await record_action(session, **action)
        await session.commit()


__all__ = [
    "ACTIONS",
    "SOURCES",
    "AuditCursor",
    "audit_json",
    "audit_page",
    "record_action",
    "record_in_own_transaction",
]
