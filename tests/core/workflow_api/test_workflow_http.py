"""The workflow HTTP API: workflows, executions started, listed, shown, resumed, cancelled, retried, watched."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app import create_app
from app.plugin import PackflowPlugin
from packs.core.http.errors import GENERIC_MESSAGE
from tests.support.harness import Harness, auth, harness_for, http_client, make_settings
from tests.support.workflow_http import API, EXECUTIONS, PACKS, show, start, started, wait_for


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    """The app with contacts_service and the workflow_http fixture pack, on the current backend."""
    async with harness_for(make_settings(database_url, packs=PACKS)) as built:
        yield built


def contacts(count: int) -> list[dict[str, str]]:
    return [{"first_name": f"Person{i}", "last_name": "Imported"} for i in range(count)]


def sse_types(text: str) -> list[str]:
    return [line.removeprefix("event: ") for line in text.splitlines() if line.startswith("event: ")]


# --- authentication and workspaces -------------------------------------------------------------


async def test_every_route_needs_a_valid_bearer_token(client: httpx.AsyncClient, harness: Harness) -> None:
    some_id = str(uuid.uuid4())
    calls = [
        ("GET", API),
        ("POST", f"{API}/http_echo/executions"),
        ("GET", EXECUTIONS),
        ("GET", f"{EXECUTIONS}?page=abc&status=nope"),
        ("GET", f"{EXECUTIONS}/{some_id}"),
        ("POST", f"{EXECUTIONS}/{some_id}/resume"),
        ("POST", f"{EXECUTIONS}/{some_id}/cancel"),
        ("POST", f"{EXECUTIONS}/{some_id}/retry"),
        ("GET", f"{EXECUTIONS}/{some_id}/events"),
    ]
    for method, url in calls:
        missing = await client.request(method, url)
        assert missing.status_code == 401, (method, url, missing.text)
        assert "error" in missing.json()
        unknown = await client.request(method, url, headers={"Authorization": "Bearer nope"})
        assert unknown.status_code == 401, (method, url)
        assert unknown.json() == {"error": "invalid token: no such API token"}
    assert await harness.count("workflow_executions") == 0


async def test_the_workspace_header_is_handled_as_everywhere(client: httpx.AsyncClient, harness: Harness) -> None:
    ada = await harness.user("ada@example.com", "Acme")
    other = await harness.user("bob@example.com", "Other")
    both = await harness.user("ada@example.com", "Second")
    several = await client.get(EXECUTIONS, headers=auth(both))
    assert several.status_code == 400
    assert "X-Workspace-Id" in several.json()["error"]
    not_uuid = await client.get(EXECUTIONS, headers=auth(ada, "nope"))
    assert not_uuid.status_code == 400
    assert "error" in not_uuid.json()
    not_member = await client.get(EXECUTIONS, headers=auth(ada, other.workspace_id))
    assert not_member.status_code == 403
    assert "error" in not_member.json()
    chosen = await client.post(
        f"{API}/http_echo/executions",
        json={"mode": "sync"},
        headers={**auth(both, both.workspace_id)},
    )
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["data"]["workspace_id"] == str(both.workspace_id)
    assert chosen.json()["data"]["output"]["input"]["workspace_id"] == str(both.workspace_id)


# --- workflows ----------------------------------------------------------------------------------


async def test_lists_the_loaded_workflows_with_their_inputs(client: httpx.AsyncClient, harness: Harness) -> None:
    issued = await harness.user()
    response = await client.get(API, headers=auth(issued))
    assert response.status_code == 200
    workflows = {workflow["id"]: workflow for workflow in response.json()["data"]}
    assert list(workflows) == sorted(workflows)
    assert {"bulk_import", "create_contact", "http_echo", "http_flaky", "http_slow"} <= set(workflows)
    echo = workflows["http_echo"]
    assert (echo["name"], echo["version"], echo["description"]) == ("HTTP echo", "2.1", "Answers its input.")
    assert echo["inputs"]["value"] == {
        "type": "string",
        "required": False,
        "default": "none",
        "description": "Echoed back.",
        "maxLength": 20,
    }
    assert echo["inputs"]["user_id"] == {
        "type": "string",
        "format": "uuid",
        "required": True,
        "default": None,
        "description": None,
    }
    assert workflows["http_ask"]["inputs"] == {}
    assert workflows["create_contact"]["inputs"]["contact_data"]["type"] == "object"


# --- starting executions ------------------------------------------------------------------------


async def test_sync_mode_answers_the_settled_execution_with_identity_inputs_from_the_token(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    issued = await harness.user()
    forged = {"value": "hi", "user_id": str(uuid.uuid4()), "workspace_id": str(uuid.uuid4())}
    response = await start(client, issued, "http_echo", forged, mode="sync")
    assert response.status_code == 200, response.text
    assert "location" not in response.headers
    body = response.json()
    execution = body["data"]
    assert body["meta"] == {"url": f"{EXECUTIONS}/{execution['id']}"}
    expected_input = {"value": "hi", "user_id": str(issued.user_id), "workspace_id": str(issued.workspace_id)}
    assert execution["status"] == "completed"
    assert execution["input"] == expected_input
    assert execution["output"] == {"input": expected_input}
    assert execution["error"] is None
    assert execution["halt"] is None
    assert execution["workflow_id"] == "http_echo"
    assert execution["definition_version"] == "2.1"
    assert execution["workspace_id"] == str(issued.workspace_id)
    assert execution["created_by_id"] == str(issued.user_id)
    assert "ctx" not in execution
    assert "lease_owner" not in execution


async def test_identity_inputs_are_dropped_and_not_added_when_the_workflow_does_not_declare_them(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    issued = await harness.user()
    forged = {"value": "x", "user_id": "evil", "workspace_id": "evil"}
    response = await start(client, issued, "http_plain", forged, mode="sync")
    assert response.status_code == 200, response.text
    assert response.json()["data"]["input"] == {"value": "x"}
    assert response.json()["data"]["output"] == {"input": {"value": "x"}}


async def test_async_mode_answers_202_with_the_url_then_the_execution_completes(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    issued = await harness.user()
    response = await start(client, issued, "http_slow", {"seconds": 0.3})
    assert response.status_code == 202, response.text
    body = response.json()
    execution_id = body["data"]["id"]
    url = f"{EXECUTIONS}/{execution_id}"
    assert uuid.UUID(execution_id)
    assert body["meta"] == {"url": url}
    assert response.headers["location"] == url
    assert body["data"]["status"] in {"pending", "running"}
    assert body["data"]["output"] is None

    done = await wait_for(client, issued, execution_id, {"completed"})
    assert done["output"] == {"slept": 0.3}
    assert done["attempts"] == 1
    steps = [(entry["step_id"], entry["action"]) for entry in done["entries"]]
    assert steps == [
        ("start", "started"),
        ("start", "completed"),
        ("nap", "started"),
        ("nap", "completed"),
        ("done", "started"),
        ("done", "completed"),
    ]
    nap = done["entries"][3]
    assert nap["output"] == {"slept": 0.3}
    assert nap["duration_ms"] >= 250
    assert nap["step_type"] == "call"
    assert set(nap) == {
        "id",
        "step_id",
        "step_type",
        "action",
        "input",
        "output",
        "error",
        "duration_ms",
        "timestamp",
        "attempt",
    }
    assert nap["attempt"] is None  # a step without retriers


async def test_sync_mode_answers_202_when_the_execution_does_not_settle_in_time(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    issued = await harness.user()
    harness.app.state.workflow_service.sync_timeout = 0.2
    response = await start(client, issued, "http_slow", {"seconds": 1}, mode="sync")
    assert response.status_code == 202, response.text
    assert response.json()["data"]["status"] in {"pending", "running"}
    assert response.headers["location"] == response.json()["meta"]["url"]
    await wait_for(client, issued, response.json()["data"]["id"], {"completed"})


async def test_the_create_contact_workflow_creates_a_contact_the_contacts_routes_show(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    issued = await harness.user()
    contact = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}
    response = await start(client, issued, "create_contact", {"contact_data": contact}, mode="sync")
    assert response.status_code == 200, response.text
    created = response.json()["data"]["output"]["data"]
    assert created["workspace_id"] == str(issued.workspace_id)
    listing = await client.get("/api/v1/workspaces/contacts", headers=auth(issued))
    assert listing.status_code == 200
    assert [item["id"] for item in listing.json()["data"]] == [created["id"]]


async def test_an_idempotency_key_must_be_a_uuid(client: httpx.AsyncClient, harness: Harness) -> None:
    issued = await harness.user()
    bad = await start(client, issued, "http_echo", key="not-a-uuid")
    assert bad.status_code == 422
    assert bad.json()["details"] == {"Idempotency-Key": "is not a UUID: 'not-a-uuid'"}
    assert "Idempotency-Key" in bad.json()["error"]
    assert await harness.count("workflow_executions") == 0


async def test_bad_start_requests(client: httpx.AsyncClient, harness: Harness) -> None:
    issued = await harness.user()
    headers = auth(issued)
    url = f"{API}/http_echo/executions"

    unknown = await client.post(f"{API}/nope/executions", json={}, headers=headers)
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "no workflow 'nope'"}

    not_json = await client.post(url, content=b"{oops", headers={**headers, "Content-Type": "application/json"})
    assert not_json.status_code == 400
    assert "not valid JSON" in not_json.json()["error"]
    not_object = await client.post(url, json=[1, 2], headers=headers)
    assert not_object.status_code == 400
    assert not_object.json() == {"error": "the request body must be a JSON object"}

    bad_input = await client.post(url, json={"input": [1], "mode": "later"}, headers=headers)
    assert bad_input.status_code == 422
    assert bad_input.json()["details"] == {
        "input": "must be a JSON object",
        "mode": "must be 'sync' or 'async', got 'later'",
    }
    typo = await client.post(url, json={"inputs": {}}, headers=headers)
    assert typo.status_code == 422
    assert set(typo.json()["details"]) == {"inputs"}

    invalid = await client.post(f"{API}/http_flaky/executions", json={"input": {"flag": 3}}, headers=headers)
    assert invalid.status_code == 422
    assert "input 'flag'" in invalid.json()["details"]["input"]
    missing = await client.post(f"{API}/http_flaky/executions", json={}, headers=headers)
    assert missing.status_code == 422
    assert missing.json()["details"] == {"input": "invalid input: input 'flag' is required"}
    too_long = await client.post(url, json={"input": {"value": "x" * 21}}, headers=headers)
    assert too_long.status_code == 422

    huge = await client.post(url, json={"input": {"value": "x" * 2_000_000}}, headers=headers)
    assert huge.status_code == 413
    assert "error" in huge.json()
    assert await harness.count("workflow_executions") == 0


# --- listing and showing ------------------------------------------------------------------------


async def test_lists_executions_newest_first_with_filters_paging_and_total(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    issued = await harness.user()
    echoes = []
    for value in ("a", "b", "c"):
        response = await start(client, issued, "http_echo", {"value": value}, mode="sync")
        echoes.append(response.json()["data"]["id"])
    plain = (await start(client, issued, "http_plain", mode="sync")).json()["data"]["id"]
    asked = (await start(client, issued, "http_ask", mode="sync")).json()["data"]
    assert asked["status"] == "halted"
    headers = auth(issued)

    everything = await client.get(EXECUTIONS, headers=headers)
    assert everything.status_code == 200
    body = everything.json()
    assert body["meta"] == {"page": 1, "per_page": 25, "total": 5}
    assert [execution["id"] for execution in body["data"]] == [asked["id"], plain, *reversed(echoes)]

    by_workflow = (await client.get(EXECUTIONS, params={"workflow_id": "http_echo"}, headers=headers)).json()
    assert by_workflow["meta"]["total"] == 3
    assert {execution["workflow_id"] for execution in by_workflow["data"]} == {"http_echo"}
    halted = (await client.get(EXECUTIONS, params={"status": "halted"}, headers=headers)).json()
    assert [execution["id"] for execution in halted["data"]] == [asked["id"]]
    assert halted["data"][0]["halt"]["data"]["reason"] == "need a name"
    both = await client.get(EXECUTIONS, params={"workflow_id": "http_echo", "status": "halted"}, headers=headers)
    assert both.json() == {"data": [], "meta": {"page": 1, "per_page": 25, "total": 0}}

    second = (await client.get(EXECUTIONS, params={"page": "2", "per_page": "2"}, headers=headers)).json()
    assert second["meta"] == {"page": 2, "per_page": 2, "total": 5}
    assert [execution["id"] for execution in second["data"]] == [echoes[2], echoes[1]]
    beyond = (await client.get(EXECUTIONS, params={"page": "9"}, headers=headers)).json()
    assert beyond == {"data": [], "meta": {"page": 9, "per_page": 25, "total": 5}}
    clamped = (await client.get(EXECUTIONS, params={"per_page": "1000"}, headers=headers)).json()
    assert clamped["meta"]["per_page"] == 100

    for params, name in [
        ({"page": "abc"}, "page"),
        ({"page": "0"}, "page"),
        ({"per_page": "1.5"}, "per_page"),
        ({"per_page": "-3"}, "per_page"),
        ({"status": "sleeping"}, "status"),
    ]:
        bad = await client.get(EXECUTIONS, params=params, headers=headers)
        assert bad.status_code == 422, params
        assert bad.json()["error"] == "Invalid parameters"
        assert set(bad.json()["details"]) == {name}, bad.json()
    several = await client.get(EXECUTIONS, params={"page": "x", "per_page": "0"}, headers=headers)
    assert several.json()["details"] == {"page": "Expected `int`, got `str`", "per_page": "Expected `int` >= 1"}


async def test_unknown_and_malformed_execution_ids_are_404(client: httpx.AsyncClient, harness: Harness) -> None:
    issued = await harness.user()
    for execution_id in (str(uuid.uuid4()), "not-a-uuid"):
        for method, suffix in [
            ("GET", ""),
            ("POST", "/resume"),
            ("POST", "/cancel"),
            ("POST", "/retry"),
            ("GET", "/events"),
        ]:
            response = await client.request(method, f"{EXECUTIONS}/{execution_id}{suffix}", headers=auth(issued))
            assert response.status_code == 404, (method, suffix, response.text)
            assert response.json()["error"].startswith(f"no execution {execution_id}")


async def test_another_workspaces_executions_are_404_everywhere_and_not_listed(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    owner = await harness.user("ada@example.com", "Acme")
    stranger = await harness.user("eve@example.com", "Elsewhere")
    halted = (await start(client, owner, "http_ask", mode="sync")).json()["data"]
    assert halted["status"] == "halted"
    url = f"{EXECUTIONS}/{halted['id']}"
    for method, suffix, body in [
        ("GET", "", None),
        ("POST", "/resume", {"response": "x"}),
        ("POST", "/cancel", None),
        ("POST", "/retry", None),
        ("GET", "/events", None),
    ]:
        response = await client.request(method, f"{url}{suffix}", json=body, headers=auth(stranger))
        assert response.status_code == 404, (method, suffix, response.text)
        assert response.json() == {"error": f"no execution {halted['id']}"}
    listing = (await client.get(EXECUTIONS, headers=auth(stranger))).json()
    assert listing == {"data": [], "meta": {"page": 1, "per_page": 25, "total": 0}}
    assert (await show(client, owner, halted["id"]))["status"] == "halted"
    assert (await client.get(EXECUTIONS, headers=auth(owner))).json()["meta"]["total"] == 1


# --- resume, cancel, retry ----------------------------------------------------------------------


async def test_an_approved_bulk_import_halts_then_completes(client: httpx.AsyncClient, harness: Harness) -> None:
    issued = await harness.user()
    execution_id = await started(client, issued, "bulk_import", {"contacts": contacts(11)})
    halted = await wait_for(client, issued, execution_id, {"halted"})
    assert halted["halt"]["prompt"] == "Import 11 contacts?"
    assert halted["halt"]["data"]["type"] == "approval"
    assert halted["halt"]["resume_step"] == "approve"
    assert halted["output"] is None
    url = f"{EXECUTIONS}/{execution_id}/resume"

    no_decision = await client.post(url, json={"response": "sure"}, headers=auth(issued))
    assert no_decision.status_code == 422
    assert set(no_decision.json()["details"]) == {"approved"}
    not_bool = await client.post(url, json={"approved": "yes"}, headers=auth(issued))
    assert not_bool.status_code == 422
    assert not_bool.json()["details"] == {"approved": "must be true or false, got 'yes'"}
    typo = await client.post(url, json={"approve": True}, headers=auth(issued))
    assert typo.status_code == 422
    assert "approve" in typo.json()["details"]
    not_json = await client.post(url, content=b"nope", headers=auth(issued))
    assert not_json.status_code == 400
    assert (await show(client, issued, execution_id))["status"] == "halted"

    resumed = await client.post(url, json={"approved": True}, headers=auth(issued))
    assert resumed.status_code == 202, resumed.text
    assert resumed.json()["data"]["id"] == execution_id
    assert resumed.json()["data"]["status"] in {"pending", "running", "completed"}
    assert resumed.json()["meta"] == {"url": f"{EXECUTIONS}/{execution_id}"}
    done = await wait_for(client, issued, execution_id, {"completed", "failed"})
    assert done["status"] == "completed", done["error"]
    assert done["output"]["status"] == "all_created"
    assert len(done["output"]["created_ids"]) == 11
    listing = await client.get("/api/v1/workspaces/contacts", headers=auth(issued))
    assert listing.json()["meta"]["total"] == 11

    again = await client.post(url, json={"approved": True}, headers=auth(issued))
    assert again.status_code == 409
    assert again.json() == {"error": f"execution {execution_id} is completed; only a halted execution can resume"}


async def test_a_rejected_bulk_import_creates_nothing(client: httpx.AsyncClient, harness: Harness) -> None:
    issued = await harness.user()
    execution_id = await started(client, issued, "bulk_import", {"contacts": contacts(11)})
    await wait_for(client, issued, execution_id, {"halted"})
    rejected = await client.post(f"{EXECUTIONS}/{execution_id}/resume", json={"approved": False}, headers=auth(issued))
    assert rejected.status_code == 202
    done = await wait_for(client, issued, execution_id, {"completed", "failed"})
    assert done["output"] == {"status": "rejected", "created_ids": [], "failures": 0, "errors": []}
    assert await harness.count("items") == 0


async def test_a_halted_execution_resumes_with_a_response(client: httpx.AsyncClient, harness: Harness) -> None:
    issued = await harness.user()
    halted = (await start(client, issued, "http_ask", mode="sync")).json()["data"]
    assert halted["status"] == "halted"
    assert halted["halt"]["data"]["reason"] == "need a name"
    resumed = await client.post(
        f"{EXECUTIONS}/{halted['id']}/resume", json={"response": {"first": "Ada"}}, headers=auth(issued)
    )
    assert resumed.status_code == 202, resumed.text
    assert resumed.headers["location"] == f"{EXECUTIONS}/{halted['id']}"
    done = await wait_for(client, issued, halted["id"], {"completed"})
    assert done["output"] == {"name": {"first": "Ada"}}


async def test_cancelling_a_halted_execution_then_again(client: httpx.AsyncClient, harness: Harness) -> None:
    issued = await harness.user()
    halted = (await start(client, issued, "http_ask", mode="sync")).json()["data"]
    url = f"{EXECUTIONS}/{halted['id']}"
    cancelled = await client.post(f"{url}/cancel", headers=auth(issued))
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["data"]["status"] == "cancelled"
    assert cancelled.json()["data"]["error"] == "Cancelled"
    assert cancelled.json()["meta"] == {"url": url}
    assert (await show(client, issued, halted["id"]))["status"] == "cancelled"

    again = await client.post(f"{url}/cancel", headers=auth(issued))
    assert again.status_code == 409
    assert again.json() == {
        "error": f"execution {halted['id']} is cancelled; only a pending, running or halted execution can be cancelled"
    }
    resume = await client.post(f"{url}/resume", json={"response": "late"}, headers=auth(issued))
    assert resume.status_code == 409
    retry = await client.post(f"{url}/retry", headers=auth(issued))
    assert retry.status_code == 409


async def test_cancelling_a_running_execution_stops_it(client: httpx.AsyncClient, harness: Harness) -> None:
    issued = await harness.user()
    execution_id = await started(client, issued, "http_slow", {"seconds": 1.5})
    deadline = time.monotonic() + 20
    while True:
        execution = await show(client, issued, execution_id)
        if execution["status"] == "running" and execution["entries"][-1]["step_id"] == "nap":
            break
        assert time.monotonic() < deadline, execution
        await asyncio.sleep(0.02)
    cancelled = await client.post(f"{EXECUTIONS}/{execution_id}/cancel", headers=auth(issued))
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["data"]["status"] == "cancelled"
    await asyncio.sleep(2)
    after = await show(client, issued, execution_id)
    assert after["status"] == "cancelled"
    assert ("nap", "completed") not in [(entry["step_id"], entry["action"]) for entry in after["entries"]]


async def test_completed_executions_cannot_be_resumed_or_retried(client: httpx.AsyncClient, harness: Harness) -> None:
    issued = await harness.user()
    done = (await start(client, issued, "http_echo", mode="sync")).json()["data"]
    url = f"{EXECUTIONS}/{done['id']}"
    resume = await client.post(f"{url}/resume", json={"approved": True}, headers=auth(issued))
    assert resume.status_code == 409
    assert resume.json() == {"error": f"execution {done['id']} is completed; only a halted execution can resume"}
    retry = await client.post(f"{url}/retry", headers=auth(issued))
    assert retry.status_code == 409
    assert retry.json() == {"error": f"execution {done['id']} is completed; only a failed execution can be retried"}
    cancel = await client.post(f"{url}/cancel", headers=auth(issued))
    assert cancel.status_code == 409


async def test_a_failed_execution_is_retried_from_its_failed_step(
    client: httpx.AsyncClient, harness: Harness, tmp_path: Path
) -> None:
    issued = await harness.user()
    flag = tmp_path / "flag"
    execution_id = await started(client, issued, "http_flaky", {"flag": str(flag)})
    failed = await wait_for(client, issued, execution_id, {"failed"})
    assert "the flag file" in failed["error"]
    assert failed["output"] is None
    url = f"{EXECUTIONS}/{execution_id}/retry"

    still_missing = await client.post(url, headers=auth(issued))
    assert still_missing.status_code == 202, still_missing.text
    assert still_missing.headers["location"] == f"{EXECUTIONS}/{execution_id}"
    await wait_for(client, issued, execution_id, {"failed"})

    flag.write_text("here", encoding="utf-8")
    retried = await client.post(url, headers=auth(issued))
    assert retried.status_code == 202
    assert retried.json()["data"]["error"] is None
    done = await wait_for(client, issued, execution_id, {"completed"})
    assert done["output"] == {"flag": "found"}
    steps = [(entry["step_id"], entry["action"]) for entry in done["entries"]]
    assert steps.count(("start", "completed")) == 1
    assert steps.count(("check", "failed")) == 2
    assert steps[-2:] == [("done", "started"), ("done", "completed")]

    again = await client.post(url, headers=auth(issued))
    assert again.status_code == 409


# --- events -------------------------------------------------------------------------------------


async def test_events_of_a_finished_execution_are_replayed_and_the_stream_ends(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    issued = await harness.user()
    done = (await start(client, issued, "http_slow", {"seconds": 0}, mode="sync")).json()["data"]
    assert done["status"] == "completed"
    response = await client.get(f"{EXECUTIONS}/{done['id']}/events", headers=auth(issued))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert sse_types(response.text) == [
        "workflow.started",
        "step.started",
        "step.completed",
        "step.started",
        "step.completed",
        "step.started",
        "step.completed",
        "workflow.completed",
    ]
    assert response.text.endswith("\n\n")


async def test_an_unexpected_error_is_a_logged_500_in_the_apis_shape(
    client: httpx.AsyncClient, harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    issued = await harness.user()

    async def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("the store is gone")

    harness.app.state.workflow_service.list = broken
    response = await client.get(EXECUTIONS, headers=auth(issued))
    assert response.status_code == 500
    body = response.json()
    assert body == {"error": "RuntimeError", "message": GENERIC_MESSAGE, "request_id": body["request_id"]}
    assert "the store is gone" not in response.text
    assert "unhandled RuntimeError" in caplog.text
    assert body["request_id"] in caplog.text
    assert "the store is gone" in caplog.text


# --- routing and OpenAPI ------------------------------------------------------------------------


async def test_workflow_routes_and_the_resources_routes_do_not_shadow_each_other(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    issued = await harness.user()
    listing = await client.get(EXECUTIONS, headers=auth(issued))
    assert listing.json() == {"data": [], "meta": {"page": 1, "per_page": 25, "total": 0}}
    contacts_url = "/api/v1/workspaces/contacts"
    created = await client.post(
        contacts_url, json={"contact": {"first_name": "Ada", "last_name": "Lovelace"}}, headers=auth(issued)
    )
    assert created.status_code == 201, created.text
    item_id = created.json()["data"]["id"]
    assert (await client.get(contacts_url, headers=auth(issued))).json()["meta"]["total"] == 1
    assert (await client.get(f"{contacts_url}/{item_id}", headers=auth(issued))).status_code == 200
    unknown_feature = await client.get("/api/v1/workspaces/nothing", headers=auth(issued))
    assert unknown_feature.status_code == 404
    for method, url in [
        ("DELETE", API),
        ("GET", f"{API}/http_echo/executions"),
        ("PUT", EXECUTIONS),
        ("GET", f"{EXECUTIONS}/{uuid.uuid4()}/cancel"),
    ]:
        response = await client.request(method, url, headers=auth(issued))
        assert response.status_code == 404, (method, url, response.status_code)
        assert "error" in response.json()


async def test_the_openapi_document_shows_the_workflow_routes(client: httpx.AsyncClient, harness: Harness) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    paths = doc["paths"]
    expected = {
        API: {"get"},
        f"{API}/{{workflow_id}}/executions": {"post"},
        EXECUTIONS: {"get"},
        f"{EXECUTIONS}/{{execution_id}}": {"get"},
        f"{EXECUTIONS}/{{execution_id}}/resume": {"post"},
        f"{EXECUTIONS}/{{execution_id}}/cancel": {"post"},
        f"{EXECUTIONS}/{{execution_id}}/retry": {"post"},
        f"{EXECUTIONS}/{{execution_id}}/events": {"get"},
    }
    for path, methods in expected.items():
        assert set(paths[path]) == methods, path
        for operation in paths[path].values():
            assert operation["security"] == [{"bearerAuth": []}]
            assert operation["tags"] == ["workflows"]
            assert {"401", "403"} <= set(operation["responses"])
    assert not [path for path in paths if "{namespace" in path]
    assert "/api/v1/workspaces/contacts" in paths

    start_op = paths[f"{API}/{{workflow_id}}/executions"]["post"]
    assert set(start_op["responses"]) >= {"200", "202", "400", "404", "409", "413", "422"}
    headers = {p["name"] for p in start_op["parameters"] if p["in"] == "header"}
    assert headers == {"Idempotency-Key", "X-Workspace-Id"}
    body = start_op["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["mode"]["enum"] == ["sync", "async"]
    assert body["properties"]["input"]["type"] == "object"
    resume_body = paths[f"{EXECUTIONS}/{{execution_id}}/resume"]["post"]["requestBody"]
    assert resume_body["content"]["application/json"]["schema"]["properties"]["approved"]["type"] == "boolean"
    list_params = {p["name"]: p for p in paths[EXECUTIONS]["get"]["parameters"] if p["in"] == "query"}
    assert set(list_params) == {"workflow_id", "status", "schedule_id", "waiting_for", "page", "per_page", "cursor"}
    assert list_params["per_page"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 25}
    assert "halted" in list_params["status"]["schema"]["enum"]
    events = paths[f"{EXECUTIONS}/{{execution_id}}/events"]["get"]["responses"]["200"]
    assert "text/event-stream" in events["content"]
    schemas = doc["components"]["schemas"]
    assert {"ExecutionAnswer", "ExecutionOut", "ExecutionDetail", "EntryOut", "WorkflowOut"} <= set(schemas)
    assert "entries" in schemas["ExecutionDetail"]["properties"]


async def test_executions_of_a_disabled_packs_workflow_wait_for_it_with_a_clear_answer(
    client: httpx.AsyncClient, harness: Harness, database_url: str, tmp_path: Path
) -> None:
    issued = await harness.user()
    halted_id = await started(client, issued, "http_ask")
    await wait_for(client, issued, halted_id, {"halted"})
    failed_id = await started(client, issued, "http_flaky", {"flag": str(tmp_path / "flag")})
    await wait_for(client, issued, failed_id, {"failed"})

    without_the_pack = create_app(make_settings(database_url, packs=("contacts_service",)))  # same database
    try:
        async with http_client(without_the_pack) as other:
            resumed = await other.post(f"{EXECUTIONS}/{halted_id}/resume", json={"response": "x"}, headers=auth(issued))
            assert resumed.status_code == 409
            assert resumed.json() == {
                "error": f"execution {halted_id} belongs to workflow 'http_ask', which no enabled pack provides "
                "(is its pack disabled?); it can go on once that pack is enabled again"
            }
            retried = await other.post(f"{EXECUTIONS}/{failed_id}/retry", headers=auth(issued))
            assert retried.status_code == 409
            assert "workflow 'http_flaky', which no enabled pack provides" in retried.json()["error"]
            assert (await show(other, issued, halted_id))["status"] == "halted"  # left as it was
    finally:
        await without_the_pack.plugins.get(PackflowPlugin).db.get_engine().dispose()

    resumed = await client.post(f"{EXECUTIONS}/{halted_id}/resume", json={"response": "Ada"}, headers=auth(issued))
    assert resumed.status_code == 202, resumed.text  # the pack enabled again: it goes on
    assert (await wait_for(client, issued, halted_id, {"completed"}))["output"] == {"name": "Ada"}
