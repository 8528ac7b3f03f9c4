"""Another SQLite writer: a plain ``sqlite3`` connection holding the write lock of a database file, for tests of
what the app's transactions do while someone else writes (packs/core/workflow/stores/sql/sqlite.py)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.engine import make_url

RELEASE_AFTER_SECONDS = 3.0
"""How long the other writer keeps its lock unless told to commit sooner (well under busy_timeout's 5 s)."""


class OtherWriter:
    """A connection holding SQLite's write lock with an uncommitted change (``statement``), committed in a thread
    of its own once ``read`` is set, or after :data:`RELEASE_AFTER_SECONDS`; ``committed`` is set then."""

    def __init__(self, path: str, statement: str, parameters: tuple[object, ...] = ()) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.connection.execute("PRAGMA busy_timeout=5000")
        self.statement = statement
        self.parameters = parameters
        self.read = threading.Event()
        self.committed = threading.Event()
        self.thread = threading.Thread(target=self._release, daemon=True)

    def take_lock(self) -> None:
        """Begin the transaction and make the change (waiting, up to busy_timeout, for a transaction of the app's
        under way: run it off the event loop, which that transaction needs to finish), then start the release."""
        self.connection.execute("BEGIN IMMEDIATE")
        self.connection.execute(self.statement, self.parameters)
        self.thread.start()

    def _release(self) -> None:
        self.read.wait(RELEASE_AFTER_SECONDS)
        self.connection.execute("COMMIT")
        self.committed.set()

    def close(self) -> None:
        self.read.set()
        if self.thread.is_alive():
            self.thread.join()
        self.connection.close()


@asynccontextmanager
async def other_writer(
    database_url: str, statement: str, parameters: tuple[object, ...] = ()
) -> AsyncIterator[OtherWriter]:
    """An :class:`OtherWriter` on the SQLite file of ``database_url`` holding the lock for the block, then committed.

    The lock is taken in a thread while the event loop goes on: a write of the app's that was under way when the
    block began (a background sweep's, say) finishes first, instead of waiting on a loop blocked by this wait.
    """
    path = make_url(database_url).database
    assert path is not None
    writer = OtherWriter(path, statement, parameters)
    try:
        await asyncio.to_thread(writer.take_lock)
        yield writer
    finally:
        await asyncio.to_thread(writer.close)
