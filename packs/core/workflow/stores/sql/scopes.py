"""Connections kept started between execution scopes, so that a run costs no pool checkout.

The SQL store holds one connection for each run (its execution scope; docs/workflow-language.md, section 5).
Taking it from SQLAlchemy's pool and giving it back costs about 45 us of CPU on PostgreSQL (a greenlet
switch each way, the pool's checkout and reset, and a shielded task for the close): a tenth of what
a worker spends on a run woken by a timer. :class:`IdleConnections` keeps up to ``limit`` of those
connections started once a scope ends, and hands one to the next scope as it is.

A connection is kept only when its scope ended without an error and it is healthy (not closed, not
invalidated, no transaction left open); any other is closed as before. The kept ones are checked out
of the pool: the limit is the number of runs that may be under way at once (``pool_options`` in
``app/database.py`` sizes the pool for those and a few more). When the engine is disposed (the app's
shutdown, a command's end) the kept connections are closed with it.
"""

from __future__ import annotations

import logging

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

logger = logging.getLogger(__name__)


class IdleConnections:
    """Up to ``limit`` started connections of ``engine``, idle between execution scopes (none with ``limit`` 0)."""

    def __init__(self, engine: AsyncEngine, limit: int) -> None:
        self.engine = engine
        self.limit = max(0, limit)
        self._idle: list[AsyncConnection] = []
        if self.limit:
            event.listen(engine.sync_engine, "engine_disposed", self._drop_all)

    def __len__(self) -> int:
        return len(self._idle)

    async def take(self) -> AsyncConnection:
        """A started connection: a kept one when there is one, else a new checkout from the pool."""
        idle = self._idle
        while idle:
            connection = idle.pop()
            if not connection.closed and not connection.invalidated:
                return connection
        return await self.engine.connect()

    async def give_back(self, connection: AsyncConnection, *, reusable: bool) -> None:
        """Keep ``connection`` for the next scope when ``reusable`` (its scope ended without an error), it is
        healthy and there is room; else close it (back to the pool)."""
        if (
            reusable
            and len(self._idle) < self.limit
            and not connection.closed
            and not connection.invalidated
            and not connection.in_transaction()
        ):
            self._idle.append(connection)
            return
        await connection.close()

    def _drop_all(self, _: Engine) -> None:
        """The engine was disposed: close the kept connections (they belong to the pool it let go)."""
        idle, self._idle = self._idle, []
        for connection in idle:
            sync = connection.sync_connection
            if sync is None or sync.closed:
                continue
            try:
                # Inside AsyncEngine.dispose (a greenlet): closes the driver's connection; the pool forgets it.
                sync.invalidate()
            except Exception:
                logger.exception("closing a kept connection at the engine's disposal failed")
