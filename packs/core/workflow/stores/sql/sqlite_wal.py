"""SQLite's WAL checkpoints, run beside the writer instead of inside its commits.

A WAL checkpoint copies the pages committed to the write-ahead log into the database file and syncs it:
milliseconds of I/O every few hundred commits. Run inside a commit (SQLite's ``wal_autocheckpoint``) or on
the writer's own connection, the step whose commit it follows waits for it. A *passive* checkpoint needs
no lock that writers or readers hold, so here it runs on a connection of its own, in a thread of the event
loop's default executor, while the writer goes on committing: :func:`checkpoint_soon` asks for one and
returns at once; one checkpoint of a file runs at a time, and a request made while it runs is already
covered by it (the next is asked for a batch of commits later).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import urllib.parse
from contextlib import closing

logger = logging.getLogger(__name__)

_under_way: dict[str, asyncio.Future[None]] = {}
"""The checkpoints running now, by database file."""


def database_file(connection: sqlite3.Connection) -> str | None:
    """The file of ``connection``'s main database, or ``None`` (in memory, or a temporary database)."""
    cursor = connection.execute("PRAGMA database_list")
    try:
        rows = cursor.fetchall()
    finally:
        cursor.close()
    return next((str(file) or None for _, name, file in rows if name == "main"), None)


def under_way(path: str) -> asyncio.Future[None] | None:
    """The checkpoint of the database file ``path`` running now, if any (to wait for it)."""
    return _under_way.get(path)


def checkpoint_soon(path: str) -> asyncio.Future[None]:
    """Start a passive WAL checkpoint of the database file ``path`` in a thread, unless one is under way; the
    checkpoint running. Never raises: a failure is logged and the next request tries again."""
    loop = asyncio.get_running_loop()
    running = _under_way.get(path)
    if running is not None and running.get_loop() is loop:
        return running  # (one of a loop that has gone, e.g. closed before its thread ended, is left behind)
    future = loop.run_in_executor(None, _checkpoint, path)
    _under_way[path] = future
    future.add_done_callback(lambda done: _under_way.pop(path, None) if _under_way.get(path) is done else None)
    return future


def _checkpoint(path: str) -> None:
    # mode=rw: a file removed meanwhile (its database dropped) is an error here, never a new empty database.
    uri = f"file:{urllib.parse.quote(path)}?mode=rw"
    try:
        with closing(sqlite3.connect(uri, uri=True, timeout=0, isolation_level=None, check_same_thread=False)) as db:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    except sqlite3.Error as error:
        logger.warning("WAL checkpoint of %s failed (the next one tries again): %s", path, error)
