"""What queued execution needs from the SQL store: leases, compare-and-set transitions, listing, snapshots.

A mixin of :class:`~packs.core.workflow.sql_store.SQLStore`. Every method here is one short
transaction of its own (they are called by workers and the API, outside a step's unit). Times are
the caller's clock (UTC): workers on several machines should keep their clocks in sync (NTP); a
lease of tens of seconds leaves ample room for ordinary drift.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Collection
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Table, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from packs.core.workflow.model import Execution, Status, utcnow
from packs.core.workflow.store import ExecutionFilter, LeaseFence, Page

if TYPE_CHECKING:
    from packs.core.workflow.definition import WorkflowDef


class SQLQueueMethods(LeaseFence):
    """The :class:`~packs.core.workflow.store.QueueStore` methods of the SQL store."""

    _executions: Table
    _update_columns: list[str]
    _add_statements: dict[str, Insert]
    """The insert-unless-present statement per dialect, built once."""
    definition_class: type[Any] | None

    def _session(self, write: bool = False) -> AbstractAsyncContextManager[Any]:
        raise NotImplementedError

    def _execution_values(self, execution: Execution) -> dict[str, Any]:
        raise NotImplementedError

    @staticmethod
    def _from_row(row: Any) -> Execution:
        raise NotImplementedError

    async def add(self, execution: Execution) -> bool:
        """Insert ``execution`` unless its id exists; whether it was inserted."""
        values = self._execution_values(execution)
        async with self._session(write=True) as session:
            dialect = _dialect(session)
            statement = self._add_statements.get(dialect)
            if statement is None:
                statement = self._add_statements[dialect] = _insert_ignoring_conflicts(
                    dialect, self._executions, ["id"]
                )
            result = await session.execute(statement, values)
        return bool(getattr(result, "rowcount", 0))

    async def claim(self, execution_id: str, owner: str, lease_seconds: float) -> Execution | None:
        """Take the lease of a claimable execution, counting an attempt; ``None`` when it is not claimable
        (unknown, finished, halted, cancelled, or leased by a live worker)."""
        table = self._executions
        now = utcnow()
        statement = (
            update(table)
            .where(table.c.id == _key(execution_id), _claimable(table, now))
            .values(
                lease_owner=owner,
                lease_expires_at=now + datetime.timedelta(seconds=lease_seconds),
                attempts=table.c.attempts + 1,
            )
            .returning(*table.c)
        )
        async with self._session(write=True) as session:
            row = (await session.execute(statement)).first()
        return None if row is None else self._from_row(row._mapping)

    async def renew(self, execution_id: str, owner: str, lease_seconds: float) -> bool:
        """Extend ``owner``'s lease; ``False`` when ``owner`` does not hold it any more."""
        table = self._executions
        statement = (
            update(table)
            .where(table.c.id == _key(execution_id), table.c.lease_owner == owner)
            .values(lease_expires_at=utcnow() + datetime.timedelta(seconds=lease_seconds))
        )
        async with self._session(write=True) as session:
            result = await session.execute(statement)
        return bool(getattr(result, "rowcount", 0))

    async def release(self, execution_id: str, owner: str, *, available_at: datetime.datetime | None = None) -> None:
        """Give ``owner``'s lease up; the execution is claimable again at ``available_at`` (default: at once)."""
        table = self._executions
        statement = (
            update(table)
            .where(table.c.id == _key(execution_id), table.c.lease_owner == owner)
            .values(lease_owner=None, lease_expires_at=available_at)
        )
        async with self._session(write=True) as session:
            await session.execute(statement)

    async def transition(self, execution: Execution, expected: Collection[str]) -> bool:
        """Save ``execution`` only if its stored status is one of ``expected``; drops the lease and resets
        the attempts. Whether it was saved (cancel, queued resume and redrive use it)."""
        table = self._executions
        values = self._execution_values(execution)
        statement = (
            update(table)
            .where(table.c.id == values["id"], table.c.status.in_([str(status) for status in expected]))
            .values(
                {
                    **{name: values[name] for name in self._update_columns},
                    "attempts": 0,
                    "lease_owner": None,
                    "lease_expires_at": None,
                }
            )
        )
        async with self._session(write=True) as session:
            result = await session.execute(statement)
        return bool(getattr(result, "rowcount", 0))

    async def recoverable(self, now: datetime.datetime, limit: int = 100) -> list[Execution]:
        """Pending or running executions that no live lease covers, least recently updated first."""
        table = self._executions
        statement = select(table).where(_claimable(table, now)).order_by(table.c.updated_at).limit(limit)
        async with self._session() as session:
            rows = (await session.execute(statement)).all()
        return [self._from_row(row._mapping) for row in rows]

    async def page(self, where: ExecutionFilter, offset: int = 0, limit: int = 25) -> Page:
        """Executions matching ``where``, newest first, and how many match in all."""
        table = self._executions
        conditions = []
        if where.workflow_id is not None:
            conditions.append(table.c.workflow_id == where.workflow_id)
        if where.status is not None:
            conditions.append(table.c.status == str(where.status))
        if where.workspace_id is not None:
            conditions.append(table.c.workspace_id == _key(where.workspace_id))
        rows_statement = (
            select(table)
            .where(*conditions)
            .order_by(table.c.created_at.desc(), table.c.id.desc())
            .offset(offset)
            .limit(limit)
        )
        count_statement = select(func.count()).select_from(table).where(*conditions)
        async with self._session() as session:
            rows = (await session.execute(rows_statement)).all()
            total = (await session.execute(count_statement)).scalar_one()
        return Page([self._from_row(row._mapping) for row in rows], int(total))

    async def save_definition(self, definition: WorkflowDef) -> None:
        """Keep ``definition``'s document under its content hash (once; later calls change nothing)."""
        if self.definition_class is None:
            return
        table: Table = self.definition_class.__table__
        async with self._session(write=True) as session:
            statement = _insert_ignoring_conflicts(_dialect(session), table, ["workflow_id", "content_hash"]).values(
                id=uuid.uuid4(),
                workflow_id=definition.id,
                version=definition.version,
                content_hash=definition.content_hash,
                source=definition.raw,
                created_at=utcnow(),
            )
            await session.execute(statement)

    async def definition_source(self, workflow_id: str, content_hash: str) -> dict[str, Any] | None:
        """The document kept for ``workflow_id`` with ``content_hash``, or ``None``."""
        if self.definition_class is None:
            return None
        table: Table = self.definition_class.__table__
        statement = select(table.c.source).where(
            table.c.workflow_id == workflow_id, table.c.content_hash == content_hash
        )
        async with self._session() as session:
            found = (await session.execute(statement)).scalar_one_or_none()
        return dict(found) if found is not None else None


def _claimable(table: Table, now: datetime.datetime) -> ColumnElement[bool]:
    """The SQL form of :func:`packs.core.workflow.store.claimable`."""
    expires = table.c.lease_expires_at
    return or_(
        and_(table.c.status == str(Status.PENDING), or_(expires.is_(None), expires <= now)),
        and_(table.c.status == str(Status.RUNNING), expires.is_not(None), expires <= now),
    )


def _insert_ignoring_conflicts(dialect: str, table: Table, keys: list[str]) -> Insert:
    """``INSERT ... ON CONFLICT (keys) DO NOTHING`` on PostgreSQL and SQLite."""
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=keys)
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)
    raise NotImplementedError(f"the SQL store's queue methods support PostgreSQL and SQLite, not {dialect}")


def _dialect(executor: Any) -> str:
    """The dialect name of a session or connection."""
    bind = executor.get_bind() if hasattr(executor, "get_bind") else executor
    return str(bind.dialect.name)


def _key(execution_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(execution_id))
    except ValueError:
        # No row has a key that is not a UUID: compare with one that matches nothing.
        return uuid.UUID(int=0)
