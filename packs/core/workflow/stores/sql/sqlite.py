"""SQLite for the SQL store: transactions for asyncio engines, and the aiosqlite writer of checkpoints.

Transactions are real, and begun as late as possible.

Python's sqlite3 module starts transactions implicitly before data changes only, so a SAVEPOINT
can become the outermost transaction and its RELEASE commits everything. The cure is SQLAlchemy's
documented recipe: turn the module's own handling off and emit ``BEGIN`` when SQLAlchemy begins a
transaction. Here that ``BEGIN`` is deferred to the transaction's first statement (a transaction
that runs none costs nothing), and the SQL store's checkpoint writer can send it together with its
own statements in one trip to aiosqlite's thread (:class:`SQLiteWriter`, see :mod:`.driver`).

A transaction that reads and then writes must upgrade its lock, and SQLite answers ``database is
locked`` at once to an upgrade while another connection writes (or has written since the read: WAL
keeps the reader on its snapshot); ``busy_timeout`` waits only for a lock taken by a transaction's
first statement. So the transactions that will write take the write lock at their ``BEGIN``
(``BEGIN IMMEDIATE``, which waits ``busy_timeout`` for it): a step's unit (the connection's
:data:`WRITE_INTENT`, set by the SQL store's units) and whatever calls :func:`take_write_lock`.
Read-only transactions (most requests) stay deferred and read beside the writer.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.util import await_only

from packs.core.workflow.errors import LeaseLostError
from packs.core.workflow.stores.sql.changes import CtxWrite
from packs.core.workflow.stores.sql.driver import DriverWriter
from packs.core.workflow.stores.sql.sqlite_wal import checkpoint_soon, database_file

BEGIN_PENDING = "packflow_sqlite_begin_pending"
"""Key in a connection's ``info``: SQLAlchemy began a transaction whose ``BEGIN`` is not sent yet (its value is
the ``BEGIN`` to send)."""

WRITE_INTENT = "packflow_sqlite_write_intent"
"""Key in a connection's ``info``: while it is set, a transaction begun on the connection will write, so it
takes the write lock at its ``BEGIN`` (the SQL store's step units set it; other dialects ignore it). In a
session's ``info`` (:func:`take_write_lock`): the same for the next transaction the session begins."""

DEFERRED = "BEGIN"
IMMEDIATE = "BEGIN IMMEDIATE"


def configure_sqlite_engine(engine: AsyncEngine) -> AsyncEngine:
    """Install the transaction recipe on a SQLite ``engine`` (others are left as they are)."""
    if engine.dialect.name != "sqlite":
        return engine
    sync_engine = engine.sync_engine
    event.listen(sync_engine, "connect", _turn_off_driver_transactions)
    event.listen(sync_engine, "begin", _defer_begin)
    event.listen(sync_engine, "before_cursor_execute", _send_pending_begin)
    event.listen(sync_engine, "commit", _forget_pending_begin)
    event.listen(sync_engine, "rollback", _forget_pending_begin)
    if not event.contains(Session, "after_begin", _session_began):
        event.listen(Session, "after_begin", _session_began)
    return engine


def _turn_off_driver_transactions(dbapi_connection: Any, _: Any) -> None:
    dbapi_connection.isolation_level = None


def _defer_begin(connection: Any) -> None:
    info = connection.info
    info[BEGIN_PENDING] = IMMEDIATE if info.get(WRITE_INTENT) else DEFERRED


def _send_pending_begin(connection: Any, *_: Any) -> None:
    begin = connection.info.pop(BEGIN_PENDING, None)
    if begin is not None:
        # Straight to the driver: one trip to aiosqlite's thread instead of a cursor's three.
        await_only(connection.connection.driver_connection.execute(begin))


async def take_write_lock(session: AsyncSession) -> None:
    """Make ``session``'s transaction (the one begun, else the next it begins) take SQLite's write lock at its
    ``BEGIN``: for a transaction that reads and then writes (see the module docstring).

    Call it before the transaction's first statement: a transaction whose ``BEGIN`` was sent already is left
    as it is, and so are other dialects. Begins nothing itself (a session that then runs no statement costs
    nothing).
    """
    if session.in_transaction():
        info = (await session.connection()).info
        if BEGIN_PENDING in info:
            info[BEGIN_PENDING] = IMMEDIATE
        return
    session.sync_session.info[WRITE_INTENT] = True


def _session_began(session: Session, _: Any, connection: Connection) -> None:
    """A session began a transaction on ``connection``: with :func:`take_write_lock`'s mark, an immediate one."""
    if session.info.pop(WRITE_INTENT, False) and BEGIN_PENDING in connection.info:
        connection.info[BEGIN_PENDING] = IMMEDIATE


def _forget_pending_begin(connection: Any) -> None:
    # An invalidated connection (a statement cut short, e.g. by a task's cancellation) must roll back
    # without a trip to the pool: reading its ``info`` would raise. Its DBAPI connection is gone, and
    # the pool clears ``info`` when it connects again, so there is nothing to forget.
    if not connection.invalidated:
        connection.info.pop(BEGIN_PENDING, None)


class SQLiteWriter(DriverWriter):
    """Checkpoints on SQLite through aiosqlite's connection: BEGIN (the unit's or our own), the statements and
    our own COMMIT, on the event loop's thread when that cannot wait (:meth:`_write_here`), else in one trip to
    the driver's thread.

    The update writes only the columns whose values changed since this store last wrote the execution
    (:attr:`~.changes.CtxWrite.row_before`; all of them when that is not known): SQLite rewrites the
    entries of every index on a column it assigns, even to the value it had, and ``status`` is in four.
    """

    def __init__(self, executions: Table, entries: Table, dialect: Dialect, changes: Table | None = None) -> None:
        super().__init__(executions, entries, dialect, changes)
        self.row_columns = tuple(self.keeping_ctx_columns)
        """The columns an update compares with what was last written (all it writes but ``ctx``)."""
        self.statements: dict[tuple[tuple[str, ...], bool, bool, bool], str] = {}

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
        context: in the unit's transaction when it has begun one, else as a transaction of their own. With
        ``owner``, fenced on that lease (given up by the update too with ``release``)."""
        _, driver = await self._connections(connection)
        joined = connection.in_transaction()
        with_ctx = ctx_write is None or ctx_write.whole
        row = self._row(self.executions, self.row_columns, values)
        before = None if ctx_write is None else ctx_write.row_before
        if before is None:
            names, assigned = self.row_columns, row
        else:
            changed = [
                (name, value)
                for name, value, old in zip(self.row_columns, row, before, strict=True)
                if value != old or name == "updated_at"
            ]
            names, assigned = tuple(name for name, _ in changed), tuple(value for _, value in changed)
        key = self._row(self.executions, ("id",), values)
        parameters = (
            *(self._row(self.executions, ("ctx",), values) if with_ctx else ()),
            *assigned,
            *key,
            *(() if owner is None else (owner,)),
        )
        entry_rows = [self._row(self.entries, self.entry_columns, entry) for entry in rows]
        if ctx_write is not None:
            ctx_write.after.row = row  # a failed write marks the context whole, and the next writes every column
        info = connection.info
        begin = DEFERRED if not joined else info.pop(BEGIN_PENDING, None)
        change = self._change_row(ctx_write)
        drop = None if ctx_write is None else ctx_write.drop_below
        statements = (
            self._update(names, with_ctx, owner is not None, release),
            parameters,
            key[0],
            owner,
            values,
            entry_rows,
            change,
            drop,
        )
        sqlite = driver._conn
        settings = info.get(_SETTINGS)
        if settings is None:
            settings = info[_SETTINGS] = _settings_of(sqlite)
        if self._write_here(sqlite, settings, begin, not joined, statements):
            if not joined:
                settings.commits += 1
                if settings.commits % CHECKPOINT_EVERY == 0:
                    await self._checkpoint_wal(driver, sqlite, settings)
            return
        await driver._execute(self._write, sqlite, begin, not joined, statements)

    @staticmethod
    async def _checkpoint_wal(driver: Any, sqlite: sqlite3.Connection, settings: _Settings) -> None:
        """The WAL checkpoint, beside the writer on a connection of its own when the database is a file (the
        commit returns at once, see :mod:`.sqlite_wal`), else on aiosqlite's thread."""
        if settings.path is not None:
            checkpoint_soon(settings.path)
        else:
            await driver._execute(_pragma, sqlite, "wal_checkpoint(PASSIVE)")

    def _write_here(
        self, connection: Any, settings: _Settings, begin: str | None, own: bool, statements: tuple[Any, ...]
    ) -> bool:
        """The checkpoint on the event loop's thread, skipping the trip to aiosqlite's (about 25 us of CPU and a
        thread wake-up per step); ``False`` (nothing done) when another connection holds the write lock.

        Nothing here waits: a BEGIN takes the write lock only if it is free (``busy_timeout`` 0 for it), a
        transaction begun already holds it (a step's unit begins immediate), and the commit of a transaction of
        its own leaves the WAL checkpoint (its fsyncs) to another thread (:data:`CHECKPOINT_EVERY`).
        """
        if begin is not None:
            _pragma(connection, "busy_timeout = 0")
            try:
                connection.execute(IMMEDIATE)
            except sqlite3.OperationalError:
                if connection.in_transaction:
                    raise
                return False  # busy: the driver's thread waits for the lock
            finally:
                _pragma(connection, f"busy_timeout = {settings.busy_timeout}")
        self._run(connection, own, statements, settings)
        return True

    def _update(self, names: tuple[str, ...], with_ctx: bool, leased: bool, release: bool = False) -> str:
        """The update of ``ctx`` (when ``with_ctx``) and ``names`` by id, fenced on the lease when ``leased`` (and
        giving it up with ``release``)."""
        release = leased and release
        found = self.statements.get((names, with_ctx, leased, release))
        if found is None:
            columns = ["ctx", *names] if with_ctx else list(names)
            update_sql, leased_sql = self._update_sql(self.executions, columns, release=release)
            found = self.statements[(names, with_ctx, leased, release)] = leased_sql if leased else update_sql
        return found

    def _mark(self, position: int) -> str:
        return "?"

    def _write(self, connection: Any, begin: str | None, own: bool, statements: tuple[Any, ...]) -> None:
        """The checkpoint, run in aiosqlite's thread on the sqlite3 connection (when another connection holds
        the write lock, which its BEGIN waits for).

        ``begin``: the transaction's BEGIN to send first (``None``: it was sent); ``own``: the transaction is
        this checkpoint's alone, so commit it (or roll it back) here too; ``statements``: see
        :meth:`_statements`.
        """
        if begin is not None:
            connection.execute(begin)
        self._run(connection, own, statements)

    def _run(self, connection: Any, own: bool, statements: tuple[Any, ...], deferring: _Settings | None = None) -> None:
        """:meth:`_statements`, then, when the transaction is ``own``, its COMMIT (or its ROLLBACK on failure);
        with ``deferring`` (the connection's settings) the COMMIT leaves the WAL checkpoint for later."""
        try:
            self._statements(connection, *statements)
        except BaseException:
            if own:
                connection.execute("ROLLBACK")
            raise
        if not own:
            return
        if deferring is None:
            connection.execute("COMMIT")
            return
        _pragma(connection, "wal_autocheckpoint = 0")
        try:
            connection.execute("COMMIT")
        finally:
            _pragma(connection, f"wal_autocheckpoint = {deferring.autocheckpoint}")

    def _statements(
        self,
        connection: Any,
        update_sql: str,
        parameters: tuple[Any, ...],
        key: Any,
        owner: str | None,
        values: dict[str, Any],
        entry_rows: list[tuple[Any, ...]],
        change: tuple[Any, ...] | None,
        drop: int | None,
    ) -> None:
        """The checkpoint's statements: ``update_sql`` with ``parameters``, the update of the row ``key``, fenced
        on the lease of ``owner`` when given (updating nothing then means the lease was lost; without an owner,
        the row is inserted); ``change``: the change row to insert; ``drop``: delete the execution's change rows
        below that ``seq``; then the entries."""
        if connection.execute(update_sql, parameters).rowcount == 0:
            if owner is not None:
                raise LeaseLostError(f"execution {values['id']}: the lease of {owner} was lost")
            # A new execution: its row holds the whole context, so no change row is needed.
            connection.execute(self.insert_execution_sql, self._row(self.executions, self.execution_columns, values))
        else:
            if drop is not None:
                connection.execute(self.drop_changes_sql, (key, drop))
            if change is not None:
                connection.execute(self.insert_change_sql, change)
        if entry_rows:
            connection.executemany(self.insert_entry_sql, entry_rows)


CHECKPOINT_EVERY = 128
"""A connection's checkpoints that commit on the event loop's thread ask for the WAL checkpoint (copying the
WAL into the database, with its fsyncs) once every this many commits (about SQLite's default of 1000 pages,
at about eight pages a step), instead of SQLite running it inside a commit: beside the writer on a connection
of its own (:mod:`.sqlite_wal`), or in aiosqlite's thread for a database that is not a file."""

_SETTINGS = "packflow_sqlite_writer_settings"
"""Key in a connection's ``info``: its :class:`_Settings`."""


@dataclass(slots=True)
class _Settings:
    """A connection's own ``busy_timeout`` and ``wal_autocheckpoint`` (set again after the writer's changes),
    its database file, and the writer's commits on it so far."""

    busy_timeout: int
    autocheckpoint: int
    path: str | None
    """The database file (``None``: in memory)."""
    commits: int = 0


def _settings_of(connection: sqlite3.Connection) -> _Settings:
    busy_timeout = int(_pragma(connection, "busy_timeout"))
    return _Settings(busy_timeout, int(_pragma(connection, "wal_autocheckpoint")), database_file(connection))


def _pragma(connection: sqlite3.Connection, pragma: str) -> Any:
    """Run ``PRAGMA <pragma>`` and close its cursor at once (a statement left open would stop the COMMIT)."""
    cursor = connection.execute(f"PRAGMA {pragma}")
    try:
        row = cursor.fetchone()
    finally:
        cursor.close()
    return None if row is None else row[0]
