"""Counts of executions by status in one ``GROUP BY`` (the console's counts): the list's filters, and a time range
on ``created_at``, so that the index by workspace, status and creation time answers it (migration 0010)."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from sqlalchemy import ColumnElement, Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from packs.core.workflow.model import Status
from packs.core.workflow.stores.protocol import ExecutionFilter
from packs.core.workflow.stores.sql.inbox import may_decide_conditions


def filter_conditions(
    table: Table, where: ExecutionFilter, dialect: str | None = None, decisions: Table | None = None
) -> list[ColumnElement[bool]]:
    """The conditions selecting the executions ``where`` describes (as the store's ``page`` applies them);
    ``where.may_decide`` only with the ``dialect`` (and the decisions table, for the decisions already made)."""
    conditions: list[ColumnElement[bool]] = []
    if where.workflow_id is not None:
        conditions.append(table.c.workflow_id == where.workflow_id)
    if where.status is not None:
        conditions.append(table.c.status == str(where.status))
    if where.workspace_id is not None:
        conditions.append(table.c.workspace_id == _uuid(where.workspace_id))
    if where.schedule_id is not None:
        conditions.append(table.c.schedule_id == _uuid(where.schedule_id))
    kinds = where.waiting_kinds()
    if kinds is not None:
        conditions.append(table.c.status == str(Status.HALTED))
        kind = table.c.halt_data["type"].as_string()
        conditions.append(kind == kinds[0] if len(kinds) == 1 else kind.in_(kinds))
    if where.may_decide is not None and dialect is not None:
        conditions.extend(may_decide_conditions(table, decisions, dialect, where.may_decide))
    return conditions


def _uuid(value: object) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:  # no row has a key that is not a UUID: compare with one that matches nothing
        return uuid.UUID(int=0)


async def count_by_status(
    session: AsyncSession | AsyncConnection,
    table: Table,
    where: ExecutionFilter,
    *,
    created_after: datetime.datetime | None = None,
    created_before: datetime.datetime | None = None,
    cap: int | None = None,
) -> dict[str, int]:
    """How many executions matching ``where`` (created at or after ``created_after``, before ``created_before``)
    have each status, in one query; a status none has is absent.

    With ``cap``, each status is counted up to ``cap + 1`` (more than ``cap`` answers ``cap + 1``): one limited
    subquery per status, each an index range of the workspace's executions of that status, so that the counts
    cost the same at a million executions as at ten thousand (a ``GROUP BY`` reads every matching row)."""
    conditions: list[Any] = filter_conditions(table, where)
    if created_after is not None:
        conditions.append(table.c.created_at >= created_after)
    if created_before is not None:
        conditions.append(table.c.created_at < created_before)
    if cap is None:
        statement = select(table.c.status, func.count()).where(*conditions).group_by(table.c.status)
        rows = (await session.execute(statement)).all()
        return {str(status): int(number) for status, number in rows}
    statuses = [str(status) for status in Status]
    counted = [
        select(func.count())
        .select_from(select(table.c.id).where(*conditions, table.c.status == status).limit(cap + 1).subquery())
        .scalar_subquery()
        for status in statuses
    ]
    row = (await session.execute(select(*counted))).one()
    return {status: int(number) for status, number in zip(statuses, row, strict=True) if number}
