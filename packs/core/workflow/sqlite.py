"""SQLite transactions for asyncio engines: real, and begun as late as possible.

Python's sqlite3 module starts transactions implicitly before data changes only, so a SAVEPOINT
can become the outermost transaction and its RELEASE commits everything. The cure is SQLAlchemy's
documented recipe: turn the module's own handling off and emit ``BEGIN`` when SQLAlchemy begins a
transaction. Here that ``BEGIN`` is deferred to the transaction's first statement (a transaction
that runs none costs nothing), and the SQL store's checkpoint writer can send it together with its
own statements in one trip to aiosqlite's thread.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

BEGIN_PENDING = "packflow_sqlite_begin_pending"
"""Key in a connection's ``info``: SQLAlchemy began a transaction whose ``BEGIN`` is not sent yet."""


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
    return engine


def _turn_off_driver_transactions(dbapi_connection: Any, _: Any) -> None:
    dbapi_connection.isolation_level = None


def _defer_begin(connection: Any) -> None:
    connection.info[BEGIN_PENDING] = True


def _send_pending_begin(connection: Any, *_: Any) -> None:
    if connection.info.pop(BEGIN_PENDING, False):
        # Straight to the driver: one trip to aiosqlite's thread instead of a cursor's three.
        await_only(connection.connection.driver_connection.execute("BEGIN"))


def _forget_pending_begin(connection: Any) -> None:
    # An invalidated connection (a statement cut short, e.g. by a task's cancellation) must roll back
    # without a trip to the pool: reading its ``info`` would raise. Its DBAPI connection is gone, and
    # the pool clears ``info`` when it connects again, so there is nothing to forget.
    if not connection.invalidated:
        connection.info.pop(BEGIN_PENDING, None)
