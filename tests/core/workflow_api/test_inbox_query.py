"""The approvals inbox asks the database for what the decider may decide (docs/http-api.md, Approvals): the SQL
store's ``page`` with ``MayDecide`` leaves out what the approvals' rules refuse (approvers by user id, email or
role, the requester excluded, a decision already made on the halt), keeps what only Python can judge (a halt
recorded before rules, one under a sub-workflow), and the inbox answers as it did when Python filtered every
candidate; what Python still drops never shortens the inbox. On SQLite and PostgreSQL (the memory store
may keep more: the inbox checks every candidate again)."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from packs.core.identity.accounts import IssuedToken, create_user
from packs.core.workflow import Execution, ExecutionFilter
from packs.core.workflow.decisions import Decision, approval_rule
from packs.core.workflow.stores.protocol import MayDecide
from packs.core.workflow_api.approvals import APPROVAL_HALTS, INBOX_PAGE, ApprovalDesk, Decider
from tests.support.harness import Harness, harness_for, make_settings
from tests.support.workflow_http import PACKS

START = datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC)


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    async with harness_for(make_settings(database_url, packs=PACKS)) as built:
        yield built


async def member(harness: Harness, email: str, workspace: str, role: str | None = None) -> IssuedToken:
    async with harness.plugin.db.create_session_maker()() as session:
        issued = await create_user(session, email, workspace, role)
        await session.commit()
        return issued


@dataclass
class Halts:
    """Executions halted at approvals of every shape, by name, in one workspace (and one in another)."""

    store: Any
    workspace_id: str
    ids: dict[str, str]
    moment: int = 0

    async def add(self, name: str, halt: dict[str, Any], *, workspace_id: str | None = None) -> str:
        self.moment += 1
        created = START + datetime.timedelta(seconds=self.moment)
        execution = Execution(
            id=str(uuid.uuid4()),
            workflow_id="http_anyone",
            status="halted",
            workspace_id=workspace_id or self.workspace_id,
            current_step="approve",
            halt_data=halt,
            created_at=created,
            updated_at=created,
        )
        await self.store.add(execution)
        self.ids[name] = execution.id
        return execution.id


def approval(
    approvers: list[str] | None,
    *,
    requester: str | None = None,
    allow_requester: bool = False,
    timeout: int | None = None,
) -> dict[str, Any]:
    """The halt data of an approval step, with the rule it resolves."""
    return {
        "type": "approval",
        "step_id": "approve",
        "prompt": "Ok?",
        "approvers": approvers,
        "rule": approval_rule(approvers, allow_requester=allow_requester, requester_id=requester),
        "quorum": 2,
        "timeout": timeout,
        "requested_at": (
            START - datetime.timedelta(days=1) if timeout else datetime.datetime.now(datetime.UTC)
        ).isoformat(),
        "halt_id": str(uuid.uuid4()),
    }


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
