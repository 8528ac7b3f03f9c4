"""Counts of executions by status in one query (the console's counts): the list's filters, and a time range on
``created_at``, so that the index by workspace, status and creation time answers it (migration 0010). Capped,
each status is an index range of at most ``cap + 1`` entries, in a statement built once per set of filters
(with bound parameters); uncapped, one ``GROUP BY``. Also the conditions of the store's ``page``."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, bindparam, func, select
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
    statement, params = _capped(table, where, created_after, created_before, cap)
    row = (await session.execute(statement, params)).one()
    return {status: int(number) for status, number in zip(STATUSES, row, strict=True) if number}


STATUSES = tuple(str(status) for status in Status)
_CAPPED: dict[tuple[Any, ...], Select[Any]] = {}


def _capped(
    table: Table,
    where: ExecutionFilter,
    created_after: datetime.datetime | None,
    created_before: datetime.datetime | None,
    cap: int,
) -> tuple[Select[Any], dict[str, Any]]:
    """The capped counts' statement for the filters given (built once per table, set of filters and cap, with
    bound parameters: the console asks for it on every list page) and its parameters."""
    kinds = where.waiting_kinds()
    given = {
        "workflow_id": where.workflow_id,
        "workspace_id": None if where.workspace_id is None else _uuid(where.workspace_id),
        "schedule_id": None if where.schedule_id is None else _uuid(where.schedule_id),
        "created_after": created_after,
        "created_before": created_before,
        "kinds": kinds,
    }
    params: dict[str, Any] = {f"count_{name}": value for name, value in given.items() if value is not None}
    key = (table.name, cap, where.status is not None, *sorted(params))
    statement = _CAPPED.get(key)
    if statement is None:
        conditions: list[ColumnElement[bool]] = []
        for name in ("workflow_id", "workspace_id", "schedule_id"):
            if f"count_{name}" in params:
                column = table.c[name]
                conditions.append(column == bindparam(f"count_{name}", type_=column.type))
        if "count_created_after" in params:
            conditions.append(table.c.created_at >= bindparam("count_created_after", type_=table.c.created_at.type))
        if "count_created_before" in params:
            conditions.append(table.c.created_at < bindparam("count_created_before", type_=table.c.created_at.type))
        if "count_kinds" in params:
            conditions.append(table.c.status == str(Status.HALTED))
            conditions.append(table.c.halt_data["type"].as_string().in_(bindparam("count_kinds", expanding=True)))
        if where.status is not None:
            conditions.append(table.c.status == bindparam("count_status"))
        statement = select(
            *(
                select(func.count())
                .select_from(select(table.c.id).where(*conditions, table.c.status == status).limit(cap + 1).subquery())
                .scalar_subquery()
                for status in STATUSES
            )
        )
        _CAPPED[key] = statement
    if where.status is not None:
        params["count_status"] = str(where.status)
    if kinds is not None:
        params["count_kinds"] = list(kinds)
    return statement, params
