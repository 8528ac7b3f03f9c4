"""Bearer authentication and workspace selection (docs/http-api.md, Identity)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import delete, select

from packs.core.identity.accounts import AccountError, revoke_token
from packs.core.identity.tokens import hash_token
from packs.core.models import ApiToken, Membership
from tests.support.harness import Harness, auth

URL = "/api/v1/workspaces/contacts"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "missing Authorization header"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "malformed Authorization header"),
        ({"Authorization": "Bearer"}, "malformed Authorization header"),
        ({"Authorization": "Bearer two words"}, "malformed Authorization header"),
        ({"Authorization": "Bearer pf_not-a-real-token"}, "invalid token"),
    ],
)
async def test_missing_malformed_or_unknown_tokens_are_401(
    client: httpx.AsyncClient, harness: Harness, headers: dict[str, str], message: str
) -> None:
    await harness.user()
    for method in ("GET", "POST"):
        response = await client.request(
            method, URL, headers=headers, json={"contact": {"first_name": "A", "last_name": "B"}}
        )
        assert response.status_code == 401
        assert response.json()["error"].startswith(message)
    assert await harness.count("items") == 0


async def test_revoked_token_is_401_and_other_tokens_still_work(client: httpx.AsyncClient, harness: Harness) -> None:
    first = await harness.user()
    second = await harness.token("ada@example.com")
    assert (await client.get(URL, headers=auth(first))).status_code == 200
    async with harness.plugin.db.create_session_maker()() as session:
        await revoke_token(session, first.token)
        await session.commit()
    revoked = await client.get(URL, headers=auth(first))
    assert revoked.status_code == 401
    assert revoked.json() == {"error": "revoked token: this API token was revoked"}
    assert (await client.get(URL, headers=auth(second))).status_code == 200
    async with harness.plugin.db.create_session_maker()() as session:
        with pytest.raises(AccountError, match="already revoked"):
            await revoke_token(session, first.token)
        with pytest.raises(AccountError, match="no such token"):
            await revoke_token(session, "pf_unknown")


async def test_only_a_hash_of_each_token_is_stored(harness: Harness) -> None:
    issued = await harness.user()
    async with harness.plugin.db.create_session_maker()() as session:
        rows = (await session.execute(select(ApiToken))).scalars().all()
    assert [row.token_hash for row in rows] == [hash_token(issued.token)]
    assert all(issued.token not in (row.token_hash, row.prefix) for row in rows)


async def test_single_workspace_is_chosen_without_a_header(client: httpx.AsyncClient, harness: Harness) -> None:
    issued = await harness.user()
    response = await client.post(URL, json={"contact": {"first_name": "A", "last_name": "B"}}, headers=auth(issued))
    assert response.json()["data"]["workspace_id"] == str(issued.workspace_id)


async def test_several_workspaces_need_the_header(client: httpx.AsyncClient, harness: Harness) -> None:
    first = await harness.user("multi@example.com", "First")
    second = await harness.user("multi@example.com", "Second")
    ambiguous = await client.get(URL, headers=auth(second))
    assert ambiguous.status_code == 400
    assert "X-Workspace-Id" in ambiguous.json()["error"]
    for workspace in (first.workspace_id, second.workspace_id):
        created = await client.post(
            URL, json={"contact": {"first_name": "A", "last_name": "B"}}, headers=auth(second, workspace)
        )
        assert created.status_code == 201
        assert created.json()["data"]["workspace_id"] == str(workspace)
    listing = await client.get(URL, headers=auth(first, first.workspace_id))
    assert listing.json()["meta"]["total"] == 1


async def test_workspace_header_that_is_not_a_uuid_is_400(client: httpx.AsyncClient, harness: Harness) -> None:
    issued = await harness.user()
    response = await client.get(URL, headers={**auth(issued), "X-Workspace-Id": "acme"})
    assert response.status_code == 400
    assert response.json()["error"].startswith("X-Workspace-Id must be a workspace UUID")


async def test_workspace_of_someone_else_or_unknown_is_403(client: httpx.AsyncClient, harness: Harness) -> None:
    mine = await harness.user("me@example.com", "Mine")
    theirs = await harness.user("them@example.com", "Theirs")
    for workspace in (theirs.workspace_id, uuid.uuid4()):
        for method in ("GET", "POST"):
            response = await client.request(
                method,
                URL,
                json={"contact": {"first_name": "A", "last_name": "B"}},
                headers=auth(mine, workspace),
            )
            assert response.status_code == 403
            assert response.json()["error"].startswith(f"not a member of workspace {workspace}")
    assert await harness.count("items") == 0


async def test_identity_is_checked_before_the_route_is_resolved(client: httpx.AsyncClient, harness: Harness) -> None:
    assert (await client.get("/api/v1/nowhere/things")).status_code == 401


async def test_a_user_in_no_workspace_is_403(client: httpx.AsyncClient, harness: Harness) -> None:
    issued = await harness.user()
    async with harness.plugin.db.create_session_maker()() as session:
        await session.execute(delete(Membership))
        await session.commit()
    response = await client.get(URL, headers=auth(issued))
    assert response.status_code == 403
    assert response.json() == {"error": "this user is not a member of any workspace"}
