"""The schedule endpoints through the app (docs/http-api.md, Schedules): create, list, show with next_runs,
change, pause, resume, delete and trigger; two workspaces; every bad field a 422 naming it."""

from __future__ import annotations

import asyncio
import contextvars
import datetime
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.support.harness import Harness, auth, harness_for, make_settings
from tests.support.workflow_http import API, EXECUTIONS, PACKS, wait_for

SCHEDULES = f"{API}/schedules"


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    async with harness_for(make_settings(database_url, packs=PACKS)) as built:
        yield built


async def create(client: httpx.AsyncClient, issued: Any, body: dict[str, Any], workflow: str = "http_echo") -> Any:
    return await client.post(f"{API}/{workflow}/schedules", json=body, headers=auth(issued))


async def created(client: httpx.AsyncClient, issued: Any, body: dict[str, Any], workflow: str = "http_echo") -> Any:
    response = await create(client, issued, body, workflow)
    assert response.status_code == 201, response.text
    return response.json()["data"]


async def test_create_with_the_defaults_then_show_with_the_next_five_runs(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    ada = await harness.user("ada@example.com", "Acme")
    response = await create(client, ada, {"cron": "0 2 * * *", "timezone": "Europe/Paris", "input": {"value": "x"}})
    assert response.status_code == 201, response.text
    schedule = response.json()["data"]
    assert response.headers["location"] == f"{SCHEDULES}/{schedule['id']}" == schedule["url"]
    assert {key: schedule[key] for key in ("cron", "every", "timezone", "input", "overlap", "catch_up")} == {
        "cron": "0 2 * * *",
        "every": None,
        "timezone": "Europe/Paris",
        "input": {"value": "x"},
        "overlap": "skip",
        "catch_up": "latest",
    }
    assert (schedule["catch_up_window"], schedule["jitter"], schedule["paused"]) == (86400, 0, False)
    assert schedule["workflow_id"] == "http_echo"
    assert schedule["workspace_id"] == str(ada.workspace_id)
    assert schedule["created_by_id"] == str(ada.user_id)
    assert schedule["runs_url"] == f"{EXECUTIONS}?schedule_id={schedule['id']}"
    shown = await client.get(schedule["url"], headers=auth(ada))
    assert shown.status_code == 200
    runs = [datetime.datetime.fromisoformat(moment) for moment in shown.json()["data"]["next_runs"]]
    assert len(runs) == 5
    assert all(
        run.hour == 2
        and run.minute == 0
        and run.utcoffset() in {datetime.timedelta(hours=1), datetime.timedelta(hours=2)}
        for run in runs
    )
    assert runs == sorted(runs)
    assert runs[0] > datetime.datetime.now(datetime.UTC)
    assert shown.json()["data"]["next_tick_at"] == runs[0].astimezone(datetime.UTC).isoformat()
    assert await harness.count("workflow_timers", "kind = 'schedule'") == 1


async def test_every_seconds_list_pause_resume_change_and_delete(client: httpx.AsyncClient, harness: Harness) -> None:
    ada = await harness.user("ada@example.com", "Acme")
    first = await created(client, ada, {"every": 3600})
    second = await created(client, ada, {"cron": "*/5 * * * *", "paused": True}, workflow="http_plain")
    assert second["next_runs"] == []
    assert second["next_tick_at"] is None
    listed = await client.get(SCHEDULES, headers=auth(ada))
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["data"]] == [first["id"], second["id"]]
    assert listed.json()["meta"] == {"page": 1, "per_page": 100, "total": 2}
    only = await client.get(f"{SCHEDULES}?workflow_id=http_plain", headers=auth(ada))
    assert [item["id"] for item in only.json()["data"]] == [second["id"]]
    paused = await client.patch(first["url"], json={"paused": True}, headers=auth(ada))
    assert paused.status_code == 200, paused.text
    assert paused.json()["data"]["paused"] is True
    assert paused.json()["data"]["next_runs"] == []
    resumed = await client.patch(
        first["url"], json={"paused": False, "every": 60, "overlap": "allow_all"}, headers=auth(ada)
    )
    assert resumed.status_code == 200, resumed.text
    data = resumed.json()["data"]
    assert (data["paused"], data["every"], data["overlap"]) == (False, 60, "allow_all")
    gaps = {
        (datetime.datetime.fromisoformat(b) - datetime.datetime.fromisoformat(a)).total_seconds()
        for a, b in zip(data["next_runs"], data["next_runs"][1:], strict=False)
    }
    assert gaps == {60.0}
    to_cron = await client.patch(first["url"], json={"cron": "15 * * * *"}, headers=auth(ada))
    assert to_cron.status_code == 200, to_cron.text
    assert (to_cron.json()["data"]["cron"], to_cron.json()["data"]["every"]) == ("15 * * * *", None)
    gone = await client.delete(first["url"], headers=auth(ada))
    assert gone.status_code == 204
    assert (await client.get(first["url"], headers=auth(ada))).status_code == 404
    assert await harness.count("workflow_schedules") == 1
    # Its pending ticks went with it (the paused one never had any).
    assert await harness.count("workflow_timers", "kind = 'schedule' AND fired_at IS NULL") == 0


async def test_trigger_starts_one_run_that_records_its_schedule_and_the_list_filters_on_it(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    ada = await harness.user("ada@example.com", "Acme")
    schedule = await created(client, ada, {"cron": "0 2 * * *", "input": {"value": "nightly"}, "paused": True})
    other = await created(client, ada, {"every": 86400})
    triggered = await client.post(f"{schedule['url']}/trigger", headers=auth(ada))
    assert triggered.status_code == 202, triggered.text
    run = triggered.json()["data"]
    assert run["schedule_id"] == schedule["id"]
    assert run["created_by_id"] == str(ada.user_id)
    done = await wait_for(client, ada, run["id"], {"completed"})
    assert done["output"]["input"] == {
        "value": "nightly",
        "user_id": str(ada.user_id),
        "workspace_id": str(ada.workspace_id),
    }
    assert done["schedule_id"] == schedule["id"]
    await client.post(f"{API}/http_echo/executions", json={"input": {}}, headers=auth(ada))
    runs = await client.get(schedule["runs_url"], headers=auth(ada))
    assert [item["id"] for item in runs.json()["data"]] == [run["id"]]
    assert (await client.get(other["runs_url"], headers=auth(ada))).json()["data"] == []
    everything = await client.get(EXECUTIONS, headers=auth(ada))
    assert len(everything.json()["data"]) == 2
    bad = await client.get(f"{EXECUTIONS}?schedule_id=nope", headers=auth(ada))
    assert bad.status_code == 422
    assert "schedule_id" in bad.json()["details"]


async def test_a_trigger_waits_for_a_delete_under_way_then_finds_no_schedule(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    """The delete holds the schedule's lock (its row on PostgreSQL, the write lock on SQLite) until it commits; a
    trigger sent meanwhile waits for it, then answers 404 and starts nothing."""
    ada = await harness.user("ada@example.com", "Acme")
    schedule = await created(client, ada, {"every": 86400, "paused": True})
    service = harness.plugin.workflows.schedules
    async with service.store.unit():
        await service.delete(schedule["id"], str(ada.workspace_id))
        # Another request's context: it must not join this unit.
        triggering = asyncio.create_task(
            client.post(f"{schedule['url']}/trigger", headers=auth(ada)), context=contextvars.Context()
        )
        await asyncio.sleep(0.5)
        assert not triggering.done(), "the trigger did not wait for the schedule's lock"
    triggered = await triggering
    assert triggered.status_code == 404, triggered.text
    assert await harness.count("workflow_executions") == 0
    assert await harness.count("audit_log", "action = 'schedule_trigger'") == 0


async def test_a_schedule_keeps_one_pending_timer_whatever_its_changes(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    """Each change of calendar, jitter or pause plans the next tick again; the timer of the tick it replaced
    goes (it piled up, one per change)."""
    ada = await harness.user("ada@example.com", "Acme")
    schedule = await created(client, ada, {"every": 3600})
    pending = "schedule_id IS NOT NULL AND fired_at IS NULL"
    assert await harness.count("workflow_timers", pending) == 1
    changes = [{"every": 7200}, {"cron": "0 3 * * *"}, {"jitter": 30}, {"timezone": "Europe/Paris"}, {"jitter": 5}]
    for change in changes:
        answer = await client.patch(schedule["url"], json=change, headers=auth(ada))
        assert answer.status_code == 200, answer.text
        assert await harness.count("workflow_timers", pending) == 1, change
    await client.patch(schedule["url"], json={"paused": True}, headers=auth(ada))
    assert await harness.count("workflow_timers", pending) == 0
    resumed = await client.patch(schedule["url"], json={"paused": False}, headers=auth(ada))
    assert resumed.status_code == 200, resumed.text
    assert await harness.count("workflow_timers", pending) == 1


async def test_another_workspaces_schedule_is_not_found(client: httpx.AsyncClient, harness: Harness) -> None:
    ada = await harness.user("ada@example.com", "Acme")
    bob = await harness.user("bob@example.com", "Globex")
    schedule = await created(client, ada, {"every": 600})
    for method, url, body in [
        ("GET", schedule["url"], None),
        ("PATCH", schedule["url"], {"paused": True}),
        ("DELETE", schedule["url"], None),
        ("POST", f"{schedule['url']}/trigger", None),
        ("GET", f"{SCHEDULES}/{uuid.uuid4()}", None),
        ("GET", f"{SCHEDULES}/not-a-uuid", None),
    ]:
        response = await client.request(method, url, json=body, headers=auth(bob))
        assert response.status_code == 404, (method, url, response.text)
        assert "no schedule" in response.json()["error"]
    assert (await client.get(SCHEDULES, headers=auth(bob))).json()["data"] == []
    assert (await client.get(schedule["runs_url"], headers=auth(bob))).json()["data"] == []
    still = await client.get(schedule["url"], headers=auth(ada))
    assert still.json()["data"]["paused"] is False
    assert await harness.count("workflow_executions") == 0


async def test_an_unknown_workflow_is_404_and_every_route_needs_a_token(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    ada = await harness.user("ada@example.com", "Acme")
    missing = await create(client, ada, {"every": 60}, workflow="no_such_flow")
    assert missing.status_code == 404
    some = f"{SCHEDULES}/{uuid.uuid4()}"
    for method, url in [
        ("POST", f"{API}/http_echo/schedules"),
        ("GET", SCHEDULES),
        ("GET", some),
        ("PATCH", some),
        ("DELETE", some),
        ("POST", f"{some}/trigger"),
    ]:
        assert (await client.request(method, url)).status_code == 401, (method, url)
    assert await harness.count("workflow_schedules") == 0


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"cron": "0 2 * *"}, "cron", "has 4 field(s)"),
        ({"cron": "0 25 * * *"}, "cron", "is not valid"),
        ({"cron": 5}, "cron", "five-field cron string"),
        ({"cron": "0 2 * * *", "timezone": "Europe/Pariss"}, "timezone", "unknown timezone 'Europe/Pariss'"),
        ({"cron": "0 2 * * *", "timezone": 3}, "timezone", "IANA timezone name"),
        ({"every": 0}, "every", "from 1 to"),
        ({"every": 1.5}, "every", "whole number"),
        ({"every": 10**30}, "every", "from 1 to"),
        ({"every": True}, "every", "whole number"),
        ({"cron": "0 2 * * *", "every": 60}, "cron", "not both"),
        ({}, "cron", "either cron"),
        ({"every": 60, "overlap": "queue"}, "overlap", "skip, buffer_one, allow_all, cancel_other"),
        ({"every": 60, "catch_up": "some"}, "catch_up", "none, latest, all"),
        ({"every": 60, "catch_up_window": -1}, "catch_up_window", "from 0 to"),
        ({"every": 60, "jitter": 86401}, "jitter", "from 0 to 86400"),
        ({"every": 60, "paused": "yes"}, "paused", "true or false"),
        ({"every": 60, "input": [1]}, "input", "JSON object"),
        ({"every": 60, "input": {"value": "x" * 30}}, "input", "value"),
        ({"every": 60, "colour": "red"}, "colour", "unknown field"),
    ],
)
async def test_a_bad_field_is_a_422_naming_it_and_nothing_is_written(
    client: httpx.AsyncClient, harness: Harness, body: dict[str, Any], field: str, words: str
) -> None:
    ada = await harness.user("ada@example.com", "Acme")
    response = await create(client, ada, body)
    assert response.status_code == 422, response.text
    details = response.json()["details"]
    assert field in details, details
    assert words in details[field], details
    assert await harness.count("workflow_schedules") == 0


async def test_every_bad_field_of_one_request_is_named_at_once(client: httpx.AsyncClient, harness: Harness) -> None:
    """The calendar was checked only when every other field was good: fixing one field revealed the next."""
    ada = await harness.user("ada@example.com", "Acme")
    response = await create(client, ada, {"cron": "0 2 * *", "timezone": "Europe/Pariss", "overlap": "x"})
    assert response.status_code == 422, response.text
    details = response.json()["details"]
    assert set(details) == {"cron", "timezone", "overlap"}, details
    assert "has 4 field(s)" in details["cron"]
    assert "unknown timezone 'Europe/Pariss'" in details["timezone"]
    assert await harness.count("workflow_schedules") == 0


async def test_a_bad_change_is_a_422_and_changes_nothing(client: httpx.AsyncClient, harness: Harness) -> None:
    ada = await harness.user("ada@example.com", "Acme")
    schedule = await created(client, ada, {"cron": "0 2 * * *"})
    for body, field in [
        ({"cron": "nope"}, "cron"),
        ({"timezone": "Nowhere/Land"}, "timezone"),
        ({"cron": None}, "cron"),
        ({"every": 60, "cron": "0 2 * * *"}, "cron"),
        ({"overlap": "never"}, "overlap"),
        ({"input": {"value": "y" * 40}}, "input"),
    ]:
        response = await client.patch(schedule["url"], json=body, headers=auth(ada))
        assert response.status_code == 422, (body, response.text)
        assert field in response.json()["details"], (body, response.json())
    bad_json = await client.patch(schedule["url"], content=b"{", headers=auth(ada))
    assert bad_json.status_code == 400
    shown = (await client.get(schedule["url"], headers=auth(ada))).json()["data"]
    assert {key: shown[key] for key in ("cron", "timezone", "overlap", "input")} == {
        "cron": "0 2 * * *",
        "timezone": "UTC",
        "overlap": "skip",
        "input": {},
    }
    for bad_page in ("page=0", "per_page=5000", "page=abc"):
        assert (await client.get(f"{SCHEDULES}?{bad_page}", headers=auth(ada))).status_code == 422


async def test_the_openapi_document_shows_the_schedule_routes(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    expected = {
        f"{API}/{{workflow_id}}/schedules": {"post"},
        SCHEDULES: {"get"},
        f"{SCHEDULES}/{{schedule_id}}": {"get", "patch", "delete"},
        f"{SCHEDULES}/{{schedule_id}}/trigger": {"post"},
    }
    for path, methods in expected.items():
        assert set(paths[path]) == methods, path
        for operation in paths[path].values():
            assert operation["tags"] == ["schedules"]
            assert {"401", "403"} <= set(operation["responses"])
    assert "422" in paths[f"{API}/{{workflow_id}}/schedules"]["post"]["responses"]
    shown = paths[f"{SCHEDULES}/{{schedule_id}}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert shown


async def test_every_change_of_a_schedule_is_in_the_audit_log(client: httpx.AsyncClient, harness: Harness) -> None:
    ada = await harness.user("ada@example.com", "Acme")
    schedule = await created(client, ada, {"every": 600})
    await client.patch(schedule["url"], json={"paused": True}, headers=auth(ada))
    await client.patch(schedule["url"], json={"paused": False}, headers=auth(ada))
    await client.patch(schedule["url"], json={"jitter": 5}, headers=auth(ada))
    run = (await client.post(f"{schedule['url']}/trigger", headers=auth(ada))).json()["data"]
    await client.delete(schedule["url"], headers=auth(ada))
    bad = await client.patch(f"{SCHEDULES}/{uuid.uuid4()}", json={"paused": True}, headers=auth(ada))
    assert bad.status_code == 404
    log = (await client.get(f"{API}/audit", headers=auth(ada))).json()["data"]
    mine = [entry for entry in log if entry["target_type"] == "schedule"]
    assert [entry["action"] for entry in reversed(mine)] == [
        "schedule_create",
        "schedule_pause",
        "schedule_resume",
        "schedule_update",
        "schedule_trigger",
        "schedule_delete",
    ]
    assert {(entry["target_id"], entry["actor_id"], entry["source"]) for entry in mine} == {
        (schedule["id"], str(ada.user_id), "api")
    }
    assert mine[1]["details"] == {"execution_id": run["id"]}
