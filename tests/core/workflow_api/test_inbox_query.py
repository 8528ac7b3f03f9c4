"""The approvals inbox asks the database for what the decider may decide (docs/http-api.md, Approvals): the SQL
store's ``page`` with ``MayDecide`` leaves out what the approvals' rules refuse (approvers by user id, email or
role, the requester excluded, a decision already made on the halt), keeps what only Python can judge (a halt
recorded before rules, one under a sub-workflow), and the inbox answers as it did when Python filtered every
candidate; what Python still drops never shortens the inbox. On SQLite and PostgreSQL (the memory store
may keep more: the inbox checks every candidate again)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from packs.core.identity.accounts import IssuedToken, create_user
from packs.core.workflow import ExecutionFilter
from packs.core.workflow.decisions import Decision
from packs.core.workflow.stores.protocol import MayDecide
from packs.core.workflow_api.approvals import APPROVAL_HALTS, INBOX_PAGE, ApprovalDesk, Decider
from tests.support.approval_halts import START, Halts, approval
from tests.support.harness import Harness, auth, harness_for, make_settings
from tests.support.workflow_http import API, PACKS

APPROVALS = f"{API}/approvals"


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    async with harness_for(make_settings(database_url, packs=PACKS)) as built:
        yield built


async def member(harness: Harness, email: str, workspace: str, role: str | None = None) -> IssuedToken:
    async with harness.plugin.db.create_session_maker()() as session:
        issued = await create_user(session, email, workspace, role)
        await session.commit()
        return issued


async def every_shape(store: Any, me: IssuedToken, other: IssuedToken, elsewhere: str) -> Halts:
    """One execution per rule shape: which of them ``me`` (an admin, email Ivy@Example.com) may decide is named
    ``yes_*``, which not ``no_*``."""
    mine, theirs = str(me.user_id), str(other.user_id)
    halts = Halts(store, str(me.workspace_id), {})
    await halts.add("yes_anyone", approval(None, requester=theirs))
    await halts.add("yes_by_id", approval([f"user:{mine}"], requester=theirs))
    await halts.add("yes_by_email", approval(["ivy@example.com"], requester=theirs))
    await halts.add("yes_by_role", approval(["role:admin"], requester=theirs))
    await halts.add("no_other_role", approval(["role:finance", "zed@example.com"], requester=theirs))
    await halts.add("no_requester", approval(None, requester=mine))
    await halts.add("yes_requester_allowed", approval(None, requester=mine, allow_requester=True))
    decided = approval(None, requester=theirs)
    await halts.add("no_decided", decided)
    earlier = approval(None, requester=theirs)
    await halts.add("yes_decided_an_earlier_halt", earlier)
    legacy = {"type": "approval", "approvers": ["ivy@example.com"], "requested_at": START.isoformat()}
    await halts.add("yes_before_rules", legacy)
    await halts.add("no_before_rules", {**legacy, "approvers": ["zed@example.com"]})
    nested = {"type": "workflow", "child": approval(None, requester=theirs)}
    await halts.add("yes_nested", nested)
    await halts.add("no_nested", {"type": "workflow", "child": approval(["role:finance"], requester=theirs)})
    await halts.add("no_other_workspace", approval(None, requester=theirs), workspace_id=elsewhere)
    await halts.add("no_wait", {"type": "wait", "due_at": START.isoformat()})
    for halt, execution in ((decided["halt_id"], "no_decided"), (str(uuid.uuid4()), "yes_decided_an_earlier_halt")):
        await store.add_decision(
            Decision(halts.ids[execution], "approve", halt, approved=True, user_id=mine, email="ivy@example.com")
        )
    await store.add_decision(  # another user's decision on the halt leaves it in the inbox
        Decision(halts.ids["yes_anyone"], "approve", approval(None)["halt_id"], approved=True, user_id=theirs)
    )
    return halts


def decider(me: IssuedToken) -> Decider:
    return Decider(str(me.user_id), "Ivy@Example.com", "admin")


async def test_the_database_leaves_out_what_the_rules_refuse_and_the_inbox_answers_the_same(
    harness: Harness,
) -> None:
    me = await member(harness, "ivy@example.com", "Acme", "admin")
    other = await member(harness, "zed@example.com", "Acme")
    elsewhere = await member(harness, "kim@example.com", "Other")
    store = harness.plugin.workflows.store
    halts = await every_shape(store, me, other, str(elsewhere.workspace_id))
    names = {execution_id: name for name, execution_id in halts.ids.items()}

    where = ExecutionFilter(
        workspace_id=halts.workspace_id,
        waiting_for=APPROVAL_HALTS,
        may_decide=MayDecide(str(me.user_id), "Ivy@Example.com", "admin"),
    )
    page = await store.page(where, limit=100, count=False, ctx_keys=())
    kept = {names[execution.id] for execution in page.executions}
    # What SQL can judge is judged; a halt before rules and one under a sub-workflow are the caller's to judge.
    assert kept == {name for name in halts.ids if name.startswith("yes_")} | {"no_before_rules", "no_nested"}

    desk = ApprovalDesk(harness.app.state.workflow_service)
    found = [names[item["execution_id"]] for item in await desk.inbox(halts.workspace_id, decider(me))]
    assert sorted(found) == sorted(name for name in halts.ids if name.startswith("yes_"))
    everyone = await desk.inbox(halts.workspace_id, decider(me), everyone=True)  # no rule pushed down
    assert sorted(found) == sorted(names[item["execution_id"]] for item in everyone if item["can_decide"])
    outsider = Decider(str(elsewhere.user_id), "kim@example.com", None)
    assert await desk.inbox(halts.workspace_id, outsider) == []


async def test_what_python_drops_never_shortens_the_inbox(harness: Harness) -> None:
    """More than a page of timed-out approvals (the database keeps them, Python drops them) newer than the one
    approval the decider may decide: it is still found."""
    me = await member(harness, "ivy@example.com", "Acme", "admin")
    other = await member(harness, "zed@example.com", "Acme")
    store = harness.plugin.workflows.store
    halts = Halts(store, str(me.workspace_id), {})
    wanted = await halts.add("yes", approval(None, requester=str(other.user_id)))
    for index in range(INBOX_PAGE + 3):
        await halts.add(f"late_{index}", approval(None, requester=str(other.user_id), timeout=60))
    items = await ApprovalDesk(harness.app.state.workflow_service).inbox(halts.workspace_id, decider(me))
    assert [item["execution_id"] for item in items] == [wanted]


async def test_the_inbox_reads_the_decisions_of_all_its_approvals_at_once(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each item shows its approval's decisions so far, read for every halt in a few queries, not one per item."""
    me = await member(harness, "ivy@example.com", "Acme", "admin")
    other = await member(harness, "zed@example.com", "Acme")
    store = harness.plugin.workflows.store
    halts = Halts(store, str(me.workspace_id), {})
    shapes = {name: approval(None, requester=str(other.user_id)) for name in ("one", "two", "three")}
    for name, halt in shapes.items():
        await halts.add(name, halt)
    for name in ("one", "three"):
        decision = Decision(
            halts.ids[name], "approve", shapes[name]["halt_id"], approved=True, user_id=str(other.user_id)
        )
        await store.add_decision(decision)

    async def one_halt_at_a_time(halt_id: str) -> list[Decision]:
        raise AssertionError(f"decisions of {halt_id} read on their own")

    monkeypatch.setattr(store, "decisions", one_halt_at_a_time)
    items = await ApprovalDesk(harness.app.state.workflow_service).inbox(halts.workspace_id, decider(me))
    decided = {item["execution_id"]: [d["user_id"] for d in item["decisions"]] for item in items}
    assert decided == {
        halts.ids["one"]: [str(other.user_id)],
        halts.ids["two"]: [],
        halts.ids["three"]: [str(other.user_id)],
    }


async def interleaved_inbox(harness: Harness, me: IssuedToken, other: IssuedToken) -> list[str]:
    """25 approvals ``me`` may decide, oldest first (their ids returned), with what ``me`` may not decide between
    them: approvals the database leaves out (another role's), and runs of what it keeps and Python drops (timed-out
    approvals, another role's approval under a sub-workflow), one run longer than any page asked below."""
    halts = Halts(harness.plugin.workflows.store, str(me.workspace_id), {})
    requester = str(other.user_id)
    wanted = []
    for index in range(25):
        wanted.append(await halts.add(f"yes_{index}", approval(None, requester=requester)))
        for late in range(30 if index == 5 else index % 3):
            await halts.add(f"late_{index}_{late}", approval(None, requester=requester, timeout=60))
        if index % 2:
            nested = {"type": "workflow", "child": approval(["role:finance"], requester=requester)}
            await halts.add(f"no_nested_{index}", nested)
        if index % 4 == 0:
            await halts.add(f"no_role_{index}", approval(["role:finance"], requester=requester))
            await halts.add(f"no_wait_{index}", {"type": "wait", "due_at": START.isoformat()})
    return wanted


async def inbox_answer(client: httpx.AsyncClient, who: IssuedToken, **params: str) -> dict[str, Any]:
    response = await client.get(APPROVALS, params=params, headers=auth(who))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(answer: dict[str, Any]) -> list[str]:
    return [item["execution_id"] for item in answer["data"]]


async def test_the_inbox_pages_by_cursor_and_by_page_with_no_page_short(
    harness: Harness, client: httpx.AsyncClient
) -> None:
    """Two pages of 25 approvals by cursor, then by number: full pages although Python drops runs of candidates
    longer than a page between them, oldest first, nothing twice and nothing missing (docs/http-api.md, Lists)."""
    me = await member(harness, "ivy@example.com", "Acme", "admin")
    other = await member(harness, "zed@example.com", "Acme")
    wanted = await interleaved_inbox(harness, me, other)

    first = await inbox_answer(client, me, cursor="", per_page="13")
    assert len(first["data"]) == 13
    assert set(first["meta"]) == {"per_page", "cursor"}
    assert first["meta"]["per_page"] == 13
    assert first["meta"]["cursor"]
    second = await inbox_answer(client, me, cursor=first["meta"]["cursor"], per_page="13")
    assert second["meta"] == {"per_page": 13, "cursor": None}
    assert ids(first) + ids(second) == wanted

    whole = await inbox_answer(client, me, cursor="", per_page="25")  # a full last page has no next page
    assert (ids(whole), whole["meta"]) == (wanted, {"per_page": 25, "cursor": None})

    by_number = [await inbox_answer(client, me, page=str(page), per_page="13") for page in (1, 2, 3)]
    assert [answer["meta"] for answer in by_number] == [
        {"page": page, "per_page": 13, "total": 25} for page in (1, 2, 3)
    ]
    assert (ids(by_number[0]), ids(by_number[1]), ids(by_number[2])) == (ids(first), ids(second), [])
    default = await inbox_answer(client, me)
    assert (ids(default), default["meta"]) == (wanted, {"page": 1, "per_page": 25, "total": 25})
    assert (await inbox_answer(client, me, per_page="1000"))["meta"]["per_page"] == 100  # clamped as every list


async def test_the_workspace_scope_pages_too(harness: Harness, client: httpx.AsyncClient) -> None:
    """``scope=workspace`` by cursor: every pending approval of the workspace (not the timed-out ones), a page at
    a time, in the order of the unpaged inbox."""
    me = await member(harness, "ivy@example.com", "Acme", "admin")
    other = await member(harness, "zed@example.com", "Acme")
    await interleaved_inbox(harness, me, other)
    everyone = await ApprovalDesk(harness.app.state.workflow_service).inbox(
        str(me.workspace_id), decider(me), everyone=True
    )
    assert len(everyone) == 25 + 12 + 7  # mine, the nested ones, the other role's
    seen: list[str] = []
    cursor: str | None = ""
    while cursor is not None:
        answer = await inbox_answer(client, me, scope="workspace", cursor=cursor, per_page="10")
        assert len(answer["data"]) == 10 or answer["meta"]["cursor"] is None
        seen += ids(answer)
        cursor = answer["meta"]["cursor"]
    assert seen == [item["execution_id"] for item in everyone]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"per_page": "0"}, "per_page"),
        ({"per_page": "many"}, "per_page"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "W10"}, "cursor"),  # base64url of [], no row
        ({"cursor": "", "page": "2"}, "page"),
        ({"page": "0"}, "page"),
    ],
)
async def test_a_bad_page_is_422_naming_it(
    harness: Harness, client: httpx.AsyncClient, params: dict[str, str], named: str
) -> None:
    me = await member(harness, "ivy@example.com", "Acme", "admin")
    response = await client.get(APPROVALS, params=params, headers=auth(me))
    assert response.status_code == 422, response.text
    assert named in response.json()["details"]
