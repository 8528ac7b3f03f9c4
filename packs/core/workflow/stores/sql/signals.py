"""The SQL store's signals: the ``workflow_signals`` table (docs/workflow-language.md, step type ``receive``).

:class:`SQLSignals` is a part of :class:`~packs.core.workflow.stores.sql.store.SQLStore`: its methods
run in the store's unit when one is open, else in a short transaction of their own. The table is the
one named ``workflow_signals`` on the metadata of the store's execution class (the core pack's
``WorkflowSignal``).

A sender and a ``receive`` step never miss each other: each first takes the execution's row lock in
its unit (:meth:`SQLSignals.lock_execution`, a no-op ``UPDATE`` of the row), so either the step's
read sees the committed signal, or the sender's read sees the committed halt and wakes it.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Table, insert, or_, select, update

from packs.core.workflow.errors import ConfigError
from packs.core.workflow.model import utcnow
from packs.core.workflow.signals import Signal
from packs.core.workflow.stores.sql.rows import aware, to_uuid, uuid_or_none
from packs.core.workflow.stores.sql.units import Executor

SIGNALS_TABLE = "workflow_signals"


class SQLSignals:
    """The signal methods of the SQL store (it provides ``_session`` and its executions table)."""

    if TYPE_CHECKING:
        _executions: Table

        def _session(self, write: bool = False) -> AbstractAsyncContextManager[Executor]: ...

    @property
    def signals_table(self) -> Table | None:
        """The ``workflow_signals`` table beside the executions table, ``None`` when there is none."""
        return self._executions.metadata.tables.get(SIGNALS_TABLE)

    def _signals(self) -> Table:
        table = self.signals_table
        if table is None:
            raise ConfigError(f"this SQL store has no {SIGNALS_TABLE} table: import the core pack's models")
        return table

    async def lock_execution(self, execution_id: str) -> None:
        """Hold the execution's row lock until the open unit ends (a no-op ``UPDATE``)."""
        key = uuid_or_none(execution_id)
        if key is None:
            return
        table = self._executions
        statement = update(table).where(table.c.id == key).values(updated_at=table.c.updated_at)
        async with self._session(write=True) as session:
            await session.execute(statement)

    async def add_signal(self, signal: Signal) -> Signal:
        """Insert ``signal``, unless the execution has one with its idempotency key: then answer that one."""
        table = self._signals()
        key = to_uuid(signal.execution_id, "execution id")
        async with self._session(write=True) as session:
            if signal.idempotency_key is not None:
                found = await self._with_key(session, key, signal.idempotency_key)
                if found is not None:
                    return found
            await session.execute(
                insert(table),
                {
                    "id": to_uuid(signal.id, "signal id"),
                    "execution_id": key,
                    "name": signal.name,
                    "payload": signal.payload,
                    "idempotency_key": signal.idempotency_key,
                    "created_at": signal.created_at,
                    "consumed_at": signal.consumed_at,
                    "consumed_by": signal.consumed_by,
                    "addressed_to": uuid_or_none(signal.addressed_to),
                },
            )
        return signal

    async def signal_with_key(self, execution_id: str, idempotency_key: str) -> Signal | None:
        """The execution's signal (kept or passed on) sent with ``idempotency_key``, or ``None``."""
        key = to_uuid(execution_id, "execution id")
        async with self._session() as session:
            return await self._with_key(session, key, idempotency_key)

    async def _with_key(self, session: Executor, execution_key: Any, idempotency_key: str) -> Signal | None:
        table = self._signals()
        statement = select(table).where(of_execution(table, execution_key), table.c.idempotency_key == idempotency_key)
        found = (await session.execute(statement)).first()
        return None if found is None else signal_from_row(found._mapping)

    async def take_signal(self, execution_id: str, name: str, consumed_by: str) -> Signal | None:
        """Mark the oldest unread signal ``name`` of the execution read by ``consumed_by``; it, or ``None``."""
        key = uuid_or_none(execution_id)
        if key is None:
            return None
        table = self._signals()
        oldest = (
            select(table)
            .where(table.c.execution_id == key, table.c.name == name, table.c.consumed_at.is_(None))
            .order_by(table.c.created_at, table.c.id)
            .limit(1)
        )
        async with self._session(write=True) as session:
            row = (await session.execute(oldest)).first()
            if row is None:
                return None
            signal = signal_from_row(row._mapping)
            signal.consumed_at, signal.consumed_by = utcnow(), consumed_by
            await session.execute(
                update(table)
                .where(table.c.id == to_uuid(signal.id, "signal id"))
                .values(consumed_at=signal.consumed_at, consumed_by=consumed_by)
            )
        return signal

    async def signals_of(self, execution_id: str) -> list[Signal]:
        """The execution's signals, kept or passed on to a sub-workflow child, in arrival order."""
        key = uuid_or_none(execution_id)
        if key is None:
            return []
        table = self._signals()
        statement = select(table).where(of_execution(table, key)).order_by(table.c.created_at, table.c.id)
        async with self._session() as session:
            rows = (await session.execute(statement)).all()
        return [signal_from_row(row._mapping) for row in rows]


def of_execution(table: Table, execution_key: Any) -> ColumnElement[bool]:
    """The signals an execution keeps, or passed on to its sub-workflow child (``addressed_to``)."""
    return or_(table.c.execution_id == execution_key, table.c.addressed_to == execution_key)


def signal_from_row(row: Any) -> Signal:
    """An engine signal from a ``workflow_signals`` row mapping."""
    return Signal(
        id=str(row["id"]),
        execution_id=str(row["execution_id"]),
        name=row["name"],
        payload=row["payload"],
        idempotency_key=row["idempotency_key"],
        created_at=aware(row["created_at"]),
        consumed_at=None if row["consumed_at"] is None else aware(row["consumed_at"]),
        consumed_by=row["consumed_by"],
        addressed_to=None if row["addressed_to"] is None else str(row["addressed_to"]),
    )
