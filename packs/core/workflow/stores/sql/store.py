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
  uses the database; a checkpoint in a unit that began nothing is a transaction of its own. With
  ``idle_scopes`` (a server database) the connection stays started when the run ends, for the next
  run (see :mod:`.scopes`).

A unit is one connection: the code inside a unit must not use it from concurrent tasks.

A checkpoint is an UPDATE of the execution row (an INSERT when it does not exist yet) and one
batched INSERT of the entries. Inside a scope on aiosqlite or asyncpg these go straight through the
driver, in the unit's transaction (see :mod:`.driver`); elsewhere through SQLAlchemy Core.

The queue methods (``add``, leases, ``transition``, ``recoverable``, ``page``, definition snapshots)
are each one short transaction of their own (workers and the API call them outside a step's unit);
on PostgreSQL ``add``, ``claim``, ``renew`` and ``release``, one statement each, run in autocommit (one
round trip instead of three). A claim leaves ``updated_at`` as it was, as the memory store does.
The durable timers' methods are in :mod:`.timers`, the approval decisions' in :mod:`.decisions`.
Times are the caller's clock (UTC): workers on several machines should keep their clocks in sync
(NTP); a lease of tens of seconds leaves ample room for ordinary drift.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager, asynccontextmanager, nullcontext
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from packs.core.workflow.errors import LeaseLostError
from packs.core.workflow.model import Entry, Execution, Status, utcnow
from packs.core.workflow.stores.protocol import ExecutionFilter, Keyset, LeaseFence, Page
from packs.core.workflow.stores.sql.asyncpg import AsyncpgWriter
from packs.core.workflow.stores.sql.changes import LABEL, ChangeLog, CtxWrite, changes_table_of
from packs.core.workflow.stores.sql.conflicts import InsertIgnoringConflicts
from packs.core.workflow.stores.sql.counts import count_by_status, filter_conditions
from packs.core.workflow.stores.sql.decisions import SQLDecisions
from packs.core.workflow.stores.sql.driver import DriverWriter
from packs.core.workflow.stores.sql.rows import (
    UPDATED_ON_SAVE,
    entry_from_row,
    execution_from_row,
    plain_text,
    to_uuid,
    uuid_or_none,
    validate_values,
)
from packs.core.workflow.stores.sql.scopes import IdleConnections
from packs.core.workflow.stores.sql.signals import SQLSignals
from packs.core.workflow.stores.sql.sqlite import SQLiteWriter, take_write_lock
from packs.core.workflow.stores.sql.timers import SQLTimers, timers_table_of
from packs.core.workflow.stores.sql.units import Executor, ScopeUnit, Unit

if TYPE_CHECKING:
    from packs.core.workflow.language.definition import WorkflowDef

SessionMaker = Callable[[], AsyncSession]
"""What opens a session: an ``async_sessionmaker`` (or any callable returning an ``AsyncSession``)."""

SessionBinder = Callable[[AsyncSession], AbstractContextManager[Any]]
"""What makes a session the current unit of work for a block (``packs.core.db.bind_session``)."""

SessionFactoryBinder = Callable[[Callable[[], AsyncSession]], AbstractContextManager[Any]]
"""The same, with a session made only when the block asks for it (``packs.core.db.bind_session_factory``)."""


_WRITERS: dict[tuple[str, str], type[DriverWriter]] = {
    ("sqlite", "aiosqlite"): SQLiteWriter,
    ("postgresql", "asyncpg"): AsyncpgWriter,
}
"""The drivers whose checkpoints inside a scope skip SQLAlchemy's adapters, and their writers."""


class SQLStore(LeaseFence, SQLTimers, SQLDecisions, SQLSignals):
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
        timer_class: type[Any] | None = None,
        change_class: type[Any] | None = None,
        idle_scopes: int = 0,
    ) -> None:
        """``idle_scopes``: how many execution scopes' connections are kept started between runs (see
        :mod:`.scopes`; at most the runs under way at once)."""
        super().__init__()
        changes_table = changes_table_of(execution_class, change_class)
        self._change_log = (
            None
            if changes_table is None
            else ChangeLog(execution_class.__table__, entry_class.__table__, changes_table)
        )
        """The context's change log (see :mod:`.changes`), ``None`` when the store writes every ``ctx`` whole."""
        self.timers_table = timers_table_of(execution_class, timer_class)
        """The durable timers' table (see :mod:`.timers`), ``None`` when the store has none."""
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
        released = {"lease_owner": None, "lease_expires_at": None}
        self._update_releasing_execution = self._update_leased_execution.values(released)
        """The fenced update of the checkpoint that ends a run: it gives the lease up too (same guard)."""
        self._update_execution_keeping_ctx = (
            update(self._executions)
            .where(self._executions.c.id == bindparam("key", type_=self._executions.c.id.type))
            .values(
                {
                    name: bindparam(f"new_{name}", type_=self._executions.c[name].type)
                    for name in columns
                    if name != "ctx"
                }
            )
        )
        self._update_leased_execution_keeping_ctx = self._update_execution_keeping_ctx.where(
            self._executions.c.lease_owner == bindparam("fence_owner")
        )
        self._update_releasing_execution_keeping_ctx = self._update_leased_execution_keeping_ctx.values(released)
        self._add_statements: dict[str, InsertIgnoringConflicts] = {}
        """The insert-unless-present statement per dialect, built once."""
        self._lease_statements = _LeaseStatements(self._executions)
        self._claim_statements: dict[str, Any] = {}
        """The claim's UPDATE ... RETURNING per dialect, built once (see :class:`_LeaseStatements`)."""
        self._unit: ContextVar[Unit | None] = ContextVar(f"sql_store_unit_{id(self)}", default=None)
        self._scope: ContextVar[AsyncConnection | None] = ContextVar(f"sql_store_scope_{id(self)}", default=None)
        bind = getattr(session_maker, "kw", {}).get("bind")
        self._engine: AsyncEngine | None = bind if isinstance(bind, AsyncEngine) else None
        self._scope_connections = IdleConnections(self._engine, idle_scopes) if self._engine is not None else None
        """Where an execution scope takes its connection and gives it back (kept for the next one up to the limit)."""
        self._autocommit: AsyncEngine | None = (
            self._engine.execution_options(isolation_level="AUTOCOMMIT")
            if self._engine is not None and self._engine.dialect.name == "postgresql"
            else None
        )
        """The engine's pool in autocommit, for the statements that are atomic on their own (see :meth:`_statement`)."""
        dialect = self._engine.dialect if self._engine is not None else None
        self._sqlite = dialect is not None and dialect.name == "sqlite"
        """On SQLite, a unit's transaction takes the write lock at its ``BEGIN`` (see :mod:`.sqlite`)."""
        self.claims_in_parallel = dialect is not None and dialect.name == "postgresql"
        """Whether two claims of due timers may run at once (``FOR UPDATE SKIP LOCKED`` keeps them apart; on SQLite
        one would only wait for the other's write lock)."""
        writer = _WRITERS.get((dialect.name, dialect.driver)) if dialect is not None else None
        self._driver_writer = (
            writer(self._executions, self._entries, dialect, changes_table)
            if writer is not None and dialect is not None
            else None
        )

    # -- the store contract -------------------------------------------------------------------

    async def save(self, execution: Execution) -> None:
        """Insert or replace ``execution`` (its ``created_at`` is kept when it exists already)."""
        values = self._execution_values(execution)
        base = self._replacing(execution, values)
        async with self._session(write=True) as session:
            await self._write_execution(session, values)
            await self._replace_changes(session, values["id"], base)
        self._written_whole(execution, base)

    async def load(self, execution_id: str) -> Execution | None:
        """The execution ``execution_id``, or ``None`` (also for an id that is not a UUID)."""
        key = uuid_or_none(execution_id)
        if key is None:
            return None
        async with self._session() as session:
            statement = select(*self._read_columns(session)).where(self._executions.c.id == key)
            row = (await session.execute(statement)).first()
        return None if row is None else self._from_row(row._mapping)

    async def record(self, entry: Entry) -> None:
        """Append ``entry`` to its execution's entries."""
        rows = self._entry_rows([entry])
        async with self._session(write=True) as session:
            await session.execute(self._insert_entries, rows)

    async def entries(self, execution_id: str) -> list[Entry]:
        """The execution's entries, oldest first (ties by id, so the order is stable)."""
        key = uuid_or_none(execution_id)
        if key is None:
            return []
        table = self._entries
        statement = select(table).where(table.c.execution_id == key).order_by(table.c.timestamp, table.c.id)
        async with self._session() as session:
            rows = (await session.execute(statement)).all()
        return [entry_from_row(row._mapping) for row in rows]

    async def has_entries(self, execution_id: str) -> bool:
        """Whether the execution has recorded any entry (reads at most one index entry, no row)."""
        key = uuid_or_none(execution_id)
        if key is None:
            return False
        table = self._entries
        statement = select(literal(1)).where(table.c.execution_id == key).limit(1)
        async with self._session() as session:
            found = (await session.execute(statement)).scalar()
        return found is not None

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
            rows = (await session.execute(statement.with_only_columns(*self._read_columns(session)))).all()
        return [self._from_row(row._mapping) for row in rows]

    async def delete(self, execution_id: str) -> bool:
        """Delete the execution and its entries; ``True`` when it existed."""
        key = uuid_or_none(execution_id)
        if key is None:
            return False
        async with self._session(write=True) as session:
            await self._drop_changes(session, key)
            await session.execute(delete(self._entries).where(self._entries.c.execution_id == key))
            if self.timers_table is not None:
                await session.execute(delete(self.timers_table).where(self.timers_table.c.execution_id == key))
            if (decisions := self.decisions_table) is not None:
                await session.execute(delete(decisions).where(decisions.c.execution_id == key))
            if (signals := self.signals_table) is not None:
                await session.execute(delete(signals).where(signals.c.execution_id == key))
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
        committed here; inside a unit it is part of the unit's transaction. The checkpoint that ends a run
        leased with ``release`` gives the lease up in its UPDATE (see ``LeaseFence.leased``).
        """
        values = self._execution_values(execution)
        rows = self._entry_rows(entries)
        owner = self.fenced_owner(execution.id)
        lease = self.releasing(execution)
        log = self._change_log
        ctx_write = None if log is None else log.plan(execution, values["id"])
        if ctx_write is not None:
            ChangeLog.reserve(execution, ctx_write)
        try:
            await self._checkpoint(values, rows, owner, ctx_write, lease is not None)
        except BaseException:
            if ctx_write is not None:
                ChangeLog.failed(execution)
            raise
        if lease is not None:
            lease.released = True

    async def _checkpoint(
        self,
        values: dict[str, Any],
        rows: list[dict[str, Any]],
        owner: str | None,
        ctx_write: CtxWrite | None,
        release: bool = False,
    ) -> None:
        unit, scope = self._unit.get(), self._scope.get()
        if self._driver_writer is not None and scope is not None and (unit is None or unit.executor is scope):
            # In a scope, inside its unit's transaction or (outside any unit) as a transaction of its own.
            await self._driver_writer.checkpoint(scope, values, rows, owner, ctx_write, release)
            return
        if ctx_write is not None:
            ctx_write.after.row = None  # every column written: the driver writer's next update compares nothing
        async with self._session(write=True) as session:
            with_ctx = ctx_write is None or ctx_write.whole
            await self._write_execution(session, values, owner, with_ctx=with_ctx, release=release)
            if rows:
                await session.execute(self._insert_entries, rows)
            if ctx_write is not None:
                await self._write_changes(session, ctx_write, values["id"])

    def unit(self) -> AbstractAsyncContextManager[None]:
        """A transaction around one step: committed when the block ends, rolled back when it raises."""
        connection = self._scope.get()
        if connection is not None and self._unit.get() is None:
            return ScopeUnit(self._unit, self._binding, connection)
        return self._open_unit()

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        """Inside a unit, undo only this block's writes when it raises; outside a unit, nothing."""
        return self._open_savepoint()

    # -- the queue store contract (leases, compare-and-set transitions, listing, snapshots) ------

    async def add(self, execution: Execution) -> bool:
        """Insert ``execution`` unless its id exists; whether it was inserted."""
        values = self._execution_values(execution)
        async with self._statement() as session:
            dialect = _dialect(session)
            statement = self._add_statements.get(dialect)
            if statement is None:
                statement = self._add_statements[dialect] = InsertIgnoringConflicts(dialect, self._executions, ["id"])
            result = await session.execute(statement, values)
        return bool(getattr(result, "rowcount", 0))

    async def claim(self, execution_id: str, owner: str, lease_seconds: float) -> Execution | None:
        """Take the lease of a claimable execution, counting an attempt; ``None`` when it is not claimable
        (unknown, finished, halted, cancelled, or leased by a live worker)."""
        now = utcnow()
        values = {
            "key": _key(execution_id),
            "now": now,
            "owner": owner,
            "expires": now + datetime.timedelta(seconds=lease_seconds),
        }
        async with self._statement() as session:
            dialect = _dialect(session)
            statement = self._claim_statements.get(dialect)
            if statement is None:
                statement = self._claim_statements[dialect] = self._lease_statements.claim.returning(
                    *self._read_columns(session)
                )
            row = (await session.execute(statement, values)).first()
        return None if row is None else self._from_row(row._mapping)

    async def renew(self, execution_id: str, owner: str, lease_seconds: float) -> bool:
        """Extend ``owner``'s lease; ``False`` when ``owner`` does not hold it any more."""
        values = {
            "key": _key(execution_id),
            "owner": owner,
            "expires": utcnow() + datetime.timedelta(seconds=lease_seconds),
        }
        async with self._statement() as session:
            result = await session.execute(self._lease_statements.renew, values)
        return bool(getattr(result, "rowcount", 0))

    async def release(self, execution_id: str, owner: str, *, available_at: datetime.datetime | None = None) -> None:
        """Give ``owner``'s lease up; the execution is claimable again at ``available_at`` (default: at once)."""
        values = {"key": _key(execution_id), "owner": owner, "expires": available_at}
        async with self._statement() as session:
            await session.execute(self._lease_statements.release, values)

    async def transition(self, execution: Execution, expected: Collection[str]) -> bool:
        """Save ``execution`` only if its stored status is one of ``expected``; drops the lease and resets
        the attempts. Whether it was saved (cancel, queued resume and redrive use it)."""
        table = self._executions
        values = self._execution_values(execution)
        base = self._replacing(execution, values)
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
            saved = bool(getattr(result, "rowcount", 0))
            if saved:
                await self._replace_changes(session, values["id"], base)
        if saved:
            self._written_whole(execution, base)
        return saved

    async def recoverable(self, now: datetime.datetime, limit: int = 100) -> list[Execution]:
        """Pending or running executions that no live lease covers, least recently updated first."""
        table = self._executions
        # The status term, implied by the other, lets both databases read the partial index of leased statuses.
        leased = table.c.status.in_((str(Status.PENDING), str(Status.RUNNING)))
        statement = select(table).where(leased, _claimable(table, now)).order_by(table.c.updated_at).limit(limit)
        async with self._session() as session:
            rows = (await session.execute(statement.with_only_columns(*self._read_columns(session)))).all()
        return [self._from_row(row._mapping) for row in rows]

    async def page(
        self,
        where: ExecutionFilter,
        offset: int = 0,
        limit: int = 25,
        *,
        after: Keyset | None = None,
        count: bool = True,
        ctx_keys: Collection[str] | None = None,
        oldest_first: bool = False,
    ) -> Page:
        """Executions matching ``where``, newest first (or ``oldest_first``), and how many match in all (see the
        protocol's ``page``).

        With ``ctx_keys`` the rows are read without their ``ctx`` column: only those keys of it are
        selected (a JSON path each), so a list does not fetch whole contexts.
        """
        table = self._executions
        keys = list(ctx_keys) if ctx_keys is not None else None
        columns: list[Any] = list(table.c) if keys is None else [c for c in table.c if c.name != "ctx"]
        columns += [table.c.ctx[key].label(f"ctx_key_{index}") for index, key in enumerate(keys or [])]
        rows_statement = select(*columns)
        if after is not None:
            created_at, execution_id = after
            bound = tuple_(literal(created_at, table.c.created_at.type), literal(_key(execution_id), table.c.id.type))
            keyset = tuple_(table.c.created_at, table.c.id)
            rows_statement = rows_statement.where(keyset > bound if oldest_first else keyset < bound)
        order = (table.c.created_at, table.c.id) if oldest_first else (table.c.created_at.desc(), table.c.id.desc())
        rows_statement = rows_statement.order_by(*order).offset(offset).limit(limit)
        async with self._session() as session:
            conditions = filter_conditions(table, where, _dialect(session), self.decisions_table)
            rows_statement = rows_statement.where(*conditions)
            count_statement = select(func.count()).select_from(table).where(*conditions)
            if self._change_log is not None and (keys is None or keys):  # no ctx key asked: no change rows read
                changes = self._change_log.column(_dialect(session), None if keys is None else tuple(keys))
                rows_statement = rows_statement.add_columns(changes)
            rows = (await session.execute(rows_statement)).all()
            total = (await session.execute(count_statement)).scalar_one() if count else None
        if keys is None:
            return Page([self._from_row(row._mapping) for row in rows], None if total is None else int(total))
        executions = []
        for row in rows:
            values = dict(row._mapping)
            picked = {key: values.pop(f"ctx_key_{index}") for index, key in enumerate(keys)}
            values["ctx"] = {key: value for key, value in picked.items() if value is not None}
            executions.append(self._from_row(values, tuple(keys)))
        return Page(executions, None if total is None else int(total))

    async def count_by_status(
        self,
        where: ExecutionFilter,
        *,
        created_after: datetime.datetime | None = None,
        created_before: datetime.datetime | None = None,
        cap: int | None = None,
    ) -> dict[str, int]:
        """How many executions matching ``where`` (and the time range) have each status, in one query; with
        ``cap``, a count over ``cap`` is ``cap + 1`` (see :func:`~.counts.count_by_status`)."""
        async with self._session() as session:
            return await count_by_status(
                session, self._executions, where, created_after=created_after, created_before=created_before, cap=cap
            )

    async def save_definition(self, definition: WorkflowDef) -> None:
        """Keep ``definition``'s document under its content hash (once; later calls change nothing)."""
        if self.definition_class is None:
            return
        table: Table = self.definition_class.__table__
        async with self._session(write=True) as session:
            statement = InsertIgnoringConflicts(_dialect(session), table, ["workflow_id", "content_hash"]).values(
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
        connections = self._scope_connections
        if connections is None or self._scope.get() is not None or self._unit.get() is not None:
            yield
            return
        connection = await connections.take()
        token = self._scope.set(connection)
        ended = False
        try:
            yield
            ended = True
        finally:
            self._scope.reset(token)
            await connections.give_back(connection, reusable=ended)

    @asynccontextmanager
    async def _open_unit(self) -> AsyncIterator[None]:
        if self._unit.get() is not None:
            async with self._open_savepoint():
                yield
            return
        async with self.session_maker() as session, self._bound(Unit(session, made=session)):
            if self._sqlite:
                await take_write_lock(session)  # the unit will write: no lock upgrade after its reads
            try:
                yield
            except BaseException:
                await session.rollback()
                raise
            await session.commit()

    @asynccontextmanager
    async def _bound(self, unit: Unit) -> AsyncIterator[None]:
        """Make ``unit`` the open unit (and its session the tools' unit of work) for the block."""
        token = self._unit.set(unit)
        try:
            with self._binding(unit):
                yield
        finally:
            self._unit.reset(token)

    def _binding(self, unit: Unit) -> AbstractContextManager[Any]:
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
    async def _statement(self) -> AsyncIterator[Executor]:
        """Where one statement that is atomic on its own runs (an insert, a lease's UPDATE): outside any unit and
        scope on PostgreSQL, a pooled connection in autocommit, one round trip instead of BEGIN, the statement
        and COMMIT; elsewhere as :meth:`_session` runs a write."""
        if self._autocommit is not None and self._unit.get() is None and self._scope.get() is None:
            async with self._autocommit.connect() as connection:
                yield connection
            return
        async with self._session(write=True) as session:
            yield session

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

    def _from_row(self, row: Any, keys: tuple[str, ...] | None = None) -> Execution:
        """An engine execution from a ``workflow_executions`` row mapping (with its change rows applied to its
        ``ctx`` when the row has them; only ``keys`` of it when given)."""
        execution = execution_from_row(row)
        if self._change_log is None:
            return execution
        return self._change_log.rebuild(execution, row.get(LABEL), keys)

    def _read_columns(self, session: Executor) -> list[Any]:
        """What a read of whole executions selects: the row, and its change rows when the store has a change log."""
        columns: list[Any] = list(self._executions.c)
        if self._change_log is not None:
            columns.append(self._change_log.column(_dialect(session)))
        return columns

    async def _drop_changes(self, session: Executor, key: uuid.UUID) -> None:
        """Delete the change rows of the execution ``key`` (its ``ctx`` was written whole, or it is deleted)."""
        if self._change_log is not None:
            table = self._change_log.table
            await session.execute(delete(table).where(table.c.execution_id == key))

    async def _write_changes(self, session: Executor, ctx_write: CtxWrite, key: uuid.UUID) -> None:
        """What a checkpoint writes of the context besides the row: its change row, or the deletion of them."""
        assert self._change_log is not None
        table = self._change_log.table
        if ctx_write.drop_below is not None:
            await session.execute(delete(table).where(table.c.execution_id == key, table.c.seq < ctx_write.drop_below))
        if ctx_write.change is not None:
            await session.execute(insert(table), ctx_write.change)

    def _replacing(self, execution: Execution, values: dict[str, Any]) -> dict[str, Any] | None:
        """For a write of the execution as it is (``save``, ``transition``): the base row a large context goes
        to, its ``ctx`` column then an empty object in ``values`` (so the row stays small); ``None`` for a
        small context, written into the column."""
        if self._change_log is None:
            return None
        base = self._change_log.replacing(execution, values["id"])
        if base is not None:
            values["ctx"] = {}
        return base

    async def _replace_changes(self, session: Executor, key: uuid.UUID, base: dict[str, Any] | None) -> None:
        """Delete the execution's change rows, then write its base row when it has one."""
        await self._drop_changes(session, key)
        if base is not None and self._change_log is not None:
            await session.execute(insert(self._change_log.table), base)

    def _written_whole(self, execution: Execution, base: dict[str, Any] | None) -> None:
        """Record on the execution's context that it was just written whole (into a base row when given)."""
        if self._change_log is not None:
            ChangeLog.reserve(execution, self._change_log.whole(execution, base))

    async def _write_execution(
        self,
        session: Executor,
        values: dict[str, Any],
        owner: str | None = None,
        *,
        with_ctx: bool = True,
        release: bool = False,
    ) -> None:
        """Update the execution row (one cached statement); insert it when it does not exist yet.

        With ``owner`` (a leased checkpoint) the row is updated only while ``owner`` holds the lease,
        else :class:`LeaseLostError`; with ``release`` too, the update gives that lease up. Without
        ``with_ctx`` the update leaves the ``ctx`` column as it is.
        """
        params = {f"new_{name}": values[name] for name in self._update_columns if with_ctx or name != "ctx"}
        params["key"] = values["id"]
        if owner is not None:
            params["fence_owner"] = owner
            if release:
                leased = self._update_releasing_execution if with_ctx else self._update_releasing_execution_keeping_ctx
            else:
                leased = self._update_leased_execution if with_ctx else self._update_leased_execution_keeping_ctx
            result = await session.execute(leased, params)
            if not getattr(result, "rowcount", 0):
                raise LeaseLostError(f"execution {values['id']}: the lease of {owner} was lost")
            return
        statement = self._update_execution if with_ctx else self._update_execution_keeping_ctx
        result = await session.execute(statement, params)
        if not getattr(result, "rowcount", 0):
            await session.execute(self._insert_execution, values)

    def _execution_values(self, execution: Execution) -> dict[str, Any]:
        """The execution as column values, validated by the mapped class."""
        values: dict[str, Any] = {
            "id": to_uuid(execution.id, "execution id"),
            "workflow_id": execution.workflow_id,
            "status": plain_text(execution.status),
            "input": execution.input,
            "ctx": execution.ctx,
            "current_step": execution.current_step,
            "result": execution.result,
            "recover_to": execution.recover_to,
            "halt_data": execution.halt_data,
            "error": execution.error,
            "created_at": execution.created_at,
            "updated_at": execution.updated_at,
            "workspace_id": None if execution.workspace_id is None else to_uuid(execution.workspace_id, "workspace id"),
            "created_by_id": None if execution.created_by_id is None else to_uuid(execution.created_by_id, "user id"),
            "definition_version": execution.definition_version,
            "definition_hash": execution.definition_hash,
            "attempts": execution.attempts,
        }
        if "schedule_id" in self._executions.c:
            schedule = execution.schedule_id
            values["schedule_id"] = None if schedule is None else to_uuid(schedule, "schedule id")
        validate_values(self.execution_class, values)
        return values

    def _entry_rows(self, entries: Sequence[Entry]) -> list[dict[str, Any]]:
        """The entries as column values, each validated."""
        rows = [
            {
                "id": to_uuid(entry.id, "entry id"),
                "execution_id": to_uuid(entry.execution_id, "execution id"),
                "step_id": entry.step_id,
                "step_type": entry.step_type,
                "action": plain_text(entry.action),
                "duration_ms": entry.duration_ms,
                "input": entry.input,
                "output": entry.output,
                "error": entry.error,
                "timestamp": entry.timestamp,
                "attempt": entry.attempt,
            }
            for entry in entries
        ]
        for row in rows:
            validate_values(self.entry_class, row)
        return rows


class _LeaseStatements:
    """The claim, renewal and release UPDATEs, built once with bound parameters (``key``, ``owner``,
    ``expires`` and the claim's ``now``): a worker issues them for every execution, and a statement
    built per call cost SQLAlchemy its cache key each time (about a tenth of a worker's CPU on the
    queue bench, ``bench/workflow_queue.py``)."""

    def __init__(self, table: Table) -> None:
        key = table.c.id == bindparam("key", type_=table.c.id.type)
        owned = table.c.lease_owner == bindparam("owner", type_=table.c.lease_owner.type)
        expires = bindparam("expires", type_=table.c.lease_expires_at.type)
        now = bindparam("now", type_=table.c.lease_expires_at.type)
        self.claim = (
            update(table)
            .where(key, _claimable(table, now))
            .values(
                lease_owner=bindparam("owner", type_=table.c.lease_owner.type),
                lease_expires_at=expires,
                attempts=table.c.attempts + 1,
                # A claim changes no part of the run (as in the memory store): updated_at stays, so a queued
                # execution no step touched still looks untouched and its run reads no entry to find out.
                updated_at=table.c.updated_at,
            )
        )
        self.renew = update(table).where(key, owned).values(lease_expires_at=expires)
        self.release = update(table).where(key, owned).values(lease_owner=None, lease_expires_at=expires)


def _claimable(table: Table, now: datetime.datetime | ColumnElement[Any]) -> ColumnElement[bool]:
    """The SQL form of :func:`packs.core.workflow.stores.protocol.claimable` (``now`` a time or a parameter)."""
    expires = table.c.lease_expires_at
    return or_(
        and_(table.c.status == str(Status.PENDING), or_(expires.is_(None), expires <= now)),
        and_(table.c.status == str(Status.RUNNING), expires.is_not(None), expires <= now),
    )


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
