"""The SQL store: executions and entries in two tables, through SQLAlchemy's asyncio sessions.

The store is given its session maker and its two mapped classes (the core pack passes
``WorkflowExecution`` / ``WorkflowEntry``); it imports nothing of the application. The classes
need the columns of the engine's :class:`~packs.core.workflow.model.Execution` and
:class:`~packs.core.workflow.model.Entry` (ids are UUID columns, the engine's ids their text) and
may have a ``validate()`` method, called on every row before it is written.

Transactions:

- Outside :meth:`SQLStore.unit`, every method opens a short session of its own and commits it.
- Inside ``unit()``, every method writes in the unit's transaction and commits nothing: the unit
  commits when its block ends normally and rolls back when it raises. With ``bind_session`` (or
  ``bind_session_factory``, which makes the session only if the block asks for one) the unit's
  session is the current unit of work of the code inside the block, so the tools a step calls
  write in the same transaction as the step's checkpoint. A ``unit()`` inside a unit is a
  savepoint of the outer one.
- ``savepoint()`` inside a unit undoes only the writes made inside it when it raises; outside a
  unit it does nothing.
- ``execution_scope()`` holds one connection for a whole run: the units inside it are
  transactions on that connection (no pool checkout per step), begun only when the unit's code
  uses the database; a checkpoint in a unit that began nothing is a transaction of its own.

A unit is one connection: the code inside a unit must not use it from concurrent tasks.

A checkpoint is an UPDATE of the execution row (an INSERT when it does not exist yet) and one
batched INSERT of the entries. Inside a scope on aiosqlite or asyncpg these go straight through the
driver, in the unit's transaction (see :class:`_DriverWriter`); elsewhere through SQLAlchemy Core.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager, asynccontextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, cast

import msgspec
from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.sql import sqltypes

from packs.core.workflow.errors import LeaseLostError
from packs.core.workflow.model import Entry, Execution
from packs.core.workflow.sql_queue import SQLQueueMethods
from packs.core.workflow.sqlite import BEGIN_PENDING

SessionMaker = Callable[[], AsyncSession]
"""What opens a session: an ``async_sessionmaker`` (or any callable returning an ``AsyncSession``)."""

SessionBinder = Callable[[AsyncSession], AbstractContextManager[Any]]
"""What makes a session the current unit of work for a block (``packs.core.db.bind_session``)."""

SessionFactoryBinder = Callable[[Callable[[], AsyncSession]], AbstractContextManager[Any]]
"""The same, with a session made only when the block asks for it (``packs.core.db.bind_session_factory``)."""

UPDATED_ON_SAVE = (
    "workflow_id",
    "status",
    "input",
    "ctx",
    "current_step",
    "result",
    "recover_to",
    "halt_data",
    "error",
    "updated_at",
)
"""Columns a save or checkpoint of an existing execution writes; the others (id, creation time, ownership,
definition, attempts, lease) are written when the row is inserted or by the lease methods only."""


Executor = AsyncSession | AsyncConnection
"""What the store's statements run on: the unit's session, or the connection held by a scope."""


@dataclass
class _Unit:
    """The unit open in the current context: what statements run on, and the session for tools.

    The session is made on first use (a step whose code never touches the database costs none).
    """

    executor: Executor
    make_session: Callable[[], AsyncSession] | None = None
    made: AsyncSession | None = None

    def session(self) -> AsyncSession:
        """The unit's session, made now if it does not exist yet."""
        if self.made is None:
            assert self.make_session is not None
            self.made = self.make_session()
        return self.made


class SQLStore(SQLQueueMethods):
    """A workflow store on two SQL tables (see the module docstring for transactions)."""

    serializes_branches: bool = True
    """A unit is one session, which serves one query at a time: parallel branches must take turns."""

    def __init__(
        self,
        session_maker: SessionMaker,
        execution_class: type[Any],
        entry_class: type[Any],
        bind_session: SessionBinder | None = None,
        bind_session_factory: SessionFactoryBinder | None = None,
        definition_class: type[Any] | None = None,
    ) -> None:
        super().__init__()
        self.session_maker = session_maker
        self.definition_class = definition_class
        self.execution_class = execution_class
        self.entry_class = entry_class
        self.bind_session = bind_session
        self.bind_session_factory = bind_session_factory
        self._executions: Table = execution_class.__table__
        self._entries: Table = entry_class.__table__
        self._insert_entries = insert(self._entries)
        self._insert_execution = insert(self._executions)
        columns = [name for name in UPDATED_ON_SAVE if name in self._executions.c]
        self._update_execution = (
            update(self._executions)
            .where(self._executions.c.id == bindparam("key", type_=self._executions.c.id.type))
            .values({name: bindparam(f"new_{name}", type_=self._executions.c[name].type) for name in columns})
        )
        self._update_leased_execution = self._update_execution.where(
            self._executions.c.lease_owner == bindparam("fence_owner")
        )
        self._update_columns = columns
        self._add_statements = {}
        self._unit: ContextVar[_Unit | None] = ContextVar(f"sql_store_unit_{id(self)}", default=None)
        self._scope: ContextVar[AsyncConnection | None] = ContextVar(f"sql_store_scope_{id(self)}", default=None)
        bind = getattr(session_maker, "kw", {}).get("bind")
        self._engine: AsyncEngine | None = bind if isinstance(bind, AsyncEngine) else None
        dialect = self._engine.dialect if self._engine is not None else None
        self._driver_writer = (
            _DriverWriter(self._executions, self._entries, dialect)
            if dialect is not None and _DriverWriter.supports(dialect)
            else None
        )

    # -- the store contract -------------------------------------------------------------------

    async def save(self, execution: Execution) -> None:
        """Insert or replace ``execution`` (its ``created_at`` is kept when it exists already)."""
        values = self._execution_values(execution)
        async with self._session(write=True) as session:
            await self._write_execution(session, values)

    async def load(self, execution_id: str) -> Execution | None:
        """The execution ``execution_id``, or ``None`` (also for an id that is not a UUID)."""
        key = _uuid_or_none(execution_id)
        if key is None:
            return None
        async with self._session() as session:
            row = (await session.execute(select(self._executions).where(self._executions.c.id == key))).first()
        return None if row is None else _execution(row._mapping)

    async def record(self, entry: Entry) -> None:
        """Append ``entry`` to its execution's entries."""
        rows = self._entry_rows([entry])
        async with self._session(write=True) as session:
            await session.execute(self._insert_entries, rows)

    async def entries(self, execution_id: str) -> list[Entry]:
        """The execution's entries, oldest first (ties by id, so the order is stable)."""
        key = _uuid_or_none(execution_id)
        if key is None:
            return []
        table = self._entries
        statement = select(table).where(table.c.execution_id == key).order_by(table.c.timestamp, table.c.id)
        async with self._session() as session:
            rows = (await session.execute(statement)).all()
        return [_entry(row._mapping) for row in rows]

    async def find(
        self, workflow_id: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[Execution]:
        """Executions matching the filters, newest first (by ``created_at``), at most ``limit``."""
        table = self._executions
        statement = select(table)
        if workflow_id is not None:
            statement = statement.where(table.c.workflow_id == workflow_id)
        if status is not None:
            statement = statement.where(table.c.status == str(status))
        statement = statement.order_by(table.c.created_at.desc(), table.c.id.desc()).limit(limit)
        async with self._session() as session:
            rows = (await session.execute(statement)).all()
        return [_execution(row._mapping) for row in rows]

    async def delete(self, execution_id: str) -> bool:
        """Delete the execution and its entries; ``True`` when it existed."""
        key = _uuid_or_none(execution_id)
        if key is None:
            return False
        async with self._session(write=True) as session:
            await session.execute(delete(self._entries).where(self._entries.c.execution_id == key))
            deleted = await session.execute(delete(self._executions).where(self._executions.c.id == key))
        return bool(getattr(deleted, "rowcount", 0))

    async def execution_ids(self, workflow_id: str | None = None, limit: int = 1000) -> list[str]:
        """Ids of executions (of one workflow when given), newest first, at most ``limit``."""
        table = self._executions
        statement = select(table.c.id)
        if workflow_id is not None:
            statement = statement.where(table.c.workflow_id == workflow_id)
        statement = statement.order_by(table.c.created_at.desc(), table.c.id.desc()).limit(limit)
        async with self._session() as session:
            ids = (await session.execute(statement)).scalars().all()
        return [str(key) for key in ids]

    async def checkpoint(self, execution: Execution, entries: list[Entry]) -> None:
        """Save ``execution`` and append ``entries`` atomically.

        Everything is validated before the first statement. Outside a unit this is one transaction
        committed here; inside a unit it is part of the unit's transaction.
        """
        values = self._execution_values(execution)
        rows = self._entry_rows(entries)
        owner = self.fenced_owner(execution.id)
        unit, scope = self._unit.get(), self._scope.get()
        if self._driver_writer is not None and scope is not None and (unit is None or unit.executor is scope):
            # In a scope, inside its unit's transaction or (outside any unit) as a transaction of its own.
            await self._driver_writer.checkpoint(scope, values, rows, owner)
            return
        async with self._session(write=True) as session:
            await self._write_execution(session, values, owner)
            if rows:
                await session.execute(self._insert_entries, rows)

    def unit(self) -> AbstractAsyncContextManager[None]:
        """A transaction around one step: committed when the block ends, rolled back when it raises."""
        connection = self._scope.get()
        if connection is not None and self._unit.get() is None:
            return _ScopeUnit(self, connection)
        return self._open_unit()

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        """Inside a unit, undo only this block's writes when it raises; outside a unit, nothing."""
        return self._open_savepoint()

    # -- sessions and transactions ------------------------------------------------------------

    @property
    def in_unit(self) -> bool:
        """Whether a unit of this store is open in the current context."""
        return self._unit.get() is not None

    def execution_scope(self) -> AbstractAsyncContextManager[None]:
        """Hold one connection for the block: the units and checkpoints inside it all use it.

        The engine opens a scope around each run, so that a step costs no pool checkout and no
        new session, only its transaction. Nested scopes reuse the outer one.
        """
        return self._open_scope()

    @asynccontextmanager
    async def _open_scope(self) -> AsyncIterator[None]:
        if self._engine is None or self._scope.get() is not None or self._unit.get() is not None:
            yield
            return
        async with self._engine.connect() as connection:
            token = self._scope.set(connection)
            try:
                yield
            finally:
                self._scope.reset(token)

    @asynccontextmanager
    async def _open_unit(self) -> AsyncIterator[None]:
        if self._unit.get() is not None:
            async with self._open_savepoint():
                yield
            return
        async with self.session_maker() as session, self._bound(_Unit(session, made=session)):
            try:
                yield
            except BaseException:
                await session.rollback()
                raise
            await session.commit()

    @asynccontextmanager
    async def _bound(self, unit: _Unit) -> AsyncIterator[None]:
        """Make ``unit`` the open unit (and its session the tools' unit of work) for the block."""
        token = self._unit.set(unit)
        try:
            with self._binding(unit):
                yield
        finally:
            self._unit.reset(token)

    def _binding(self, unit: _Unit) -> AbstractContextManager[Any]:
        """What makes the unit's session the tools' unit of work (lazily when the store can)."""
        if self.bind_session_factory is not None:
            return self.bind_session_factory(unit.session)
        if self.bind_session is not None:
            return self.bind_session(unit.session())
        return nullcontext()

    @asynccontextmanager
    async def _open_savepoint(self) -> AsyncIterator[None]:
        unit = self._unit.get()
        if unit is None:
            yield
            return
        async with unit.session().begin_nested():
            yield

    @asynccontextmanager
    async def _session(self, write: bool = False) -> AsyncIterator[Executor]:
        """The unit's executor, the scope's connection in a transaction of its own, or a short session."""
        unit = self._unit.get()
        if unit is not None:
            yield unit.executor
            return
        connection = self._scope.get()
        if connection is not None:
            async with connection.begin():
                yield connection
            return
        if self._engine is not None:
            # A pooled connection in a transaction of its own: lighter than a session, same statements.
            async with self._engine.begin() as pooled:
                yield pooled
            return
        async with self.session_maker() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            if write:
                await session.commit()

    # -- statements and conversions -----------------------------------------------------------

    @staticmethod
    def _from_row(row: Any) -> Execution:
        """An engine execution from a ``workflow_executions`` row mapping."""
        return _execution(row)

    async def _write_execution(self, session: Executor, values: dict[str, Any], owner: str | None = None) -> None:
        """Update the execution row (one cached statement); insert it when it does not exist yet.

        With ``owner`` (a leased checkpoint) the row is updated only while ``owner`` holds the lease,
        else :class:`LeaseLostError`.
        """
        params = {f"new_{name}": values[name] for name in self._update_columns}
        params["key"] = values["id"]
        if owner is not None:
            params["fence_owner"] = owner
            result = await session.execute(self._update_leased_execution, params)
            if not getattr(result, "rowcount", 0):
                raise LeaseLostError(f"execution {values['id']}: the lease of {owner} was lost")
            return
        result = await session.execute(self._update_execution, params)
        if not getattr(result, "rowcount", 0):
            await session.execute(self._insert_execution, values)

    def _execution_values(self, execution: Execution) -> dict[str, Any]:
        """The execution as column values, validated by the mapped class."""
        values: dict[str, Any] = {
            "id": _uuid(execution.id, "execution id"),
            "workflow_id": execution.workflow_id,
            "status": _text(execution.status),
            "input": execution.input,
            "ctx": execution.ctx,
            "current_step": execution.current_step,
            "result": execution.result,
            "recover_to": execution.recover_to,
            "halt_data": execution.halt_data,
            "error": execution.error,
            "created_at": execution.created_at,
            "updated_at": execution.updated_at,
            "workspace_id": None if execution.workspace_id is None else _uuid(execution.workspace_id, "workspace id"),
            "created_by_id": None if execution.created_by_id is None else _uuid(execution.created_by_id, "user id"),
            "definition_version": execution.definition_version,
            "definition_hash": execution.definition_hash,
            "attempts": execution.attempts,
        }
        _validate_values(self.execution_class, values)
        return values

    def _entry_rows(self, entries: Sequence[Entry]) -> list[dict[str, Any]]:
        """The entries as column values, each validated."""
        rows = [
            {
                "id": _uuid(entry.id, "entry id"),
                "execution_id": _uuid(entry.execution_id, "execution id"),
                "step_id": entry.step_id,
                "step_type": entry.step_type,
                "action": _text(entry.action),
                "duration_ms": entry.duration_ms,
                "input": entry.input,
                "output": entry.output,
                "error": entry.error,
                "timestamp": entry.timestamp,
            }
            for entry in entries
        ]
        for row in rows:
            _validate_values(self.entry_class, row)
        return rows


class _ScopeUnit:
    """A unit inside an execution scope: a transaction on the scope's connection, begun only when needed.

    A step whose code never touches the database begins nothing: its checkpoint is then one
    self-contained transaction written by the driver writer. When a tool asks for the session
    (or a retried call for a savepoint), the session begins the transaction, the checkpoint joins
    it, and the unit commits it at the end.

    A plain class rather than a generator-based context manager: it runs at every step.
    """

    __slots__ = ("binding", "connection", "store", "token", "unit")

    def __init__(self, store: SQLStore, connection: AsyncConnection) -> None:
        self.store = store
        self.connection = connection

    async def __aenter__(self) -> None:
        connection = self.connection
        self.unit = _Unit(
            connection,
            make_session=lambda: AsyncSession(
                bind=connection, join_transaction_mode="rollback_only", expire_on_commit=False
            ),
        )
        self.token = self.store._unit.set(self.unit)
        self.binding = self.store._binding(self.unit)
        self.binding.__enter__()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        self.binding.__exit__(exc_type, exc, tb)
        self.store._unit.reset(self.token)
        made, connection = self.unit.made, self.connection
        try:
            # Whoever began the transaction (the session, a read, the writer joining it), the unit ends it.
            if exc_type is None:
                if made is not None:
                    await made.flush()
                if connection.in_transaction():
                    await connection.commit()
            elif connection.in_transaction():
                await connection.rollback()
        except BaseException:
            if connection.in_transaction():
                await connection.rollback()
            raise
        finally:
            if made is not None:
                await made.close()


LEASE_COLUMNS = frozenset({"lease_owner", "lease_expires_at"})
"""Columns only the lease methods write."""

_DRIVER_KEY = "packflow_driver_connection"
"""Where a connection's info keeps its (adapted, driver) connections, looked up once per connection."""


class _DriverWriter:
    """Checkpoints written straight through the driver (aiosqlite, asyncpg), inside the unit's transaction.

    A checkpoint is the hot path of every step. Through SQLAlchemy's adapters each statement costs
    several hops (aiosqlite: three trips to the driver's thread; asyncpg: the adapter's cursor and
    result layers); the driver's own ``execute`` costs one. The transaction stays SQLAlchemy's: the
    unit began it and commits or rolls it back. Values go through the columns' own bind
    processors (JSON through msgspec), so rows are stored exactly as SQLAlchemy stores them.
    """

    def __init__(self, executions: Table, entries: Table, dialect: Dialect) -> None:
        self.asyncpg = dialect.driver == "asyncpg"
        self.update_columns = [name for name in UPDATED_ON_SAVE if name in executions.c]
        self.execution_columns = [c.name for c in executions.columns if c.name not in LEASE_COLUMNS]
        self.entry_columns = [c.name for c in entries.columns]
        assignments = ", ".join(f"{name} = {self._mark(n)}" for n, name in enumerate(self.update_columns, start=1))
        key = self._mark(len(self.update_columns) + 1)
        owner = self._mark(len(self.update_columns) + 2)
        self.update_sql = f"UPDATE {executions.name} SET {assignments} WHERE id = {key}"
        self.leased_update_sql = f"{self.update_sql} AND lease_owner = {owner}"
        self.insert_execution_sql = self._insert_sql(executions.name, self.execution_columns)
        self.insert_entry_sql = self._insert_sql(entries.name, self.entry_columns)
        if self.asyncpg:
            self.update_and_insert_sql = self._update_and_insert_sql(self.update_sql, entries, dialect, 2)
            self.leased_update_and_insert_sql = self._update_and_insert_sql(self.leased_update_sql, entries, dialect, 3)
        self.processors = {
            table.name: {column.name: _driver_processor(column, dialect) for column in table.columns}
            for table in (executions, entries)
        }
        self.executions = executions.name
        self.entries = entries.name

    def _sqlite_checkpoint(
        self,
        connection: Any,
        begin: bool,
        own: bool,
        parameters: tuple[Any, ...],
        execution_row: tuple[Any, ...],
        entry_rows: list[tuple[Any, ...]],
        leased: bool,
    ) -> None:
        """The SQLite checkpoint, run in aiosqlite's thread on the sqlite3 connection.

        ``begin``: send the transaction's BEGIN first; ``own``: the transaction is this checkpoint's
        alone, so commit it (or roll it back) here too; ``leased``: the update is fenced on the lease
        (its owner is the last parameter), and updating nothing means the lease was lost.
        """
        if begin:
            connection.execute("BEGIN")
        try:
            if connection.execute(self.leased_update_sql if leased else self.update_sql, parameters).rowcount == 0:
                if leased:
                    raise LeaseLostError(f"execution {parameters[-2]}: the lease of {parameters[-1]} was lost")
                connection.execute(self.insert_execution_sql, execution_row)
            if entry_rows:
                connection.executemany(self.insert_entry_sql, entry_rows)
        except BaseException:
            if own:
                connection.execute("ROLLBACK")
            raise
        if own:
            connection.execute("COMMIT")

    @classmethod
    def supports(cls, dialect: Dialect) -> bool:
        """Whether checkpoints on ``dialect`` can go through the driver."""
        return (dialect.name, dialect.driver) in {
            ("sqlite", "aiosqlite"),
            ("postgresql", "asyncpg"),
        }

    def _mark(self, position: int) -> str:
        return f"${position}" if self.asyncpg else "?"

    def _update_and_insert_sql(self, update_sql: str, entries: Table, dialect: Dialect, after: int) -> str:
        """PostgreSQL: update the execution and, only if it exists, insert the entries from arrays."""
        first = len(self.update_columns) + after
        arrays = ", ".join(
            f"${n}::{entries.c[name].type.dialect_impl(dialect).compile(dialect)}[]"
            for n, name in enumerate(self.entry_columns, start=first)
        )
        return (
            f"WITH updated AS ({update_sql} RETURNING 1), "
            f"added AS (INSERT INTO {entries.name} ({', '.join(self.entry_columns)}) "
            f"SELECT * FROM unnest({arrays}) WHERE EXISTS (SELECT 1 FROM updated) RETURNING 1) "
            "SELECT count(*) FROM updated"
        )

    def _insert_sql(self, table: str, columns: list[str]) -> str:
        marks = ", ".join(self._mark(n) for n in range(1, len(columns) + 1))
        return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"

    def _row(self, table: str, columns: list[str], values: dict[str, Any]) -> tuple[Any, ...]:
        processors = self.processors[table]
        row = []
        for name in columns:
            value = values.get(name)
            processor = processors[name]
            row.append(processor(value) if processor is not None and value is not None else value)
        return tuple(row)

    async def _connections(self, connection: AsyncConnection) -> tuple[Any, Any]:
        """SQLAlchemy's adapted connection and the driver's own (looked up once per connection)."""
        cached: Any = connection.info.get(_DRIVER_KEY)
        if cached is None:
            raw = await connection.get_raw_connection()
            cached = connection.info[_DRIVER_KEY] = (raw.dbapi_connection, raw.driver_connection)
        return cast("tuple[Any, Any]", cached)

    async def checkpoint(
        self, connection: AsyncConnection, values: dict[str, Any], rows: list[dict[str, Any]], owner: str | None
    ) -> None:
        """Update (or insert) the execution row and insert the entries: in the unit's transaction when it
        has begun one, else as a transaction of their own. With ``owner``, fenced on that lease."""
        adapted, driver = await self._connections(connection)
        joined = connection.in_transaction()
        parameters = self._row(self.executions, [*self.update_columns, "id"], values)
        if owner is not None:
            parameters = (*parameters, owner)
        entry_rows = [self._row(self.entries, self.entry_columns, row) for row in rows]
        if self.asyncpg:
            if not joined:
                # One statement is its own transaction (autocommit): no BEGIN/COMMIT round trips. The rare
                # fallback that inserts a new execution row opens a transaction of its own.
                await self._checkpoint_asyncpg(driver, values, parameters, entry_rows, owner, autocommit=True)
                return
            if not adapted._started:
                # asyncpg's adapter sends BEGIN with its first statement; this checkpoint is that statement.
                await adapted._start_transaction()
            await self._checkpoint_asyncpg(driver, values, parameters, entry_rows, owner)
            return
        # aiosqlite: BEGIN (deferred or our own), the statements and our own COMMIT in one trip to its thread.
        begin = not joined or bool(connection.info.pop(BEGIN_PENDING, False))
        execution_row = self._row(self.executions, self.execution_columns, values)
        await driver._execute(
            self._sqlite_checkpoint,
            driver._conn,
            begin,
            not joined,
            parameters,
            execution_row,
            entry_rows,
            owner is not None,
        )

    async def _checkpoint_asyncpg(
        self,
        driver: Any,
        values: dict[str, Any],
        parameters: tuple[Any, ...],
        entry_rows: list[tuple[Any, ...]],
        owner: str | None,
        autocommit: bool = False,
    ) -> None:
        """One round trip: the UPDATE and the entries' INSERT in one statement (a data-modifying CTE)."""
        leased = owner is not None
        if entry_rows:
            columns = [list(column) for column in zip(*entry_rows, strict=True)]
            sql = self.leased_update_and_insert_sql if leased else self.update_and_insert_sql
            updated = await driver.fetchval(sql, *parameters, *columns)
        else:
            sql = self.leased_update_sql if leased else self.update_sql
            updated = 0 if (await driver.execute(sql, *parameters)).endswith(" 0") else 1
        if not updated and leased:
            raise LeaseLostError(f"execution {values['id']}: the lease of {owner} was lost")
        if not updated:
            transaction = driver.transaction() if autocommit else nullcontext()
            async with transaction:
                await driver.execute(
                    self.insert_execution_sql, *self._row(self.executions, self.execution_columns, values)
                )
                if entry_rows:
                    await driver.executemany(self.insert_entry_sql, entry_rows)


def _driver_processor(column: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    """How a value of ``column`` is handed to the driver: JSON with msgspec, others as SQLAlchemy does."""
    implementation = column.type.dialect_impl(dialect)
    if isinstance(implementation, sqltypes.JSON):
        return _json_text
    processor: Callable[[Any], Any] | None = implementation.bind_processor(dialect)
    return processor


def _json_text(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _validate_values(model: type[Any], values: dict[str, Any]) -> None:
    """The model's checks on ``values`` (``validate_values``, else ``validate()`` on a transient row)."""
    validate_values = getattr(model, "validate_values", None)
    if callable(validate_values):
        validate_values(values)
        return
    validate = getattr(model(**values), "validate", None)
    if callable(validate):
        validate()


def _text(value: object) -> Any:
    """A str-enum member as its plain string (drivers want ``str``); anything else unchanged."""
    return str(value) if isinstance(value, str) else value


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise ValueError(f"the SQL store needs UUIDs: {what} {value!r} is not one") from None


def _uuid_or_none(value: str | uuid.UUID | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return None


def _aware(value: datetime.datetime) -> datetime.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=datetime.UTC)


def _execution(row: Any) -> Execution:
    """An engine execution from a ``workflow_executions`` row mapping."""
    return Execution(
        id=str(row["id"]),
        workflow_id=row["workflow_id"],
        status=row["status"],
        input=row["input"] if row["input"] is not None else {},
        ctx=row["ctx"] if row["ctx"] is not None else {},
        current_step=row["current_step"],
        result=row["result"],
        recover_to=row["recover_to"],
        halt_data=row["halt_data"],
        error=row["error"],
        created_at=_aware(row["created_at"]),
        updated_at=_aware(row["updated_at"]),
        workspace_id=_text_or_none(row.get("workspace_id")),
        created_by_id=_text_or_none(row.get("created_by_id")),
        definition_version=row.get("definition_version"),
        definition_hash=row.get("definition_hash"),
        attempts=row.get("attempts") or 0,
        lease_owner=row.get("lease_owner"),
        lease_expires_at=_aware(row["lease_expires_at"]) if row.get("lease_expires_at") is not None else None,
    )


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _entry(row: Any) -> Entry:
    """An engine entry from a ``workflow_entries`` row mapping."""
    return Entry(
        id=str(row["id"]),
        execution_id=str(row["execution_id"]),
        step_id=row["step_id"],
        step_type=row["step_type"],
        action=row["action"],
        duration_ms=row["duration_ms"],
        input=row["input"],
        output=row["output"],
        error=row["error"],
        timestamp=_aware(row["timestamp"]),
    )
