"""An item's ``tool_slug`` names the tool that created it, whatever later tools do (docs/http-api.md, "Responses")."""

from __future__ import annotations

import httpx

from tests.support.harness import Harness, auth

URL = "/api/v1/workspaces/contacts"


async def test_tool_slug_stays_create_after_put_patch_and_delete(client: httpx.AsyncClient, harness: Harness) -> None:
    issued = await harness.user()
    created = await client.post(URL, json={"contact": {"first_name": "Ada", "last_name": "L"}}, headers=auth(issued))
    assert created.status_code == 201, created.text
    assert created.json()["data"]["tool_slug"] == "create"
    url = f"{URL}/{created.json()['data']['id']}"

    put = await client.put(url, json={"contact": {"first_name": "Ada", "last_name": "King"}}, headers=auth(issued))
    patch = await client.patch(url, json={"contact": {"company": "Analytical"}}, headers=auth(issued))
    shown = await client.get(url, headers=auth(issued))
    deleted = await client.delete(url, headers=auth(issued))

    assert [response.status_code for response in (put, patch, shown, deleted)] == [200, 200, 200, 200]
    answered = [response.json()["data"]["tool_slug"] for response in (put, patch, shown, deleted)]
    assert answered == ["create", "create", "create", "create"]
    assert await harness.count("items", "tool_slug = 'create'") == 1
