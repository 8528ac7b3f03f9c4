"""``Idempotency-Key`` on the start route: scoped per workspace, a repeat with another input is a 409, and an
idempotent retry of a start that was saved but never queued queues it at once (docs/http-api.md, workflows)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from app.settings import Settings
from packs.core.workflow import Status
from packs.core.workflow_api.service import WorkflowService, idempotent_execution_id
from tests.support.harness import Harness, auth, harness_for, make_settings
from tests.support.workflow_http import EXECUTIONS, PACKS, start, wait_for


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    # The recovery sweep waits far longer than any test here for pending executions: what queues them is the retry.
    async with harness_for(make_settings(database_url, packs=PACKS, requeue_pending_seconds=600)) as built:
        yield built


async def test_a_repeat_answers_the_first_execution_and_another_input_is_a_409(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    issued = await harness.user()
    key = str(uuid.uuid4())
    first = await start(client, issued, "http_echo", {"value": "one"}, key=key)
    assert first.status_code == 202, first.text
    execution_id = first.json()["data"]["id"]
    assert execution_id == idempotent_execution_id(str(issued.workspace_id), key)
    await wait_for(client, issued, execution_id, {"completed"})

    again = await start(client, issued, "http_echo", {"value": "one"}, key=key.upper())
    assert again.status_code == 202
    assert again.json()["data"]["id"] == execution_id
    assert again.json()["data"]["status"] == "completed"
    synced = await start(client, issued, "http_echo", {"value": "one"}, mode="sync", key=key)
    assert synced.status_code == 200
    assert synced.json()["data"]["output"]["input"]["value"] == "one"

    other_input = await start(client, issued, "http_echo", {"value": "two"}, key=key)
    assert other_input.status_code == 409
    assert other_input.json() == {
        "error": f"the Idempotency-Key {key} was already used in this workspace with a different input; "
        "repeat the first request exactly, or use a new key"
    }
    other_workflow = await start(client, issued, "http_plain", key=key)
    assert other_workflow.status_code == 409
    assert "to start workflow 'http_echo'" in other_workflow.json()["error"]
    assert await harness.count("workflow_executions") == 1
    # Three answered requests, one start: the repeats are not audited as starts of their own.
    assert await harness.count("audit_log", f"action = 'start' AND target_id = '{execution_id}'") == 1


async def test_starts_sent_at_once_with_one_key_run_and_are_audited_once(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    """Each request read that no execution had the key before any had saved it; whether a start repeated
    another is what saving it said."""
    issued = await harness.user()
    key = str(uuid.uuid4())
    answers = await asyncio.gather(*(start(client, issued, "http_echo", {"value": "one"}, key=key) for _ in range(4)))
    assert [answer.status_code for answer in answers] == [202] * 4, [answer.text for answer in answers]
    execution_id = idempotent_execution_id(str(issued.workspace_id), key)
    assert {answer.json()["data"]["id"] for answer in answers} == {execution_id}
    await wait_for(client, issued, execution_id, {"completed"})
    assert await harness.count("workflow_executions") == 1
    assert await harness.count("audit_log", f"action = 'start' AND target_id = '{execution_id}'") == 1


async def test_a_repeat_whose_numbers_the_database_rewrote_is_still_the_same_input(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    """PostgreSQL's jsonb reads ``1e300`` back as the integer 10**300 (and ``-0.0`` as ``0.0``): the first start is
    a 202 and a repeat answers it, while another number is still another input."""
    issued = await harness.user()
    key = str(uuid.uuid4())
    numbers = {"value": "n", "numbers": [1e300, 1e16, -0.0, 1.5, 10**30]}
    first = await start(client, issued, "http_echo", numbers, key=key)
    assert first.status_code == 202, first.text
    execution_id = first.json()["data"]["id"]
    await wait_for(client, issued, execution_id, {"completed"})
    again = await start(client, issued, "http_echo", numbers, key=key)
    assert again.status_code == 202, again.text
    assert again.json()["data"]["id"] == execution_id
    other = await start(client, issued, "http_echo", {**numbers, "numbers": [1e299, 1e16, -0.0, 1.5, 10**30]}, key=key)
    assert other.status_code == 409, other.text
    flag = await start(client, issued, "http_echo", {**numbers, "numbers": [1e300, 1e16, -0.0, True, 10**30]}, key=key)
    assert flag.status_code == 409, flag.text  # true is not the number 1
    assert await harness.count("audit_log", f"action = 'start' AND target_id = '{execution_id}'") == 1


async def test_a_key_used_in_another_workspace_is_a_free_key_here(client: httpx.AsyncClient, harness: Harness) -> None:
    owner = await harness.user()
    stranger = await harness.user("eve@example.com", "Elsewhere")
    key = str(uuid.uuid4())
    theirs = await start(client, owner, "http_echo", {"value": "secret"}, mode="sync", key=key)
    assert theirs.status_code == 200

    free_key = await start(client, stranger, "http_echo", {"value": "mine"}, mode="sync", key=str(uuid.uuid4()))
    used_elsewhere = await start(client, stranger, "http_echo", {"value": "mine"}, mode="sync", key=key)
    assert used_elsewhere.status_code == free_key.status_code == 200
    mine = used_elsewhere.json()["data"]
    assert mine["id"] != theirs.json()["data"]["id"]
    assert mine["workspace_id"] == str(stranger.workspace_id)
    assert mine["output"]["input"]["value"] == "mine"
    assert (await client.get(f"{EXECUTIONS}/{theirs.json()['data']['id']}", headers=auth(stranger))).status_code == 404
    repeat = await start(client, owner, "http_echo", {"value": "secret"}, key=key)
    assert repeat.json()["data"]["id"] == theirs.json()["data"]["id"]
    assert await harness.count("workflow_executions") == 3


async def test_a_retry_queues_at_once_a_start_that_was_saved_but_never_queued(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    issued = await harness.user()
    key = str(uuid.uuid4())
    service: WorkflowService = harness.app.state.workflow_service
    runner = service.runner("http_echo")
    ids = {"user_id": str(issued.user_id), "workspace_id": str(issued.workspace_id)}
    given = {**ids, "value": "lost"}
    # The first attempt saved the execution and died before queueing it.
    execution = runner.engine.new_execution(
        given,
        idempotent_execution_id(ids["workspace_id"], key),
        status=Status.PENDING,
        workspace_id=ids["workspace_id"],
        created_by_id=ids["user_id"],
    )
    assert await harness.app.state.workflows.store.add(execution)

    began = time.monotonic()
    retried = await start(client, issued, "http_echo", {"value": "lost"}, mode="sync", key=key)
    assert retried.status_code == 200, retried.text
    assert retried.json()["data"]["id"] == execution.id
    assert retried.json()["data"]["status"] == "completed"
    assert time.monotonic() - began < 10


def test_the_recovery_sweeps_wait_for_pending_executions_is_a_short_setting() -> None:
    assert Settings().requeue_pending_seconds == 10.0
    assert Settings.from_env({"PACKFLOW_REQUEUE_PENDING_SECONDS": "2.5"}).requeue_pending_seconds == 2.5


async def test_the_sweep_uses_the_setting(harness: Harness) -> None:
    assert harness.app.state.workflows.sweeper.stale_after == 600
