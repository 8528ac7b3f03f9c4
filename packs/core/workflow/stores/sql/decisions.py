"""The SQL store's approval decisions: the ``workflow_decisions`` table (docs/workflow-language.md, ``approval``).

:class:`SQLDecisions` is a part of :class:`~packs.core.workflow.stores.sql.store.SQLStore`: its methods
run in the store's unit when one is open (a decision commits with the resume it settles, an operator's
decision with the step's checkpoint), else in a short transaction of their own. The table is the one
named ``workflow_decisions`` on the metadata of the store's execution class (the core pack's
``WorkflowDecision``).
"""

from __future__ import annotations

from collections.abc import Collection
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, insert, select

from packs.core.workflow.decisions import Decision
from packs.core.workflow.errors import ConfigError
from packs.core.workflow.stores.sql.rows import aware, to_uuid, uuid_or_none
from packs.core.workflow.stores.sql.units import Executor

DECISIONS_TABLE = "workflow_decisions"
HALTS_PER_QUERY = 500


class SQLDecisions:
    """The decision methods of the SQL store (it provides ``_session`` and its executions table)."""

    decided_in_page = True
    """``page`` with :class:`~packs.core.workflow.stores.protocol.MayDecide` leaves out every execution halted at
    an approval (not under a sub-workflow) that the user decided already (:mod:`.inbox`)."""

    if TYPE_CHECKING:
        _executions: Table

        def _session(self, write: bool = False) -> AbstractAsyncContextManager[Executor]: ...

    @property
    def decisions_table(self) -> Table | None:
        """The ``workflow_decisions`` table beside the executions table, ``None`` when there is none."""
        return self._executions.metadata.tables.get(DECISIONS_TABLE)

    def _decisions(self) -> Table:
        table = self.decisions_table
        if table is None:
            raise ConfigError(f"this SQL store has no {DECISIONS_TABLE} table: import the core pack's models")
        return table

    async def add_decision(self, decision: Decision) -> None:
        """Insert ``decision`` (in the open unit, when there is one)."""
        values = {
            "id": to_uuid(decision.id, "decision id"),
            "execution_id": to_uuid(decision.execution_id, "execution id"),
            "step_id": decision.step_id,
            "halt_id": to_uuid(decision.halt_id, "halt id"),
            "user_id": None if decision.user_id is None else to_uuid(decision.user_id, "user id"),
            "email": decision.email,
            "approved": decision.approved,
            "comment": decision.comment,
            "response": decision.response,
            "decided_at": decision.decided_at,
        }
        async with self._session(write=True) as session:
            await session.execute(insert(self._decisions()), values)

    async def decisions(self, halt_id: str) -> list[Decision]:
        """The decisions on the halt ``halt_id``, oldest first."""
        key = uuid_or_none(halt_id)
        if key is None:
            return []
        table = self._decisions()
        statement = select(table).where(table.c.halt_id == key).order_by(table.c.decided_at, table.c.id)
        async with self._session() as session:
            rows = (await session.execute(statement)).all()
        return [decision_from_row(row._mapping) for row in rows]

    async def decisions_of_halts(self, halt_ids: Collection[str]) -> dict[str, list[Decision]]:
        """The decisions on each of these halts, oldest first (a halt without any: an empty list), a few
        queries for any number of halts (the approvals inbox shows each pending approval's decisions)."""
        found: dict[str, list[Decision]] = {halt: [] for halt in halt_ids}
        keys = {key: halt for halt in found if (key := uuid_or_none(halt)) is not None}
        table = self._decisions()
        chosen = list(keys)
        for start in range(0, len(chosen), HALTS_PER_QUERY):
            statement = (
                select(table)
                .where(table.c.halt_id.in_(chosen[start : start + HALTS_PER_QUERY]))
                .order_by(table.c.decided_at, table.c.id)
            )
            async with self._session() as session:
                rows = (await session.execute(statement)).all()
            for row in rows:
                found[keys[row.halt_id]].append(decision_from_row(row._mapping))
        return found

    async def execution_decisions(self, execution_id: str) -> list[Decision]:
        """Every decision recorded on the execution ``execution_id``, oldest first."""
        key = uuid_or_none(execution_id)
        if key is None:
            return []
        table = self._decisions()
        statement = select(table).where(table.c.execution_id == key).order_by(table.c.decided_at, table.c.id)
        async with self._session() as session:
            rows = (await session.execute(statement)).all()
        return [decision_from_row(row._mapping) for row in rows]


def decision_from_row(row: Any) -> Decision:
    """An engine decision from a ``workflow_decisions`` row mapping."""
    return Decision(
        id=str(row["id"]),
        execution_id=str(row["execution_id"]),
        step_id=row["step_id"],
        halt_id=str(row["halt_id"]),
        approved=bool(row["approved"]),
        user_id=None if row["user_id"] is None else str(row["user_id"]),
        email=row["email"],
        comment=row["comment"],
        response=row["response"],
        decided_at=aware(row["decided_at"]),
    )
