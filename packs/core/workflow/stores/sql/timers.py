"""The SQL store's durable timers: the ``workflow_timers`` table (docs/workflow-language.md, Waits and durable timers).

:class:`SQLTimers` is a part of :class:`~packs.core.workflow.stores.sql.store.SQLStore`: its methods
run in the store's unit when one is open (a step's timer commits with its checkpoint), else in a
short transaction of their own. The table is the store's ``timer_class`` or, by default, the table
named ``workflow_timers`` on the metadata of its execution class (the core pack's ``WorkflowTimer``).

Firing exactly once: :meth:`SQLTimers.claim_timer` is ``UPDATE ... SET fired_at WHERE id AND
fired_at IS NULL``, which one transaction wins. Inside a unit on PostgreSQL, :meth:`SQLTimers.due_timers`
locks the rows it answers with ``FOR UPDATE SKIP LOCKED``, so two workers sweeping together take
different timers instead of waiting on each other's.
"""

from __future__ import annotations

import datetime
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, Table, Update, delete, insert, select, update

from packs.core.workflow.errors import ConfigError
from packs.core.workflow.model import Execution, utcnow
from packs.core.workflow.stores.sql.rows import aware, to_uuid, uuid_or_none
from packs.core.workflow.stores.sql.units import Executor
from packs.core.workflow.timers import Timer, note_added

TIMERS_TABLE = "workflow_timers"


class SQLTimers:
    """The timer methods of the SQL store (it provides ``_session``, ``in_unit`` and the table)."""

    timers_table: Table | None

    if TYPE_CHECKING:
        _executions: Table

        def _session(self, write: bool = False) -> AbstractAsyncContextManager[Executor]: ...

        def _read_columns(self, session: Executor) -> list[Any]: ...

        def _from_row(self, row: Any, keys: tuple[str, ...] | None = None) -> Execution: ...

        @property
        def in_unit(self) -> bool: ...

    def _timers(self) -> Table:
        if self.timers_table is None:
            raise ConfigError(
                f"this SQL store has no {TIMERS_TABLE} table: pass timer_class=... or import the core pack's models"
            )
        return self.timers_table

    async def add_timer(self, timer: Timer) -> None:
        """Insert ``timer`` (in the open unit, when there is one)."""
        values = {
            "id": to_uuid(timer.id, "timer id"),
            "kind": timer.kind,
            "due_at": timer.due_at,
            "execution_id": None if timer.execution_id is None else to_uuid(timer.execution_id, "execution id"),
            "schedule_id": None if timer.schedule_id is None else to_uuid(timer.schedule_id, "schedule id"),
            "payload": timer.payload,
            "created_at": timer.created_at,
            "fired_at": timer.fired_at,
        }
        async with self._session(write=True) as session:
            await session.execute(insert(self._timers()), values)
        note_added(timer)

    async def cancel_timers(self, execution_id: str, kind: str | None = None) -> int:
        """Delete the execution's unfired timers (of ``kind`` when given); how many."""
        key = uuid_or_none(execution_id)
        if key is None:
            return 0
        table = self._timers()
        statement = delete(table).where(table.c.execution_id == key, table.c.fired_at.is_(None))
        if kind is not None:
            statement = statement.where(table.c.kind == kind)
        async with self._session(write=True) as session:
            result = await session.execute(statement)
        return int(getattr(result, "rowcount", 0) or 0)

    async def due_timers(self, now: datetime.datetime, limit: int = 100) -> list[Timer]:
        """Unfired timers due at ``now``, earliest first (locked, skipping locked rows, inside a unit on PostgreSQL)."""
        table = self._timers()
        statement = (
            select(table)
            .where(table.c.fired_at.is_(None), table.c.due_at <= now)
            .order_by(table.c.due_at, table.c.id)
            .limit(limit)
        )
        if self.in_unit:
            statement = statement.with_for_update(skip_locked=True)
        async with self._session() as session:
            rows = (await session.execute(statement)).all()
        return [timer_from_row(row._mapping) for row in rows]

    async def claim_timer(self, timer_id: str, fired_at: datetime.datetime) -> bool:
        """Mark the timer fired unless it was already (or is gone); whether this call did."""
        key = uuid_or_none(timer_id)
        if key is None:
            return False
        table = self._timers()
        statement = update(table).where(table.c.id == key, table.c.fired_at.is_(None)).values(fired_at=fired_at)
        async with self._session(write=True) as session:
            result = await session.execute(statement)
        return bool(getattr(result, "rowcount", 0))

    async def claim_due_timers(self, now: datetime.datetime, limit: int = 100) -> list[Timer]:
        """Mark up to ``limit`` unfired timers due at ``now`` fired, in one statement; the timers this call took.

        On PostgreSQL the rows are picked ``FOR UPDATE SKIP LOCKED``: sweeps running together take different timers.
        One statement (on SQLite, a read then a write in one transaction cannot take the write lock while another
        writer went first); callers probe ``next_timer_due`` first, so a sweep with nothing due writes nothing.
        """
        table = self._timers()
        picked = _chosen_once(
            select(table.c.id)
            .where(table.c.fired_at.is_(None), table.c.due_at <= now)
            .order_by(table.c.due_at, table.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        statement = update(table).where(table.c.id.in_(picked)).values(fired_at=now).returning(*table.c)
        async with self._session(write=True) as session:
            rows = (await session.execute(statement)).all()
        timers = [timer_from_row(row._mapping) for row in rows]
        timers.sort(key=lambda timer: (timer.due_at, timer.id))
        return timers

    async def unclaim_timers(self, timer_ids: list[str]) -> None:
        """Make these timers unfired again (their handler failed: a later sweep fires them)."""
        keys = [key for key in (uuid_or_none(timer_id) for timer_id in timer_ids) if key is not None]
        if not keys:
            return
        table = self._timers()
        async with self._session(write=True) as session:
            await session.execute(update(table).where(table.c.id.in_(keys)).values(fired_at=None))

    async def wake_waiting(self, waits: list[tuple[str, str]], now: datetime.datetime) -> list[str]:
        """Queue the executions of ``(execution_id, timer_id)`` pairs that still halt at that timer's ``wait``.

        One compare-and-set for the lot: each such execution becomes ``pending`` at its resume step (its halt
        cleared, no lease, attempts reset); the ids of those it changed.
        """
        statement = self._waking(waits, now, {"attempts": 0, "lease_owner": None, "lease_expires_at": None})
        if statement is None:
            return []
        async with self._session(write=True) as session:
            woken = (await session.execute(statement.returning(self._executions.c.id))).scalars().all()
        return [str(key) for key in woken]

    async def wake_and_claim_waiting(
        self, waits: list[tuple[str, str]], now: datetime.datetime, owner: str, lease_seconds: float
    ) -> list[Execution]:
        """:meth:`wake_waiting` that also takes each woken execution's lease for ``owner`` (its first attempt, as
        a claim counts it), in the same statement; the executions as a claim reads them."""
        lease = {
            "attempts": 1,
            "lease_owner": owner,
            "lease_expires_at": now + datetime.timedelta(seconds=lease_seconds),
        }
        statement = self._waking(waits, now, lease)
        if statement is None:
            return []
        async with self._session(write=True) as session:
            rows = (await session.execute(statement.returning(*self._read_columns(session)))).all()
        return [self._from_row(row._mapping) for row in rows]

    async def extend_claim(self, claimed: Execution, lease_seconds: float) -> bool:
        """Extend the lease ``claimed`` was read with (by :meth:`wake_and_claim_waiting`) if nobody claimed the
        execution since: a compare-and-set on its owner and the expiry that claim wrote; whether it did."""
        table = self._executions
        statement = (
            update(table)
            .where(
                table.c.id == to_uuid(claimed.id, "execution id"),
                table.c.status == "pending",
                table.c.lease_owner == claimed.lease_owner,
                table.c.lease_expires_at == claimed.lease_expires_at,
            )
            .values(lease_expires_at=utcnow() + datetime.timedelta(seconds=lease_seconds))
        )
        async with self._session(write=True) as session:
            result = await session.execute(statement)
        return bool(getattr(result, "rowcount", 0))

    def _waking(self, waits: list[tuple[str, str]], now: datetime.datetime, lease: dict[str, Any]) -> Update | None:
        """The compare-and-set of :meth:`wake_waiting` with the ``lease`` columns it writes (``None``: no waits)."""
        keys = [key for key in (uuid_or_none(execution_id) for execution_id, _ in waits) if key is not None]
        if not keys:
            return None
        table = self._executions
        return (
            update(table)
            .where(
                table.c.id.in_(keys),
                # Not ``status = 'halted'``: that term could be read by the status index, and the planner picks it
                # over the primary key when its statistics lag behind a burst of new waits (it then reads every
                # halted execution for each batch: twice the statement's cost at 10k waits, on both databases).
                table.c.status.concat("") == "halted",
                table.c.halt_data["timer_id"].as_string().in_([timer_id for _, timer_id in waits]),
            )
            .values(
                status="pending",
                current_step=table.c.recover_to,
                recover_to=None,
                halt_data=None,
                updated_at=now,
                **lease,
            )
        )

    async def purge_fired_timers(self, before: datetime.datetime, limit: int = 1000) -> int:
        """Delete up to ``limit`` timers fired before ``before``, oldest first, in one statement; how many.

        On PostgreSQL the rows are picked ``FOR UPDATE SKIP LOCKED`` (purges of several workers take different
        rows); the partial index of fired rows (migration 0011) finds them without reading the unfired ones.
        """
        table = self._timers()
        picked = _chosen_once(
            select(table.c.id)
            .where(table.c.fired_at.is_not(None), table.c.fired_at < before)
            .order_by(table.c.fired_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        async with self._session(write=True) as session:
            # RETURNING, not the rowcount: sqlite3 reports none for a statement that begins with WITH.
            deleted = (await session.execute(delete(table).where(table.c.id.in_(picked)).returning(table.c.id))).all()
        return len(deleted)

    async def timers_of(self, execution_id: str) -> list[Timer]:
        """The execution's unfired timers, earliest first."""
        key = uuid_or_none(execution_id)
        if key is None:
            return []
        table = self._timers()
        statement = (
            select(table)
            .where(table.c.execution_id == key, table.c.fired_at.is_(None))
            .order_by(table.c.due_at, table.c.id)
        )
        async with self._session() as session:
            rows = (await session.execute(statement)).all()
        return [timer_from_row(row._mapping) for row in rows]

    async def next_timer_due(self) -> datetime.datetime | None:
        """The earliest due time of an unfired timer, or ``None``."""
        table = self._timers()
        statement = select(table.c.due_at).where(table.c.fired_at.is_(None)).order_by(table.c.due_at).limit(1)
        async with self._session() as session:
            found = (await session.execute(statement)).scalar()
        return None if found is None else aware(found)


def _chosen_once(picked: Select[Any]) -> Select[Any]:
    """``picked`` (a ``LIMIT ... FOR UPDATE SKIP LOCKED`` choice of ids) as a subquery that runs once.

    In ``id IN (picked)`` PostgreSQL may run the subquery again for every row of a nested loop; each run after
    the statement changed the rows chosen first skips them (its own change locks them) and chooses the next
    ones, so the statement took more than ``limit`` rows (a claim of 3 took 5). A ``MATERIALIZED`` CTE runs
    once. SQLite runs an ``IN`` subquery once anyway.
    """
    chosen = picked.cte("chosen").prefix_with("MATERIALIZED", dialect="postgresql")
    return select(chosen.c.id)


def timer_from_row(row: Any) -> Timer:
    """An engine timer from a ``workflow_timers`` row mapping."""
    return Timer(
        id=str(row["id"]),
        kind=row["kind"],
        due_at=aware(row["due_at"]),
        execution_id=None if row["execution_id"] is None else str(row["execution_id"]),
        schedule_id=None if row["schedule_id"] is None else str(row["schedule_id"]),
        payload=dict(row["payload"] or {}),
        created_at=aware(row["created_at"]),
        fired_at=None if row["fired_at"] is None else aware(row["fired_at"]),
    )


def timers_table_of(execution_class: type[Any], timer_class: type[Any] | None) -> Table | None:
    """The timers table a store uses: ``timer_class``'s, else ``workflow_timers`` beside the executions table."""
    if timer_class is not None:
        table: Table = timer_class.__table__
        return table
    metadata = getattr(getattr(execution_class, "__table__", None), "metadata", None)
    return None if metadata is None else metadata.tables.get(TIMERS_TABLE)
