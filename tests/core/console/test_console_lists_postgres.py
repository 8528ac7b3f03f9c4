"""The executions list filtered by what halted executions wait for, on PostgreSQL (migration 0012): with the
statistics of ``status`` and ``halt_data->>'type'`` the planner reads it newest first by the workspace-status
index and stops at the page's end; without them it guessed a handful of rows, read every halted execution of
every workspace and sorted them (24 ms instead of 0.3 ms at a million executions: bench/console.py --million)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.databases import migrate, postgres_database

FILL = """
INSERT INTO workflow_executions (id, workflow_id, status, input, ctx, created_at, updated_at, workspace_id, halt_data)
SELECT gen_random_uuid(), 'flow', CASE WHEN g % 50 IN (1, 2) THEN 'halted' ELSE 'completed' END, '{}', '{}',
       now() - g * interval '1 second', now() - g * interval '1 second', :workspace,
       CASE WHEN g % 50 = 1 THEN '{"type": "approval"}'::jsonb WHEN g % 50 = 2 THEN '{"type": "wait"}'::jsonb END
FROM generate_series(1, 50000) AS g
"""
WAITING = """
EXPLAIN (FORMAT JSON) SELECT id FROM workflow_executions
WHERE workspace_id = :workspace AND status = 'halted' AND (halt_data ->> 'type') = 'approval'
ORDER BY created_at DESC, id DESC LIMIT 51
"""


def nodes(node: dict[str, Any]) -> list[str]:
    """The node types of an EXPLAIN node and its children, outermost first."""
    return [node["Node Type"], *(name for child in node.get("Plans", []) for name in nodes(child))]


async def plan_of(url: str, *, statistics: bool) -> list[str]:
    engine = create_async_engine(url)
    workspace = uuid.uuid4()
    try:
        async with engine.begin() as connection:
            await connection.execute(text(FILL), {"workspace": workspace})
            if not statistics:
                await connection.execute(text("DROP STATISTICS st_workflow_executions_status_halt_type"))
            await connection.execute(text("ANALYZE workflow_executions"))
            answer = (await connection.execute(text(WAITING), {"workspace": workspace})).scalar_one()
    finally:
        await engine.dispose()
    found = answer if isinstance(answer, list) else json.loads(answer)
    return nodes(found[0]["Plan"])


def test_the_list_of_executions_waiting_for_an_approval_is_read_in_order_not_sorted() -> None:
    with postgres_database() as url:
        migrate(url)
        assert asyncio.run(plan_of(url, statistics=True)) == ["Limit", "Index Scan"]
    with postgres_database() as url:  # what 0012 changed: without the statistics every halted row is sorted
        migrate(url)
        assert "Sort" in asyncio.run(plan_of(url, statistics=False))
