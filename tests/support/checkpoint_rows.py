"""What the checkpoint tests share: a service writing one row per call in the unit it runs in, a crash the
engine cannot catch, and plain SQL beside the store (docs/workflow-language.md, section 5).

Shared by ``tests/core/workflow/test_loop_checkpoints.py``, ``test_parallel_checkpoints.py`` and
``test_retry_catch.py`` (its ``sql``).
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from sqlalchemy import text

from packs.core import workflow as wf
from packs.core.db import current_session
from packs.core.workflow.stores.sql import SQLStore


class Crash(BaseException):
    """What a process death looks like from inside: nothing the engine catches."""


class RowWriter:
    """A service writing one row per call to :attr:`table` in the unit it runs in (on a SQL store only);
    it crashes (:class:`Crash`) at item ``crash_at`` and fails (``RuntimeError``) at item ``fail_at``.

    Subclasses name the table; ``yields`` gives other tasks a turn after the write (parallel branches).
    """

    table: ClassVar[str]
    yields: ClassVar[bool] = False

    def __init__(self, store: wf.Store, crash_at: int | None = None, fail_at: int | None = None) -> None:
        self.sql = isinstance(store, SQLStore)
        self.crash_at = crash_at
        self.fail_at = fail_at
        self.calls: list[int] = []

    async def write(self, item: int) -> dict[str, int]:
        self.calls.append(item)
        if self.sql:
            await current_session().execute(text(f"INSERT INTO {self.table} (item) VALUES (:item)"), {"item": item})
        if self.yields:
            await asyncio.sleep(0)
        if item == self.crash_at:
            raise Crash
        if item == self.fail_at:
            raise RuntimeError(f"item {item} is bad")
        return {"item": item}


async def sql(store: wf.Store, statement: str) -> Any:
    """Run ``statement`` in a transaction of its own (outside any unit); its scalar result, if any."""
    assert isinstance(store, SQLStore)
    async with store.session_maker() as session:
        result = await session.execute(text(statement))
        value = result.scalar() if result.returns_rows else None
        await session.commit()
    return value


async def empty_rows_table(store: wf.Store, table: str) -> bool:
    """An empty ``table`` of items on a SQL store; whether there is one (a memory store has none)."""
    if not isinstance(store, SQLStore):
        return False
    await sql(store, f"CREATE TABLE IF NOT EXISTS {table} (item INTEGER NOT NULL)")
    await sql(store, f"DELETE FROM {table}")
    return True
