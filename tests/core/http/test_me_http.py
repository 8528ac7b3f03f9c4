"""``GET /api/v1/me``: the caller and their workspaces, with no workspace chosen (docs/http-api.md, Identity)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import update

from packs.core.identity.accounts import revoke_token
from packs.core.models import Membership
from tests.support.harness import Harness, auth

URL = "/api/v1/me"


async def test_a_user_of_several_workspaces_lists_them_with_roles_without_choosing_one(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    acme = await harness.user("ada@example.com", "Acme")
    await harness.user("grace@example.com", "Acme")  # another member: not in Ada's answer
    beta = await harness.user("ada@example.com", "Beta")
    await harness.user("bob@example.com", "Gamma")  # a workspace Ada is not in
    async with harness.plugin.db.create_session_maker()() as session:
        await session.execute(
            update(Membership).where(Membership.workspace_id == beta.workspace_id).values(role="owner")
        )
        await session.commit()

    me = await client.get(URL, headers=auth(beta))

    assert me.status_code == 200, me.text
    assert me.json() == {
        "data": {
            "user": {"id": str(acme.user_id), "email": "ada@example.com"},
            "workspaces": [
                {"id": str(acme.workspace_id), "name": "Acme", "role": "member"},
                {"id": str(beta.workspace_id), "name": "Beta", "role": "owner"},
            ],
        }
    }
    assert (await client.get("/api/v1/workspaces/contacts", headers=auth(beta))).status_code == 400  # a choice needed
    chosen = auth(beta, acme.workspace_id)
    assert (await client.get("/api/v1/workspaces/contacts", headers=chosen)).status_code == 200
    assert (await client.get(URL, headers=chosen)).json() == me.json()  # the header changes nothing here


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "missing Authorization header"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "malformed Authorization header"),
        ({"Authorization": "Bearer pf_not-a-real-token"}, "invalid token"),
    ],
)
async def test_without_a_valid_token_it_is_401(
    client: httpx.AsyncClient, harness: Harness, headers: dict[str, str], message: str
) -> None:
    await harness.user()
    response = await client.get(URL, headers=headers)
    assert response.status_code == 401
    assert set(response.json()) == {"error"}
    assert response.json()["error"].startswith(message)


async def test_a_revoked_token_is_401(client: httpx.AsyncClient, harness: Harness) -> None:
    issued = await harness.user()
    async with harness.plugin.db.create_session_maker()() as session:
        await revoke_token(session, issued.token)
        await session.commit()
    response = await client.get(URL, headers=auth(issued))
    assert response.status_code == 401
    assert response.json() == {"error": "revoked token: this API token was revoked"}


async def test_it_is_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    operation = (await client.get("/schema/openapi.json")).json()["paths"][URL]["get"]
    assert operation["operationId"] == "me_show"
    assert {"200", "401"} <= set(operation["responses"])
