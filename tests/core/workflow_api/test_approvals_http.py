"""Approvals with rules over HTTP (docs/http-api.md, Approvals): decisions, the resume that is one, the inbox.

Two workspaces; in Acme: Ada the requester, Bob an admin by role, Cy the approver named by email, Dan a
member who is no approver; Eve in Other. Through the app on SQLite and PostgreSQL, with the inline queue.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app import create_app
from app.plugin import PackflowPlugin
from packs.core.identity.accounts import IssuedToken, create_user
from packs.core.workflow import Execution, Page
from packs.core.workflow_api.approvals import INBOX_PAGE, ApprovalDesk, Decider
from tests.support.harness import Harness, auth, harness_for, http_client, make_settings
from tests.support.workflow_http import API, EXECUTIONS, PACKS, show, started, wait_for

APPROVALS = f"{API}/approvals"


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    async with harness_for(make_settings(database_url, packs=PACKS)) as built:
        yield built


@dataclass
class People:
    ada: IssuedToken
    bob: IssuedToken
    cy: IssuedToken
    dan: IssuedToken
    eve: IssuedToken


async def member(harness: Harness, email: str, workspace: str, role: str | None = None) -> IssuedToken:
    async with harness.plugin.db.create_session_maker()() as session:
        issued = await create_user(session, email, workspace, role)
        await session.commit()
        return issued


@pytest.fixture
async def people(harness: Harness) -> People:
    return People(
        ada=await member(harness, "ada@example.com", "Acme"),
        bob=await member(harness, "bob@example.com", "Acme", "admin"),
        cy=await member(harness, "cy@example.com", "Acme"),
        dan=await member(harness, "dan@example.com", "Acme"),
        eve=await member(harness, "eve@example.com", "Other", "admin"),
    )


async def rules_execution(client: httpx.AsyncClient, people: People) -> str:
    execution_id = await started(client, people.ada, "http_rules", {"approver": "Cy@Example.com"})
    await wait_for(client, people.ada, execution_id, {"halted"})
    return execution_id


async def decide(client: httpx.AsyncClient, who: IssuedToken, execution_id: str, **body: Any) -> httpx.Response:
    return await client.post(f"{EXECUTIONS}/{execution_id}/decisions", json=body, headers=auth(who))


async def inbox(client: httpx.AsyncClient, who: IssuedToken, **params: str) -> list[dict[str, Any]]:
    response = await client.get(APPROVALS, params=params, headers=auth(who))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["data"]
    return items


async def test_quorum_two_reached_by_an_admin_by_role_and_the_approver_by_email(
    client: httpx.AsyncClient, harness: Harness, people: People
) -> None:
    execution_id = await rules_execution(client, people)
    halt = (await show(client, people.ada, execution_id))["halt"]["data"]
    assert halt["approvers"] == ["role:admin", "$input.approver"]
    assert halt["rule"]["emails"] == ["cy@example.com"]
    assert halt["rule"]["roles"] == ["admin"]

    first = await decide(client, people.bob, execution_id, approved=True, comment="fine", response={"reason": "tested"})
    assert first.status_code == 201, first.text
    data = first.json()["data"]
    assert data["decision"]["email"] == "bob@example.com"
    assert data["decision"]["user_id"] == str(people.bob.user_id)
    assert (data["settled"], data["approved"], data["execution"]["status"]) == (False, None, "halted")
    again = await decide(client, people.bob, execution_id, approved=True, response={"reason": "twice"})
    assert again.status_code == 409
    assert "already decided" in again.json()["error"]
    assert await harness.count("workflow_decisions") == 1
    pending = (await show(client, people.ada, execution_id))["halt"]["data"]
    assert [(d["email"], d["approved"]) for d in pending["decisions"]] == [("bob@example.com", True)]
    assert pending["due_at"] is None

    second = await decide(client, people.cy, execution_id, approved=True, response={"reason": "looks good"})
    assert second.status_code == 201, second.text
    assert second.json()["data"]["settled"] is True
    assert second.json()["data"]["approved"] is True
    done = await wait_for(client, people.ada, execution_id, {"completed", "failed"})
    assert done["status"] == "completed", done
    assert done["output"]["approved"] is True
    assert done["output"]["response"] == [{"reason": "tested"}, {"reason": "looks good"}]
    assert [(d["email"], d["comment"]) for d in done["output"]["by"]] == [
        ("bob@example.com", "fine"),
        ("cy@example.com", None),
    ]
    late = await decide(client, people.cy, execution_id, approved=False)
    assert late.status_code == 409
    assert await harness.count("workflow_decisions") == 2
    audited = await client.get(f"{API}/audit", params={"execution_id": execution_id}, headers=auth(people.ada))
    assert audited.status_code == 200, audited.text
    decisions = [(e["action"], e["actor_id"], (e["details"] or {}).get("comment")) for e in audited.json()["data"]]
    assert [d for d in decisions if d[0] == "approve"] == [
        ("approve", str(people.cy.user_id), None),
        ("approve", str(people.bob.user_id), "fine"),
    ]


async def test_who_may_not_decide_is_told_why_and_nothing_is_recorded(
    client: httpx.AsyncClient, harness: Harness, people: People
) -> None:
    execution_id = await rules_execution(client, people)
    requester = await decide(client, people.ada, execution_id, approved=True, response={"reason": "mine"})
    assert requester.status_code == 403
    assert "you started this execution" in requester.json()["error"]
    outsider = await decide(client, people.dan, execution_id, approved=True, response={"reason": "why not"})
    assert outsider.status_code == 403
    assert "not an approver" in outsider.json()["error"]
    other_workspace = await decide(client, people.eve, execution_id, approved=True, response={"reason": "admin"})
    assert other_workspace.status_code == 404
    assert await harness.count("workflow_decisions") == 0
    assert (await show(client, people.ada, execution_id))["status"] == "halted"


async def test_one_rejection_rejects(client: httpx.AsyncClient, harness: Harness, people: People) -> None:
    execution_id = await rules_execution(client, people)
    assert (
        await decide(client, people.bob, execution_id, approved=True, response={"reason": "ok!"})
    ).status_code == 201
    rejected = await decide(client, people.cy, execution_id, approved=False, comment="not yet")
    assert rejected.status_code == 201, rejected.text
    assert (rejected.json()["data"]["settled"], rejected.json()["data"]["approved"]) == (True, False)
    done = await wait_for(client, people.ada, execution_id, {"completed", "failed"})
    assert [(d["email"], d["approved"]) for d in done["output"]["rejected"]] == [
        ("bob@example.com", True),
        ("cy@example.com", False),
    ]


async def test_a_response_the_form_rejects_is_422_naming_the_pointer_and_records_nothing(
    client: httpx.AsyncClient, harness: Harness, people: People
) -> None:
    execution_id = await rules_execution(client, people)
    short = await decide(client, people.bob, execution_id, approved=True, response={"reason": "no"})
    assert short.status_code == 422, short.text
    assert "/reason" in short.json()["error"]
    assert "too short" in short.json()["details"]["response"]
    missing = await decide(client, people.bob, execution_id, approved=True)
    assert missing.status_code == 422
    assert missing.json()["details"]["response"].startswith("at / ")
    bad_body = await decide(client, people.bob, execution_id, approved="yes", note=1)
    assert bad_body.status_code == 422
    assert set(bad_body.json()["details"]) == {"approved", "note"}
    not_json = await client.post(f"{EXECUTIONS}/{execution_id}/decisions", content=b"{", headers=auth(people.bob))
    assert not_json.status_code == 400
    assert await harness.count("workflow_decisions") == 0
    assert (await show(client, people.ada, execution_id))["status"] == "halted"


async def test_a_decision_needs_an_approval_halt(client: httpx.AsyncClient, people: People) -> None:
    asked = await started(client, people.ada, "http_ask")
    await wait_for(client, people.ada, asked, {"halted"})
    answer = await decide(client, people.bob, asked, approved=True)
    assert answer.status_code == 409
    assert "not halted at an approval" in answer.json()["error"]
    unknown = await decide(client, people.bob, "8e0c5b43-0d3a-4b7c-9d52-3b1f7a2f9e11", approved=True)
    assert unknown.status_code == 404


async def test_resume_with_approved_is_a_decision_with_the_same_rules(
    client: httpx.AsyncClient, harness: Harness, people: People
) -> None:
    execution_id = await rules_execution(client, people)
    url = f"{EXECUTIONS}/{execution_id}/resume"
    requester = await client.post(
        url, json={"approved": True, "response": {"reason": "mine"}}, headers=auth(people.ada)
    )
    assert requester.status_code == 403
    outsider = await client.post(url, json={"approved": True, "response": {"reason": "mine"}}, headers=auth(people.dan))
    assert outsider.status_code == 403
    elsewhere = await client.post(url, json={"approved": True}, headers=auth(people.eve))
    assert elsewhere.status_code == 404
    bad_form = await client.post(url, json={"approved": True, "response": {"reason": ""}}, headers=auth(people.bob))
    assert bad_form.status_code == 422
    no_decision = await client.post(url, json={"response": {"reason": "just a response"}}, headers=auth(people.bob))
    assert no_decision.status_code == 422
    assert await harness.count("workflow_decisions") == 0

    by_bob = await client.post(url, json={"approved": True, "response": {"reason": "bob ok"}}, headers=auth(people.bob))
    assert by_bob.status_code == 202, by_bob.text
    assert by_bob.json()["data"]["status"] == "halted"  # one of two approvals
    twice = await client.post(url, json={"approved": True, "response": {"reason": "bob ok"}}, headers=auth(people.bob))
    assert twice.status_code == 409
    by_cy = await client.post(url, json={"approved": True, "response": {"reason": "cy ok"}}, headers=auth(people.cy))
    assert by_cy.status_code == 202
    done = await wait_for(client, people.ada, execution_id, {"completed", "failed"})
    assert done["output"]["response"] == [{"reason": "bob ok"}, {"reason": "cy ok"}]


async def test_without_approvers_any_member_but_the_requester_decides(
    client: httpx.AsyncClient, people: People
) -> None:
    execution_id = await started(client, people.ada, "http_anyone")
    await wait_for(client, people.ada, execution_id, {"halted"})
    assert (await decide(client, people.ada, execution_id, approved=True)).status_code == 403
    assert (await decide(client, people.eve, execution_id, approved=True)).status_code == 404
    assert (await decide(client, people.dan, execution_id, approved=True)).status_code == 201
    done = await wait_for(client, people.ada, execution_id, {"completed", "failed"})
    assert done["output"] == "approved"


async def test_the_inbox_of_each_user(client: httpx.AsyncClient, people: People) -> None:
    rules = await rules_execution(client, people)
    anyone = await started(client, people.ada, "http_anyone")
    await wait_for(client, people.ada, anyone, {"halted"})
    elsewhere = await started(client, people.eve, "http_anyone")
    await wait_for(client, people.eve, elsewhere, {"halted"})

    assert [item["execution_id"] for item in await inbox(client, people.ada)] == []
    assert [item["execution_id"] for item in await inbox(client, people.bob)] == [rules, anyone]
    assert [item["execution_id"] for item in await inbox(client, people.cy)] == [rules, anyone]
    assert [item["execution_id"] for item in await inbox(client, people.dan)] == [anyone]
    assert [item["execution_id"] for item in await inbox(client, people.eve)] == []  # her own, in Other
    item = (await inbox(client, people.bob))[0]
    assert item["workflow_id"] == "http_rules"
    assert item["workflow_name"] == "HTTP approval rules"
    assert (item["step_id"], item["prompt"], item["quorum"]) == ("approve", "Ship it?", 2)
    assert item["context"] == {"approver": "Cy@Example.com"}
    assert item["form"]["required"] == ["reason"]
    assert item["decisions"] == []
    assert item["url"] == f"{EXECUTIONS}/{rules}"
    assert item["requested_at"]
    assert item["due_at"] is None

    assert (await decide(client, people.bob, rules, approved=True, response={"reason": "bob"})).status_code == 201
    assert [item["execution_id"] for item in await inbox(client, people.bob)] == [anyone]
    cy_rules = (await inbox(client, people.cy))[0]
    assert [d["email"] for d in cy_rules["decisions"]] == ["bob@example.com"]

    whole = await inbox(client, people.dan, scope="workspace")
    assert [(item["execution_id"], item["can_decide"]) for item in whole] == [(rules, False), (anyone, True)]
    # Who may decide, resolved: the email "$input.approver" named at the halt, not the reference.
    assert (
        whole[0]["cannot_decide_because"]
        == "you are not an approver of this step (approvers: role:admin, cy@example.com)"
    )
    requester = await inbox(client, people.ada, scope="workspace")
    assert [item["can_decide"] for item in requester] == [False, False]
    bad = await client.get(APPROVALS, params={"scope": "everything"}, headers=auth(people.ada))
    assert bad.status_code == 422
    assert "scope" in bad.json()["details"]
    assert (await client.get(APPROVALS)).status_code == 401


async def test_an_approval_of_a_disabled_packs_workflow_is_offered_to_nobody(
    client: httpx.AsyncClient, people: People, database_url: str
) -> None:
    """Deciding it would answer 409 (the workflow is not loaded): the inbox says so instead of offering it."""
    anyone = await started(client, people.ada, "http_anyone")
    await wait_for(client, people.ada, anyone, {"halted"})
    assert [item["execution_id"] for item in await inbox(client, people.bob)] == [anyone]

    without_the_pack = create_app(make_settings(database_url, packs=("contacts_service",)))  # same database
    try:
        async with http_client(without_the_pack) as other:
            assert await inbox(other, people.bob) == []
            whole = await inbox(other, people.bob, scope="workspace")
            assert [(item["execution_id"], item["can_decide"]) for item in whole] == [(anyone, False)]
            assert whole[0]["cannot_decide_because"] == (
                "no enabled pack provides its workflow 'http_anyone' (is its pack disabled?)"
            )
            assert (await decide(other, people.bob, anyone, approved=True)).status_code == 409
            desk = ApprovalDesk(without_the_pack.state.workflow_service)
            bob = Decider(str(people.bob.user_id), "bob@example.com", "admin")
            assert await desk.pending_count(str(people.bob.workspace_id), bob, cap=10) == 0
    finally:
        await without_the_pack.plugins.get(PackflowPlugin).db.get_engine().dispose()
    assert (await decide(client, people.bob, anyone, approved=True)).status_code == 201  # enabled again


async def test_an_approval_one_sub_workflow_down_takes_decisions_on_the_parent(
    client: httpx.AsyncClient, harness: Harness, people: People
) -> None:
    parent = await started(client, people.ada, "http_nested_approve")
    await wait_for(client, people.ada, parent, {"halted"})
    assert [(item["execution_id"], item["step_id"]) for item in await inbox(client, people.dan)] == [
        (parent, "approve")
    ]
    decided = await decide(client, people.dan, parent, approved=True, comment="child ok")
    assert decided.status_code == 201, decided.text
    assert decided.json()["data"]["settled"] is True
    done = await wait_for(client, people.ada, parent, {"completed", "failed"})
    assert done["output"] == {"child": {"decision": "approved"}}
    assert await harness.count("workflow_decisions") == 1


async def test_the_inbox_reads_only_executions_halted_at_an_approval_or_a_sub_workflow(
    client: httpx.AsyncClient, harness: Harness, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database selects what the inbox reads by halt type: executions halted at a wait, a signal or an
    input (here more than a page of them) are never read, and the answers stay the same."""
    rules = await rules_execution(client, people)
    nested = await started(client, people.ada, "http_nested_approve")
    await wait_for(client, people.ada, nested, {"halted"})
    store = harness.plugin.workflows.store
    for index in range(INBOX_PAGE + 5):
        kind = ("wait", "signal", "input")[index % 3]
        await store.add(
            Execution(
                id=str(uuid.uuid4()),
                workflow_id="http_plain",
                status="halted",
                workspace_id=str(people.ada.workspace_id),
                halt_data={"type": kind},
            )
        )
    read: list[Execution] = []
    original = store.page

    async def page(*args: Any, **kwargs: Any) -> Page:
        found = await original(*args, **kwargs)
        read.extend(found.executions)
        return found

    monkeypatch.setattr(store, "page", page)
    assert sorted(item["execution_id"] for item in await inbox(client, people.bob)) == sorted([rules, nested])
    assert [item["execution_id"] for item in await inbox(client, people.dan)] == [nested]
    assert {(execution.halt_data or {}).get("type") for execution in read} <= {"approval", "workflow"}
    assert read
