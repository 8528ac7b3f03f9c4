"""The workflow HTTP API as tests call it: its routes, the fixture packs it serves, starting and polling executions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

import httpx

from packs.core.identity.accounts import IssuedToken
from tests.support.harness import auth

API = "/api/v1/workflows"
EXECUTIONS = f"{API}/executions"
PACKS = ("contacts_service", "pftest_workflow_http")


async def start(
    client: httpx.AsyncClient,
    issued: IssuedToken,
    workflow_id: str,
    input: dict[str, Any] | None = None,
    mode: str = "async",
    key: str | None = None,
) -> httpx.Response:
    headers = auth(issued)
    if key is not None:
        headers["Idempotency-Key"] = key
    body: dict[str, Any] = {"mode": mode}
    if input is not None:
        body["input"] = input
    return await client.post(f"{API}/{workflow_id}/executions", json=body, headers=headers)


async def started(
    client: httpx.AsyncClient, issued: IssuedToken, workflow_id: str, input: dict[str, Any] | None = None
) -> str:
    """Start an async execution; its id."""
    response = await start(client, issued, workflow_id, input)
    assert response.status_code == 202, response.text
    execution_id: str = response.json()["data"]["id"]
    return execution_id


async def show(client: httpx.AsyncClient, issued: IssuedToken, execution_id: str) -> dict[str, Any]:
    response = await client.get(f"{EXECUTIONS}/{execution_id}", headers=auth(issued))
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def wait_for(
    client: httpx.AsyncClient, issued: IssuedToken, execution_id: str, statuses: Iterable[str], within: float = 20
) -> dict[str, Any]:
    """Poll the execution until its status is one of ``statuses``."""
    wanted = set(statuses)
    deadline = time.monotonic() + within
    while True:
        execution = await show(client, issued, execution_id)
        if execution["status"] in wanted:
            return execution
        assert time.monotonic() < deadline, f"still {execution['status']} after {within}s: {execution}"
        await asyncio.sleep(0.05)
