"""The asyncpg writer of the SQL store's checkpoints: one round trip per checkpoint (see :mod:`.driver`).

The checkpoint that ends a run (it gives the lease up) outside any open transaction is group-committed:
the runs that reach their last checkpoint in the same turn of the event loop write theirs in one statement
(:class:`FinalCheckpoints`), each still fenced on its own lease. A worker finishing many short runs at once,
e.g. a burst of timers, then sends one statement and one commit for all of them.
"""

from __future__ import annotations

import asyncio
import uuid
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from packs.core.workflow.errors import LeaseLostError
from packs.core.workflow.stores.sql.changes import CtxWrite
from packs.core.workflow.stores.sql.driver import RELEASE_SQL, DriverWriter

Variant = tuple[bool, bool, bool, bool, bool, bool]
"""What one checkpoint statement does: (writes ctx, leased, inserts entries, inserts a change row, drops changes,
gives the lease up)."""

FINALS: frozenset[Variant] = frozenset(
    {(True, True, True, False, False, True), (False, True, True, False, False, True)}
)
"""The checkpoints that end a leased run, writing the ``ctx`` column whole or leaving it (no change row): the
variants grouped (each with its own kind)."""


@dataclass
class _Final:
    """One run's final checkpoint waiting for its group's statement."""

    key: Any
    parameters: tuple[Any, ...]
    entry_rows: list[tuple[Any, ...]]
    done: asyncio.Future[bool | None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    """True when written, False when its lease was lost, ``None`` when the group failed (write it alone)."""


def _answer(members: list[_Final], result: bool | None) -> None:
    """Give ``members`` (still waiting) their ``result``."""
    for member in members:
        if not member.done.done():
            member.done.set_result(result)


class AsyncpgWriter(DriverWriter):
    """Checkpoints on PostgreSQL through asyncpg: the UPDATE, the entries' INSERT and the context's change row
    (or the deletion of the change rows) in one statement."""

    native_types = frozenset({uuid.UUID})  # asyncpg encodes a UUID (or its text); advanced-alchemy's GUID: str()

    def __init__(self, executions: Table, entries: Table, dialect: Dialect, changes: Table | None = None) -> None:
        super().__init__(executions, entries, dialect, changes)
        self.dialect = dialect
        self.tables = {table.name: table for table in (executions, entries, changes) if table is not None}
        self.statements: dict[Variant, str] = {}
        self._groups: dict[Variant, list[_Final]] = {}
        """The final checkpoints of this turn of the event loop, by variant, before their statement is sent."""
        self._group_sql: dict[Variant, str] = {}

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
        adapted, driver = await self._connections(connection)
        with_ctx = ctx_write is None or ctx_write.whole
        parameters, entry_rows = self._parameters(values, rows, owner, with_ctx)
        change = self._change_row(ctx_write)
        drop = None if ctx_write is None else ctx_write.drop_below
        leased = owner is not None
        releasing = leased and release
        variant: Variant = (with_ctx, leased, bool(entry_rows), change is not None, drop is not None, releasing)
        if drop is not None:
            change = (*(change or ()), drop)
        if not connection.in_transaction():
            # One statement is its own transaction (autocommit): no BEGIN/COMMIT round trips. The rare
            # fallback that inserts a new execution row opens a transaction of its own.
            if variant in FINALS:
                await self._final(driver, variant, values, parameters, entry_rows)
                return
            await self._write(driver, values, parameters, entry_rows, change, variant, autocommit=True)
            return
        if not adapted._started:
            # asyncpg's adapter sends BEGIN with its first statement; this checkpoint is that statement.
            await adapted._start_transaction()
        await self._write(driver, values, parameters, entry_rows, change, variant)

    async def _final(
        self,
        driver: Any,
        variant: Variant,
        values: dict[str, Any],
        parameters: tuple[Any, ...],
        entry_rows: list[tuple[Any, ...]],
    ) -> None:
        """The run's final checkpoint, grouped with the others of this turn of the event loop.

        The first run of a turn opens the group, yields once so that the runs at the same point join it, and
        sends the group's statement on its own connection; the others wait for it. When the group's
        statement fails, each writes its checkpoint alone (nothing of the group was committed).
        """
        final = _Final(parameters[-2], parameters, entry_rows)
        joined = self._groups.get(variant)
        if joined is not None:
            joined.append(final)
            written = await final.done
        else:
            group = self._groups[variant] = [final]
            try:
                await asyncio.sleep(0)
            except BaseException:
                del self._groups[variant]
                _answer(group[1:], None)
                raise
            del self._groups[variant]
            written = await self._write_group(driver, variant, group)
        if written is None:  # alone, or the group's statement failed: the plain statement (it raises when lost)
            await self._write(driver, values, parameters, entry_rows, None, variant, autocommit=True)
        elif not written:
            raise LeaseLostError(f"execution {values['id']}: the lease of {parameters[-1]} was lost")

    async def _write_group(self, driver: Any, variant: Variant, group: list[_Final]) -> bool | None:
        """Send the group's statement and answer its other members; the first member's result."""
        if len(group) == 1:
            return None  # alone: the plain statement
        try:
            columns = [list(column) for column in zip(*(final.parameters for final in group), strict=True)]
            rows = [row for final in group for row in final.entry_rows]
            entries = [list(column) for column in zip(*rows, strict=True)]
            found = await driver.fetchval(self._group_statement(variant), *columns, *entries)
        except Exception:
            _answer(group, None)  # nothing of the group was committed: each writes its own
            return None
        except BaseException:
            _answer(group[1:], None)
            raise
        written = {str(key) for key in found or ()}
        for member in group[1:]:
            member.done.set_result(str(member.key) in written)
        return str(group[0].key) in written

    def _group_statement(self, variant: Variant) -> str:
        """The statement of a group of final checkpoints of ``variant`` (built once): every row's update fenced on
        its lease, then the entries of the rows updated; it answers the ids updated."""
        found = self._group_sql.get(variant)
        if found is not None:
            return found
        updated = self.update_columns if variant[0] else self.keeping_ctx_columns
        names = [*updated, "id", "lease_owner"]
        values = self._casts(self.executions, names, 1, "[]")
        aliases = [*updated, "id", "owner"]
        assignments = ", ".join(f"{name} = v.{name}" for name in updated)
        entries = self._casts(self.entries, self.entry_columns, len(names) + 1, "[]")
        table = self.executions
        statement = self._group_sql[variant] = (
            f"WITH v AS (SELECT * FROM unnest({values}) AS v({', '.join(aliases)})), "
            f"updated AS (UPDATE {table} AS e SET {assignments}{RELEASE_SQL} FROM v "
            f"WHERE e.id = v.id AND e.lease_owner = v.owner RETURNING e.id), "
            f"added AS (INSERT INTO {self.entries} ({', '.join(self.entry_columns)}) "
            f"SELECT * FROM unnest({entries}) AS x({', '.join(self.entry_columns)}) "
            f"WHERE x.execution_id IN (SELECT id FROM updated) RETURNING 1) "
            "SELECT array_agg(id) FROM updated"
        )
        return statement

    def _mark(self, position: int) -> str:
        return f"${position}"

    def _statement(self, variant: Variant) -> str:
        """The one statement of a checkpoint ``variant`` (built once): the update, and only if it updated a row,
        the inserts and the deletion, as data-modifying CTEs."""
        found = self.statements.get(variant)
        if found is not None:
            return found
        with_ctx, leased, entries, change, drop, _ = variant
        columns = self.update_columns if with_ctx else self.keeping_ctx_columns
        update_sql = self._update(variant)
        key = f"${len(columns) + 1}"
        position = len(columns) + (3 if leased else 2)
        parts = [f"updated AS ({update_sql} RETURNING 1)"]
        if entries:
            arrays = self._casts(self.entries, self.entry_columns, position, "[]")
            position += len(self.entry_columns)
            parts.append(
                f"added AS (INSERT INTO {self.entries} ({', '.join(self.entry_columns)}) "
                f"SELECT * FROM unnest({arrays}) WHERE EXISTS (SELECT 1 FROM updated) RETURNING 1)"
            )
        if change and self.changes is not None:
            marks = self._casts(self.changes, self.change_columns, position, "")
            position += len(self.change_columns)
            parts.append(
                f"changed AS (INSERT INTO {self.changes} ({', '.join(self.change_columns)}) "
                f"SELECT {marks} WHERE EXISTS (SELECT 1 FROM updated) RETURNING 1)"
            )
        if drop and self.changes is not None:
            parts.append(
                f"dropped AS (DELETE FROM {self.changes} WHERE execution_id = {key} AND seq < ${position}::INTEGER "
                "AND EXISTS (SELECT 1 FROM updated) RETURNING 1)"
            )
        statement = self.statements[variant] = f"WITH {', '.join(parts)} SELECT count(*) FROM updated"
        return statement

    def _update(self, variant: Variant) -> str:
        """The execution row's UPDATE of a checkpoint ``variant`` (fenced when leased, giving the lease up when
        releasing)."""
        with_ctx, leased, _, _, _, release = variant
        if release:
            return self.releasing_update_sql if with_ctx else self.releasing_update_keeping_ctx_sql
        if with_ctx:
            return self.leased_update_sql if leased else self.update_sql
        return self.leased_update_keeping_ctx_sql if leased else self.update_keeping_ctx_sql

    def _casts(self, table: str, columns: list[str], first: int, suffix: str) -> str:
        """``$first::type, ...`` for ``columns`` of ``table`` (``suffix`` ``[]``: arrays of them)."""
        found = self.tables[table]
        return ", ".join(
            f"${n}::{found.c[name].type.dialect_impl(self.dialect).compile(self.dialect)}{suffix}"
            for n, name in enumerate(columns, start=first)
        )

    async def _write(
        self,
        driver: Any,
        values: dict[str, Any],
        parameters: tuple[Any, ...],
        entry_rows: list[tuple[Any, ...]],
        change: tuple[Any, ...] | None,
        variant: Variant,
        autocommit: bool = False,
    ) -> None:
        """One round trip: the UPDATE with the entries' INSERT and the context's writes in one statement."""
        leased = variant[1]
        if entry_rows or change is not None:
            columns = [list(column) for column in zip(*entry_rows, strict=True)] if entry_rows else []
            updated = await driver.fetchval(self._statement(variant), *parameters, *columns, *(change or ()))
        else:
            updated = 0 if (await driver.execute(self._update(variant), *parameters)).endswith(" 0") else 1
        if not updated and leased:
            raise LeaseLostError(f"execution {values['id']}: the lease of {parameters[-1]} was lost")
        if not updated:
            # A new execution: its row holds the whole context, so no change row is needed.
            transaction = driver.transaction() if autocommit else nullcontext()
            async with transaction:
                await driver.execute(
                    self.insert_execution_sql, *self._row(self.executions, self.execution_columns, values)
                )
                if entry_rows:
                    await driver.executemany(self.insert_entry_sql, entry_rows)
