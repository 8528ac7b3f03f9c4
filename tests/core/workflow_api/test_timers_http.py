"""Waits and ``waiting_for`` over HTTP (docs/http-api.md, Lists and Resume), through the app on SQLite and PostgreSQL.

The inline queue runs the app's timer sweep: a wait of a second completes with nobody calling; a
resume while waiting answers 409; the list filters on what halted executions wait for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from packs.core.identity.accounts import IssuedToken
from tests.support.harness import Harness, auth, harness_for, make_settings
from tests.support.workflow_http import EXECUTIONS, PACKS, show, started, wait_for


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    async with harness_for(make_settings(database_url, packs=PACKS)) as built:
        yield built


@pytest.fixture
async def ada(harness: Harness) -> IssuedToken:
    return await harness.user("ada@example.com", "Acme")


async def listed(client: httpx.AsyncClient, who: IssuedToken, **params: str) -> list[str]:
    response = await client.get(EXECUTIONS, params=params, headers=auth(who))
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


async def test_a_wait_completes_on_its_timer_and_resume_answers_409_meanwhile(
    client: httpx.AsyncClient, ada: IssuedToken
) -> None:
    execution_id = await started(client, ada, "http_wait", {"seconds": 1})
    halted = await wait_for(client, ada, execution_id, {"halted"})
    assert halted["halt"]["data"]["type"] == "wait"
    due_at = halted["halt"]["data"]["due_at"]
    response = await client.post(f"{EXECUTIONS}/{execution_id}/resume", json={}, headers=auth(ada))
    assert response.status_code == 409, response.text
    assert f"waiting until {due_at}" in response.text
    assert await listed(client, ada, waiting_for="wait") == [execution_id]
    assert await listed(client, ada, waiting_for="approval") == []
    [timer] = halted["timers"]
    assert (timer["kind"], timer["due_at"], timer["payload"]) == ("wait", due_at, {"step_id": "pause"})

    done = await wait_for(client, ada, execution_id, {"completed"}, within=10)
    assert done["output"] == {"waited": 1}
    assert done["timers"] == []
    assert await listed(client, ada, waiting_for="wait") == []


async def test_waiting_for_names_every_kind_of_halt_and_refuses_others(
    client: httpx.AsyncClient, ada: IssuedToken
) -> None:
    waiting = await started(client, ada, "http_wait", {"seconds": 3600})
    approving = await started(client, ada, "http_approve", {})
    asking = await started(client, ada, "http_ask", {})
    for execution_id in (waiting, approving, asking):
        await wait_for(client, ada, execution_id, {"halted"})
    assert await listed(client, ada, waiting_for="wait") == [waiting]
    assert await listed(client, ada, waiting_for="approval") == [approving]
    assert await listed(client, ada, waiting_for="input") == [asking]
    assert await listed(client, ada, waiting_for="signal") == []
    assert (await show(client, ada, asking))["halt"]["data"]["type"] == "input"

    response = await client.get(EXECUTIONS, params={"waiting_for": "coffee"}, headers=auth(ada))
    assert response.status_code == 422
    assert "waiting_for" in response.json()["details"]

    cancelled = await client.post(f"{EXECUTIONS}/{waiting}/cancel", headers=auth(ada))
    assert cancelled.status_code in (200, 202), cancelled.text
    assert await listed(client, ada, waiting_for="wait") == []
