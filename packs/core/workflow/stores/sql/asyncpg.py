"""The asyncpg writer of the SQL store's checkpoints: one round trip per checkpoint (see :mod:`.driver`)."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from packs.core.workflow.errors import LeaseLostError
from packs.core.workflow.stores.sql.driver import DriverWriter


class AsyncpgWriter(DriverWriter):
    """Checkpoints on PostgreSQL through asyncpg: the UPDATE and the entries' INSERT in one statement."""

    def __init__(self, executions: Table, entries: Table, dialect: Dialect) -> None:
        super().__init__(executions, entries, dialect)
        self.update_and_insert_sql = self._update_and_insert_sql(self.update_sql, entries, dialect, 2)
        self.leased_update_and_insert_sql = self._update_and_insert_sql(self.leased_update_sql, entries, dialect, 3)

    async def checkpoint(
        self, connection: AsyncConnection, values: dict[str, Any], rows: list[dict[str, Any]], owner: str | None
    ) -> None:
        """Update (or insert) the execution row and insert the entries: in the unit's transaction when it
        has begun one, else as a transaction of their own. With ``owner``, fenced on that lease."""
        adapted, driver = await self._connections(connection)
        parameters, entry_rows = self._parameters(values, rows, owner)
        if not connection.in_transaction():
            # One statement is its own transaction (autocommit): no BEGIN/COMMIT round trips. The rare
            # fallback that inserts a new execution row opens a transaction of its own.
            await self._write(driver, values, parameters, entry_rows, owner, autocommit=True)
            return
        if not adapted._started:
            # asyncpg's adapter sends BEGIN with its first statement; this checkpoint is that statement.
            await adapted._start_transaction()
        await self._write(driver, values, parameters, entry_rows, owner)

    def _mark(self, position: int) -> str:
        return f"${position}"

    def _update_and_insert_sql(self, update_sql: str, entries: Table, dialect: Dialect, after: int) -> str:
        """Update the execution and, only if it exists, insert the entries from arrays."""
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

    async def _write(
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
