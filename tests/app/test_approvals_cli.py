"""Operators and approvals from the command line (README, Operator commands), in subprocesses on the test database.

``workflows resume ID --approve|--reject [--comment]`` records a decision by ``operator`` (no user) that
bypasses the approval's rules; ``users create --role`` gives a membership its role, or changes it.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from packs.core.models import Membership, WorkflowDecision
from tests.support.harness import Harness, auth, harness_for, make_settings
from tests.support.processes import Cli, cli_for
from tests.support.workflow_http import EXECUTIONS, PACKS, wait_for

pytestmark = pytest.mark.processes  # every test here starts real processes (tests/test_markers.py)


@pytest.fixture
async def harness(database_url: str) -> Any:
    async with harness_for(make_settings(database_url, packs=PACKS)) as built:
        yield built


@pytest.fixture
def cli(database_url: str, fixture_packs: Path) -> Cli:
    return cli_for(database_url, fixture_packs, PACKS)


async def decisions(harness: Harness, execution_id: str) -> list[Any]:
    table = WorkflowDecision.__table__
    async with harness.plugin.db.get_engine().connect() as connection:
        statement = select(table).where(table.c.execution_id == uuid.UUID(execution_id))
        return list((await connection.execute(statement)).all())


async def role_of(harness: Harness, user_id: str, workspace_id: str) -> str:
    async with harness.plugin.db.get_engine().connect() as connection:
        statement = select(Membership.role).where(
            Membership.user_id == uuid.UUID(user_id), Membership.workspace_id == uuid.UUID(workspace_id)
        )
        return str((await connection.execute(statement)).scalar_one())


async def test_users_create_gives_and_changes_a_membership_role(harness: Harness, cli: Cli) -> None:
    created = await cli.ok("users", "create", "--email", "bob@example.com", "--workspace", "Acme", "--role", "admin")
    assert await role_of(harness, created["user_id"], created["workspace_id"]) == "admin"
    kept = await cli.ok("users", "create", "--email", "bob@example.com", "--workspace", "Acme")
    assert await role_of(harness, kept["user_id"], kept["workspace_id"]) == "admin"
    changed = await cli.ok("users", "create", "--email", "bob@example.com", "--workspace", "Acme", "--role", "manager")
    assert await role_of(harness, changed["user_id"], changed["workspace_id"]) == "manager"
    plain = await cli.ok("users", "create", "--email", "cy@example.com", "--workspace", "Acme")
    assert await role_of(harness, plain["user_id"], plain["workspace_id"]) == "member"
    bad = await cli("users", "create", "--email", "dan@example.com", "--workspace", "Acme", "--role", "no such role!")
    assert bad.returncode == 1
    assert "is not a role name" in bad.stderr
    assert await harness.count("users", "email = 'dan@example.com'") == 0


async def test_an_operator_decision_bypasses_the_rules_and_is_recorded(
    harness: Harness, cli: Cli, client: httpx.AsyncClient
) -> None:
    ada = await harness.user()
    started = await client.post(
        "/api/v1/workflows/http_rules/executions",
        json={"input": {"approver": "cy@example.com"}, "mode": "sync"},
        headers=auth(ada),
    )
    assert started.status_code == 200, started.text
    execution_id = started.json()["data"]["id"]

    lonely = await cli("workflows", "resume", execution_id, "--comment", "why")
    assert lonely.returncode == 2
    assert "--comment goes with --approve or --reject" in lonely.stderr
    assert await decisions(harness, execution_id) == []

    approved = await cli.ok(
        "workflows", "resume", execution_id, "--approve", "--comment", "urgent fix", "--response", '{"reason": "fix"}'
    )
    assert approved["status"] == "completed", approved
    assert approved["output"]["approved"] is True
    assert [(d["by"], d["user_id"], d["comment"]) for d in approved["output"]["by"]] == [
        ("operator", None, "urgent fix")
    ]
    [row] = await decisions(harness, execution_id)
    assert (row.user_id, row.email, row.approved, row.comment, row.step_id, row.response) == (
        None,
        None,
        True,
        "urgent fix",
        "approve",
        {"reason": "fix"},
    )


async def test_an_operator_rejection(harness: Harness, cli: Cli, client: httpx.AsyncClient) -> None:
    ada = await harness.user()
    response = await client.post(
        "/api/v1/workflows/http_rules/executions", json={"input": {"approver": "cy@example.com"}}, headers=auth(ada)
    )
    execution_id = response.json()["data"]["id"]
    await wait_for(client, ada, execution_id, {"halted"})
    rejected = await cli.ok("workflows", "resume", execution_id, "--reject")
    assert rejected["output"]["rejected"][0]["by"] == "operator"
    shown = await client.get(f"{EXECUTIONS}/{execution_id}", headers=auth(ada))
    assert shown.json()["data"]["status"] == "completed"
    assert [row.approved for row in await decisions(harness, execution_id)] == [False]
