"""Units of the SQL store: the transaction around one step, and its cheaper form inside an execution scope."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from packs.core.workflow.stores.sql.sqlite import WRITE_INTENT

Executor = AsyncSession | AsyncConnection
"""What the store's statements run on: the unit's session, or the connection held by a scope."""


@dataclass
class Unit:
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


class ScopeUnit:
    """A unit inside an execution scope: a transaction on the scope's connection, begun only when needed.

    A step whose code never touches the database begins nothing: its checkpoint is then one
    self-contained transaction written by the driver writer. When a tool asks for the session
    (or a retried call for a savepoint), the session begins the transaction, the checkpoint joins
    it, and the unit commits it at the end.

    The unit will write (its checkpoint), so on SQLite the transaction it begins takes the write lock at its
    ``BEGIN`` (:data:`~packs.core.workflow.stores.sql.sqlite.WRITE_INTENT`): a step that reads and then
    writes never has to upgrade a read lock, which SQLite refuses at once while another connection writes.

    A plain class rather than a generator-based context manager: it runs at every step.
    """

    __slots__ = ("bind", "binding", "connection", "current", "token", "unit")

    def __init__(
        self,
        current: ContextVar[Unit | None],
        bind: Callable[[Unit], AbstractContextManager[Any]],
        connection: AsyncConnection,
    ) -> None:
        self.current = current
        self.bind = bind
        self.connection = connection

    async def __aenter__(self) -> None:
        connection = self.connection
        self.unit = Unit(
            connection,
            make_session=lambda: AsyncSession(
                bind=connection, join_transaction_mode="rollback_only", expire_on_commit=False
            ),
        )
        self.token = self.current.set(self.unit)
        self.binding = self.bind(self.unit)
        self.binding.__enter__()
        connection.info[WRITE_INTENT] = True

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        self.binding.__exit__(exc_type, exc, tb)
        self.current.reset(self.token)
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
            if not connection.invalidated:  # an invalidated connection's info is gone (and reading it raises)
                connection.info.pop(WRITE_INTENT, None)
            if made is not None:
                await made.close()
