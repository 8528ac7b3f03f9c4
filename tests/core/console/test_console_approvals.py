"""Approvals in the console over HTTP: the inbox of each user, Approve/Reject with the approval's form and a
comment, refused (403, saying why) to a non-approver and to the requester, the count of pending approvals on
every page, the audit log of the decisions (README, "The operations console")."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from packs.core.console.inbox import PER_PAGE
from packs.core.identity.accounts import IssuedToken, create_user
from tests.support.approval_halts import Halts, approval
from tests.support.console import CONSOLE, signed_in
from tests.support.harness import Harness, harness_for, make_settings
from tests.support.workflow_http import PACKS, started, wait_for

APPROVALS = f"{CONSOLE}/approvals"


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    async with harness_for(make_settings(database_url, packs=PACKS)) as built:
        yield built


async def member(harness: Harness, email: str, role: str | None = None) -> IssuedToken:
    async with harness.plugin.db.create_session_maker()() as session:
        issued = await create_user(session, email, "Acme", role)
        await session.commit()
        return issued


def web_of(harness: Harness) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=harness.app), base_url="http://testserver")


async def test_an_approval_is_decided_in_the_inbox_by_its_approvers_only(
    harness: Harness, client: httpx.AsyncClient
) -> None:
    requester = await member(harness, "ada@example.com")
    bob = await member(harness, "bob@example.com")
    carol = await member(harness, "carol@example.com", role="admin")
    eve = await member(harness, "eve@example.com")
    execution_id = await started(client, requester, "http_rules", {"approver": "bob@example.com"})
    await wait_for(client, requester, execution_id, {"halted"})
    async with web_of(harness) as ada_web, web_of(harness) as bob_web, web_of(harness) as carol_web:
        async with web_of(harness) as eve_web:
            eve_csrf = await signed_in(eve_web, eve.token)
            eve_inbox = await eve_web.get(APPROVALS)
            assert "<h1>Approvals</h1>" in eve_inbox.text
            assert "Nothing waits for your decision." in eve_inbox.text
            assert 'aria-label="0 pending approvals"' in eve_inbox.text
            detail = await eve_web.get(f"{CONSOLE}/executions/{execution_id}")
            assert "You may not decide: you are not an approver of this step" in detail.text
            assert "Approve</button>" not in detail.text
            refused = await eve_web.post(
                f"{APPROVALS}/{execution_id}",
                data={"csrf_token": eve_csrf, "decision": "approve", "reason": "because"},
            )
            assert refused.status_code == 403
            assert "not an approver" in refused.text
        ada_csrf = await signed_in(ada_web, requester.token)
        refused = await ada_web.post(
            f"{APPROVALS}/{execution_id}", data={"csrf_token": ada_csrf, "decision": "approve", "reason": "mine"}
        )
        assert refused.status_code == 403
        assert "you started this execution" in refused.text

        bob_csrf = await signed_in(bob_web, bob.token)
        inbox = await bob_web.get(APPROVALS)
        assert "Ship it?" in inbox.text
        assert 'aria-label="1 pending approvals"' in inbox.text
        label = '<label for="approval-1-field-reason">reason <span class="required">(required)</span></label>'
        assert label in inbox.text  # each approval's fields have ids of their own
        assert "0 of 2 approvals" in inbox.text
        too_short = await bob_web.post(
            f"{APPROVALS}/{execution_id}",
            data={"csrf_token": bob_csrf, "decision": "approve", "reason": "ok", "next": APPROVALS},
        )
        assert too_short.status_code == 422  # the approval's own form (JSON Schema) refuses it; nothing recorded
        assert re.search(r'id="field-reason-error">&#39;ok&#39; is too short.</p>', too_short.text)  # by its field
        missing = await bob_web.post(
            f"{APPROVALS}/{execution_id}", data={"csrf_token": bob_csrf, "decision": "approve", "next": APPROVALS}
        )
        assert missing.status_code == 422
        assert re.search(r'id="field-reason-error">Required.</p>', missing.text)
        approved = await bob_web.post(
            f"{APPROVALS}/{execution_id}",
            data={
                "csrf_token": bob_csrf,
                "decision": "approve",
                "reason": "looks good",
                "comment": "checked the numbers",
                "next": APPROVALS,
            },
        )
        assert approved.status_code == 303, approved.text
        assert approved.headers["location"] == APPROVALS
        assert "Nothing waits for your decision." in (await bob_web.get(APPROVALS)).text  # decided once per halt

        await signed_in(carol_web, carol.token)
        carol_inbox = await carol_web.get(APPROVALS)
        assert "1 of 2 approvals" in carol_inbox.text
        assert "Approved by bob@example.com: “checked the numbers”" in carol_inbox.text
        assert 'aria-label="1 pending approvals"' in (await carol_web.get(f"{CONSOLE}/executions")).text
        carol_csrf = re.search(r'name="csrf_token" value="([^"]+)"', carol_inbox.text)
        assert carol_csrf is not None
        await carol_web.post(
            f"{APPROVALS}/{execution_id}",
            data={"csrf_token": carol_csrf.group(1), "decision": "approve", "reason": "fine by me"},
        )
    done = await wait_for(client, requester, execution_id, {"completed"})
    assert done["output"]["approved"] is True
    async with harness.plugin.db.get_engine().connect() as connection:
        from sqlalchemy import text

        rows = (
            await connection.execute(
                text("SELECT action, source FROM audit_log WHERE action = 'approve' ORDER BY created_at")
            )
        ).all()
    assert [tuple(row) for row in rows] == [("approve", "console"), ("approve", "console")]


async def test_a_rejection_from_the_execution_page_needs_no_form(harness: Harness, client: httpx.AsyncClient) -> None:
    requester = await member(harness, "ada@example.com")
    bob = await member(harness, "bob@example.com")
    execution_id = await started(client, requester, "http_rules", {"approver": "bob@example.com"})
    await wait_for(client, requester, execution_id, {"halted"})
    async with web_of(harness) as bob_web:
        csrf = await signed_in(bob_web, bob.token)
        detail = await bob_web.get(f"{CONSOLE}/executions/{execution_id}")
        assert "Approve</button>" in detail.text
        assert "Reject</button>" in detail.text
        rejected = await bob_web.post(
            f"{APPROVALS}/{execution_id}",
            data={
                "csrf_token": csrf,
                "decision": "reject",
                "comment": "not now",
                "next": f"{CONSOLE}/executions/{execution_id}",
            },
        )
        assert rejected.status_code == 303
        assert rejected.headers["location"] == f"{CONSOLE}/executions/{execution_id}"
        bad = await bob_web.post(f"{APPROVALS}/{execution_id}", data={"csrf_token": csrf, "decision": "maybe"})
        assert bad.status_code == 422
    done = await wait_for(client, requester, execution_id, {"completed"})
    assert "rejected" in done["output"]


async def test_the_inbox_shows_a_page_at_a_time_with_a_next_link(harness: Harness, client: httpx.AsyncClient) -> None:
    """More approvals than a page: the first page shows :data:`PER_PAGE` oldest first and a "Next" link (keyset),
    which shows the rest and no "Next"; each approval once; the pending count is the whole inbox's on both."""
    requester = await member(harness, "ada@example.com")
    bob = await member(harness, "bob@example.com")
    halts = Halts(harness.plugin.workflows.store, str(bob.workspace_id), {})
    wanted = []
    for index in range(PER_PAGE + 5):
        wanted.append(await halts.add(f"yes_{index}", approval(None, requester=str(requester.user_id))))
        await halts.add(f"late_{index}", approval(None, requester=str(requester.user_id), timeout=60))
    async with web_of(harness) as web:
        await signed_in(web, bob.token)
        first = await web.get(APPROVALS)
        assert first.status_code == 200, first.text
        shown = re.findall(r'<h2 id="approval-([0-9a-f-]+)">', first.text)
        assert shown == wanted[:PER_PAGE]
        assert f'aria-label="{PER_PAGE + 5} pending approvals"' in first.text
        link = re.search(r'<a href="\?(cursor=[^"]+)" rel="next">Next</a>', first.text)
        assert link is not None, first.text
        second = await web.get(f"{APPROVALS}?{html.unescape(link.group(1))}")
        assert second.status_code == 200, second.text
        assert re.findall(r'<h2 id="approval-([0-9a-f-]+)">', second.text) == wanted[PER_PAGE:]
        assert 'rel="next"' not in second.text
        assert f'<a href="{APPROVALS}">First</a>' in second.text
        assert f'aria-label="{PER_PAGE + 5} pending approvals"' in second.text
        assert (await web.get(f"{APPROVALS}?cursor=zzz")).status_code == 422
