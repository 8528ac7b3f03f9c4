"""An operator's decision (``packflow workflows resume ID --approve|--reject``; docs/workflow-language.md,
Approvals with rules): the decision and the resume it settles are one unit of work, or neither.

On the SQL store over SQLite and PostgreSQL (a database trigger makes the resume's write fail, as a crash or
a lost connection between the two would) and on the memory store for the happy path.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from packs.core import workflow as wf
from packs.core.workflow.stores.sql import SQLStore
from tests.core.workflow.test_approvals import approval, halted
from tests.support.engine import SQL_STORES

REFUSE_RESUME = {
    "sqlite": [
        "CREATE TRIGGER refuse_resume BEFORE UPDATE OF status ON workflow_executions "
        "WHEN OLD.status = 'halted' AND NEW.status = 'pending' BEGIN SELECT RAISE(ABORT, 'resume refused'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_resume() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'resume refused'; END $$ "
        "LANGUAGE plpgsql",
        "CREATE TRIGGER refuse_resume BEFORE UPDATE ON workflow_executions FOR EACH ROW "
        "WHEN (OLD.status = 'halted' AND NEW.status = 'pending') EXECUTE FUNCTION refuse_resume()",
    ],
}
ALLOW_RESUME = {
    "sqlite": ["DROP TRIGGER refuse_resume"],
    "postgresql": ["DROP TRIGGER refuse_resume ON workflow_executions", "DROP FUNCTION refuse_resume()"],
}


async def run_sql(store: SQLStore, statements: list[str]) -> None:
    async with store.session_maker() as session:
        for statement in statements:
            await session.execute(text(statement))
        await session.commit()


async def test_an_operator_decision_and_its_resume_are_one_unit(store: wf.QueueStore) -> None:
    engine, execution_id, _ = await halted(store, approval(quorum=3, form={"type": "object", "required": ["why"]}))
    decided = await wf.decide_as_operator(store, execution_id, True, "ops override")
    assert decided is not None
    assert decided.verdict is True  # it bypasses the quorum and the form
    queued = await store.load(execution_id)
    assert queued is not None
    assert queued.status == wf.Status.PENDING  # the resume committed with the decision
    done = await engine.recover(execution_id)
    assert done.status == wf.Status.COMPLETED
    assert [(d["by"], d["comment"]) for d in done.output["ask"]["decisions"]] == [("operator", "ops override")]
    assert [d.user_id for d in await store.execution_decisions(execution_id)] == [None]  # type: ignore[attr-defined]
    # Nothing to decide on any more: the caller resumes as usual (which refuses a finished execution).
    assert await wf.decide_as_operator(store, execution_id, True) is None


@SQL_STORES
async def test_a_failure_between_the_decision_and_the_resume_leaves_neither(store: Any) -> None:
    assert isinstance(store, SQLStore)  # a database trigger fails the resume's write
    engine, execution_id, _ = await halted(store, approval())
    before = await store.load(execution_id)
    dialect = store.session_maker.kw["bind"].dialect.name
    await run_sql(store, REFUSE_RESUME[dialect])
    try:
        with pytest.raises(Exception, match="resume refused"):
            await wf.decide_as_operator(store, execution_id, False, "no")
    finally:
        await run_sql(store, ALLOW_RESUME[dialect])
    assert await store.execution_decisions(execution_id) == []
    after = await store.load(execution_id)
    assert after is not None
    assert before is not None
    assert (after.status, after.halt_data) == (wf.Status.HALTED, before.halt_data)
    # Once the database takes writes again, the same decision goes through whole.
    assert (await wf.decide_as_operator(store, execution_id, False, "no")) is not None
    done = await engine.recover(execution_id)
    assert done.output == {"rejected": True}
