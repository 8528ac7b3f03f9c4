"""Every reader of an execution sees its whole current ctx though a checkpoint writes only what changed
(docs/workflow-language.md, section 5, Checkpoints): the HTTP execution API (its detail and its list answer
``error_details`` from the ctx's ``_failure``) and ``litestar workflows show`` (a real process), on SQLite and
PostgreSQL, for an execution whose early ctx key was followed by 100 steps that changed other keys."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.workflows import WorkflowRuntime
from packs.core import workflow as wf
from packs.core.models import WorkflowCtxChange
from tests.support.harness import Harness, auth, harness_for, http_client, make_settings
from tests.support.processes import environment, litestar

pytestmark = pytest.mark.processes  # the show command runs in a real process

EXECUTIONS = "/api/v1/workflows/executions"
EARLY = {"kept": "k" * 10_000, "list": [1, 2, 3]}


class RefusedError(Exception):
    """A service error naming its fields, as a tool's validation error does."""

    details = {"field": "must be set"}


async def refuse() -> None:
    raise RefusedError("no")


def definition() -> wf.WorkflowDef:
    steps: list[dict[str, Any]] = [
        {"id": "start", "type": "start"},
        {"id": "early", "type": "assign", "set": {"early": EARLY}},
        *({"id": f"t{n}", "type": "assign", "set": {"tick": f"t{n}"}} for n in range(100)),
        {"id": "refuse", "type": "call", "service": "refuse"},
    ]
    for current, following in itertools.pairwise(steps):
        current["next"] = following["id"]
    return wf.load({"id": "readers", "name": "Readers", "steps": steps})


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    async with harness_for(make_settings(database_url)) as built:
        yield built


async def test_the_api_and_show_answer_the_whole_ctx(harness: Harness, database_url: str) -> None:
    issued = await harness.user()
    async with http_client(harness.app) as client:
        runtime: WorkflowRuntime = harness.app.state.workflows
        engine = wf.Engine(definition(), store=runtime.store, service_resolver={"refuse": refuse}.get)
        result = await engine.run({}, workspace_id=str(issued.workspace_id), created_by_id=str(issued.user_id))
        assert result.status == wf.Status.FAILED
        execution_id = result.execution_id
        # The early key lives in the change rows, not in the execution's ctx column.
        assert await harness.count(WorkflowCtxChange.__tablename__) >= 1
        assert await harness.count("workflow_executions", "CAST(ctx AS TEXT) LIKE '%kkkkkkkk%'") == 0
        detail = await client.get(f"{EXECUTIONS}/{execution_id}", headers=auth(issued))
        assert detail.status_code == 200, detail.text
        assert detail.json()["data"]["error_details"] == {"field": "must be set"}
        listed = await client.get(EXECUTIONS, headers=auth(issued))
        assert listed.status_code == 200, listed.text
        rows = [row for row in listed.json()["data"] if row["id"] == execution_id]
        assert [row["error_details"] for row in rows] == [{"field": "must be set"}]
    shown = litestar(environment(database_url, PACKFLOW_AUTO_MIGRATE="false"), "workflows", "show", execution_id)
    ctx = json.loads(shown.stdout)["execution"]["ctx"]
    assert ctx["early"] == EARLY
    assert ctx["tick"] == "t99"
    assert ctx["_failure"]["details"] == {"field": "must be set"}
