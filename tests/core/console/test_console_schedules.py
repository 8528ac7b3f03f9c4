"""Schedules in the console over HTTP: the list (calendar, timezone, next runs, last run, status), Pause, Resume
and Trigger now, audited; the executions list filtered by schedule and by what a halted execution waits for."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support.console import CONSOLE, signed_in
from tests.support.harness import Harness, auth, harness_for, http_client, make_settings
from tests.support.workflow_http import PACKS, started, wait_for

SCHEDULES = f"{CONSOLE}/schedules"


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    async with harness_for(make_settings(database_url, packs=PACKS)) as built:
        yield built


@pytest.fixture
async def web(harness: Harness, client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=harness.app), base_url="http://testserver") as c:
        yield c


async def test_a_schedule_is_paused_resumed_and_triggered(
    harness: Harness, client: httpx.AsyncClient, web: httpx.AsyncClient
) -> None:
    issued = await harness.user()
    created = await client.post(
        "/api/v1/workflows/http_plain/schedules",
        json={"every": 3600, "timezone": "Europe/Paris"},
        headers=auth(issued),
    )
    assert created.status_code == 201, created.text
    schedule_id = created.json()["data"]["id"]
    csrf = await signed_in(web, issued.token)
    page = await web.get(SCHEDULES)
    assert "<h1>Schedules</h1>" in page.text
    assert "every 3600 s" in page.text
    assert "Europe/Paris" in page.text
    assert ">Active</span>" in page.text
    paused = await web.post(f"{SCHEDULES}/{schedule_id}/pause", data={"csrf_token": csrf})
    assert paused.status_code == 303
    page = await web.get(SCHEDULES)
    assert ">Paused</span>" in page.text
    assert "Resume</button>" in page.text
    shown = await client.get(f"/api/v1/workflows/schedules/{schedule_id}", headers=auth(issued))
    assert shown.json()["data"]["paused"] is True
    resumed = await web.post(f"{SCHEDULES}/{schedule_id}/resume", data={"csrf_token": csrf})
    assert resumed.status_code == 303
    assert ">Active</span>" in (await web.get(SCHEDULES)).text
    triggered = await web.post(f"{SCHEDULES}/{schedule_id}/trigger", data={"csrf_token": csrf})
    assert triggered.status_code == 303
    run_id = triggered.headers["location"].rsplit("/", 1)[-1]
    await wait_for(client, issued, run_id, {"completed"})
    other = await started(client, issued, "http_plain")
    runs = await web.get(f"{CONSOLE}/executions?schedule={schedule_id}")
    assert run_id in runs.text
    assert other not in runs.text
    assert (await web.get(f"{CONSOLE}/executions?schedule=nope")).status_code == 422
    for refused in ("pause", "trigger"):
        assert (await web.post(f"{SCHEDULES}/{schedule_id}/{refused}", data={})).status_code == 403
    assert (await web.post(f"{SCHEDULES}/{schedule_id}/explode", data={"csrf_token": csrf})).status_code == 404
    stranger = await harness.user("eve@example.com", "Elsewhere")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=harness.app), base_url="http://testserver") as eve:
        eve_csrf = await signed_in(eve, stranger.token)
        assert schedule_id not in (await eve.get(SCHEDULES)).text
        answer = await eve.post(f"{SCHEDULES}/{schedule_id}/pause", data={"csrf_token": eve_csrf})
        assert answer.status_code == 404
    audit = await client.get("/api/v1/workflows/audit", headers=auth(issued))
    actions = [(e["action"], e["target_type"]) for e in audit.json()["data"] if e["source"] == "console"]
    assert actions == [
        ("schedule_trigger", "schedule"),
        ("schedule_resume", "schedule"),
        ("schedule_pause", "schedule"),
    ]


async def test_a_schedule_action_on_another_spelling_of_its_id_is_audited_under_its_id(
    harness: Harness, client: httpx.AsyncClient, web: httpx.AsyncClient
) -> None:
    issued = await harness.user()
    created = await client.post("/api/v1/workflows/http_plain/schedules", json={"every": 3600}, headers=auth(issued))
    schedule_id = created.json()["data"]["id"]
    csrf = await signed_in(web, issued.token)
    for action, spelling in (("pause", schedule_id.upper()), ("resume", schedule_id.replace("-", ""))):
        answer = await web.post(f"{SCHEDULES}/{spelling}/{action}", data={"csrf_token": csrf})
        assert answer.status_code == 303, answer.text
    audit = await client.get("/api/v1/workflows/audit", params={"execution_id": schedule_id}, headers=auth(issued))
    assert [(e["action"], e["target_id"]) for e in audit.json()["data"] if e["source"] == "console"] == [
        ("schedule_resume", schedule_id),
        ("schedule_pause", schedule_id),
    ]


async def test_the_list_filters_by_what_a_halted_execution_waits_for(
    harness: Harness, client: httpx.AsyncClient, web: httpx.AsyncClient
) -> None:
    issued = await harness.user()
    approval = await started(client, issued, "http_approve")
    asking = await started(client, issued, "http_ask")
    for execution_id in (approval, asking):
        await wait_for(client, issued, execution_id, {"halted"})
    await signed_in(web, issued.token)
    waiting = await web.get(f"{CONSOLE}/executions?waiting_for=approval")
    assert approval in waiting.text
    assert asking not in waiting.text
    assert re.search(r'<option value="approval" selected>', waiting.text)


async def test_a_signal_sent_from_the_execution_page_wakes_its_receive(
    harness: Harness, client: httpx.AsyncClient, web: httpx.AsyncClient
) -> None:
    issued = await harness.user()
    execution_id = await started(client, issued, "http_receive")
    await wait_for(client, issued, execution_id, {"halted"})
    csrf = await signed_in(web, issued.token)
    page = await web.get(f"{CONSOLE}/executions/{execution_id}")
    assert "it waits for “payment_received”" in page.text
    assert 'name="name" value="payment_received"' in page.text
    bad = await web.post(
        f"{CONSOLE}/executions/{execution_id}/signal",
        data={"csrf_token": csrf, "name": "payment_received", "payload": "{not json"},
    )
    assert bad.status_code == 422
    assert (await wait_for(client, issued, execution_id, {"halted"}))["status"] == "halted"
    sent = await web.post(
        f"{CONSOLE}/executions/{execution_id}/signal",
        data={"csrf_token": csrf, "name": "payment_received", "payload": '{"amount": 12}'},
    )
    assert sent.status_code == 303
    done = await wait_for(client, issued, execution_id, {"completed"})
    assert done["output"] == {"payment": {"amount": 12}}
    page = await web.get(f"{CONSOLE}/executions/{execution_id}")
    assert "Signals received" in page.text
    assert "Send signal" not in page.text  # it ended
    audit = await client.get("/api/v1/workflows/audit", headers=auth(issued))
    assert ("signal", "console") in [(e["action"], e["source"]) for e in audit.json()["data"]]


async def test_a_signal_passed_on_to_a_sub_workflow_wakes_the_child_at_once(database_url: str) -> None:
    """The child the signal was kept for is queued, not the parent (the recovery sweep would find the child only
    after ``requeue_pending_seconds``, set far beyond this test's wait)."""
    settings = make_settings(database_url, packs=PACKS, requeue_pending_seconds=600)
    async with harness_for(settings) as harness, http_client(harness.app) as client:
        issued = await harness.user()
        execution_id = await started(client, issued, "http_sub_receive")
        halted = await wait_for(client, issued, execution_id, {"halted"})
        assert halted["halt"]["data"]["child"]["type"] == "signal"
        csrf = await signed_in(client, issued.token)
        sent = await client.post(
            f"{CONSOLE}/executions/{execution_id}/signal",
            data={"csrf_token": csrf, "name": "payment_received", "payload": '{"amount": 3}'},
        )
        assert sent.status_code == 303, sent.text[:500]
        done = await wait_for(client, issued, execution_id, {"completed"}, within=30)
        assert done["output"] == {"child": {"payment": {"amount": 3}}}
