"""The driver fast path of the SQL store's checkpoints: what the SQLite and asyncpg writers share.

A checkpoint is the hot path of every step. Through SQLAlchemy's adapters each statement costs
several hops (aiosqlite: three trips to the driver's thread; asyncpg: the adapter's cursor and
result layers); the driver's own ``execute`` costs one. The transaction stays SQLAlchemy's: the
unit began it and commits or rolls it back. Values go through the columns' own bind processors
(JSON through msgspec; the types a driver encodes itself, :attr:`DriverWriter.native_types`, as they
are), so rows are stored exactly as SQLAlchemy stores them. The writers are
:class:`~packs.core.workflow.stores.sql.sqlite.SQLiteWriter` and
:class:`~packs.core.workflow.stores.sql.asyncpg.AsyncpgWriter`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import msgspec
from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import sqltypes

from packs.core.workflow.stores.sql.changes import CHANGE_COLUMNS, CtxWrite
from packs.core.workflow.stores.sql.rows import LEASE_COLUMNS, UPDATED_ON_SAVE

RELEASE_SQL = ", lease_owner = NULL, lease_expires_at = NULL"
"""What a fenced update that ends a run assigns besides its columns: the lease given up, claimable at once (as
``release`` without ``available_at``; its guard is the fence's own, ``lease_owner`` = the owner)."""

_DRIVER_KEY = "packflow_driver_connection"
"""Where a connection's info keeps its (adapted, driver) connections, looked up once per connection."""


class DriverWriter:
    """Checkpoints written straight through the driver, inside the unit's transaction (one driver a subclass)."""

    native_types: frozenset[type] = frozenset()
    """Python types of columns whose values go to the driver as they are: it encodes them itself, where the
    column type's bind processor would only make text for it to parse back."""

    def __init__(self, executions: Table, entries: Table, dialect: Dialect, changes: Table | None = None) -> None:
        self.update_columns = [name for name in UPDATED_ON_SAVE if name in executions.c]
        self.keeping_ctx_columns = [name for name in self.update_columns if name != "ctx"]
        """What an update that leaves ``ctx`` as it is writes (the change log has the context's changes)."""
        self.execution_columns = [c.name for c in executions.columns if c.name not in LEASE_COLUMNS]
        self.entry_columns = [c.name for c in entries.columns]
        self.update_sql, self.leased_update_sql = self._update_sql(executions.name, self.update_columns)
        self.update_keeping_ctx_sql, self.leased_update_keeping_ctx_sql = self._update_sql(
            executions.name, self.keeping_ctx_columns
        )
        self.releasing_update_sql = self._update_sql(executions.name, self.update_columns, release=True)[1]
        self.releasing_update_keeping_ctx_sql = self._update_sql(
            executions.name, self.keeping_ctx_columns, release=True
        )[1]
        """The fenced updates that also give the lease up (the checkpoint that ends a run; same parameters)."""
        self.insert_execution_sql = self._insert_sql(executions.name, self.execution_columns)
        self.insert_entry_sql = self._insert_sql(entries.name, self.entry_columns)
        tables = [executions, entries] if changes is None else [executions, entries, changes]
        self.processors = {
            table.name: {column.name: self._processor(column, dialect) for column in table.columns} for table in tables
        }
        self.executions = executions.name
        self.entries = entries.name
        self.changes = None if changes is None else changes.name
        self.change_columns = list(CHANGE_COLUMNS)
        self.insert_change_sql = "" if changes is None else self._insert_sql(changes.name, self.change_columns)
        self.drop_changes_sql = (
            ""
            if changes is None
            else f"DELETE FROM {changes.name} WHERE execution_id = {self._mark(1)} AND seq < {self._mark(2)}"
        )

    def _update_sql(self, table: str, columns: list[str], *, release: bool = False) -> tuple[str, str]:
        """The update of ``columns`` by id, and the same fenced on the lease owner (parameters: the columns, the
        id, the owner); with ``release`` both also give the lease up (:data:`RELEASE_SQL`)."""
        assignments = ", ".join(f"{name} = {self._mark(n)}" for n, name in enumerate(columns, start=1))
        if release:
            assignments += RELEASE_SQL
        key = self._mark(len(columns) + 1)
        owner = self._mark(len(columns) + 2)
        update_sql = f"UPDATE {table} SET {assignments} WHERE id = {key}"
        return update_sql, f"{update_sql} AND lease_owner = {owner}"

    async def checkpoint(
        self,
        connection: AsyncConnection,
        values: dict[str, Any],
        rows: list[dict[str, Any]],
        owner: str | None,
        ctx_write: CtxWrite | None = None,
        release: bool = False,
    ) -> None:
        """Update (or insert) the execution row, insert the entries and write what ``ctx_write`` says of the
        context (see :mod:`.changes`; without it the ``ctx`` column is written whole): in the unit's
        transaction when it has begun one, else as a transaction of their own. With ``owner``, fenced on that
        lease; with ``release`` too, the update gives that lease up."""
        raise NotImplementedError

    def _mark(self, position: int) -> str:
        """The driver's placeholder for parameter ``position`` (from 1)."""
        raise NotImplementedError

    def _insert_sql(self, table: str, columns: list[str]) -> str:
        marks = ", ".join(self._mark(n) for n in range(1, len(columns) + 1))
        return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"

    def _row(self, table: str, columns: Sequence[str], values: dict[str, Any]) -> tuple[Any, ...]:
        processors = self.processors[table]
        row = []
        for name in columns:
            value = values.get(name)
            processor = processors[name]
            row.append(processor(value) if processor is not None and value is not None else value)
        return tuple(row)

    def _parameters(
        self, values: dict[str, Any], rows: list[dict[str, Any]], owner: str | None, with_ctx: bool = True
    ) -> tuple[Any, Any]:
        """The update's parameters (the lease owner last, when fenced) and the entries' rows."""
        columns = self.update_columns if with_ctx else self.keeping_ctx_columns
        parameters = self._row(self.executions, [*columns, "id"], values)
        if owner is not None:
            parameters = (*parameters, owner)
        return parameters, [self._row(self.entries, self.entry_columns, row) for row in rows]

    def _change_row(self, ctx_write: CtxWrite | None) -> tuple[Any, ...] | None:
        """The change row ``ctx_write`` inserts, as driver values, or ``None``."""
        if ctx_write is None or ctx_write.change is None or self.changes is None:
            return None
        return self._row(self.changes, self.change_columns, ctx_write.change)

    def _processor(self, column: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
        """How a value of ``column`` is handed to the driver: JSON with msgspec, :attr:`native_types` as they are,
        others as SQLAlchemy does."""
        implementation = column.type.dialect_impl(dialect)
        if isinstance(implementation, sqltypes.JSON):
            return _json_text
        if self.native_types and _python_type(column) in self.native_types:
            return None
        processor: Callable[[Any], Any] | None = implementation.bind_processor(dialect)
        return processor

    async def _connections(self, connection: AsyncConnection) -> tuple[Any, Any]:
        """SQLAlchemy's adapted connection and the driver's own (looked up once per connection)."""
        cached: Any = connection.info.get(_DRIVER_KEY)
        if cached is None:
            raw = await connection.get_raw_connection()
            cached = connection.info[_DRIVER_KEY] = (raw.dbapi_connection, raw.driver_connection)
        return cast("tuple[Any, Any]", cached)


def _python_type(column: Any) -> type | None:
    try:
        return cast("type", column.type.python_type)
    except NotImplementedError:
        return None


def _json_text(value: Any) -> str:
    return msgspec.json.encode(value).decode()
