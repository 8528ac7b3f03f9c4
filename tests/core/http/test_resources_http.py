"""The resources controller: routing, parameters, statuses, exception mapping and the transaction."""

from __future__ import annotations

import uuid

import httpx
import pytest

from packs.core.http.errors import GENERIC_MESSAGE
from tests.support.harness import Harness, auth, harness_for, http_client, make_settings

THINGS = "/api/v1/probes/things"


async def test_routes_collection_actions_members_and_member_actions(
    probe_client: httpx.AsyncClient, probe: Harness
) -> None:
    issued = await probe.user()
    collection = await probe_client.get(f"{THINGS}/echo", headers=auth(issued))
    assert collection.status_code == 200
    item_id = str(uuid.uuid4())
    member = await probe_client.post(f"{THINGS}/{item_id}/echo", json={"x": 1}, headers=auth(issued))
    assert member.status_code == 200
    assert member.json()["params"]["id"] == item_id
    assert member.json()["params"]["x"] == 1


async def test_tool_receives_identity_query_body_and_no_routing_keys(
    probe_client: httpx.AsyncClient, probe: Harness
) -> None:
    issued = await probe.user()
    response = await probe_client.post(
        f"{THINGS}/echo",
        params=[("tag", "a"), ("tag", "b"), ("single", "1"), ("namespace", "evil"), ("action", "evil")],
        json={
            "body_key": {"nested": True},
            "feature": "evil",
            "user_id": "evil",
            "workspace_id": "evil",
            "id": "evil",
        },
        headers=auth(issued),
    )
    assert response.status_code == 200
    assert response.json()["params"] == {
        "user_id": str(issued.user_id),
        "workspace_id": str(issued.workspace_id),
        "tag": ["a", "b"],
        "single": "1",
        "body_key": {"nested": True},
    }


async def test_body_keys_override_query_keys(probe_client: httpx.AsyncClient, probe: Harness) -> None:
    issued = await probe.user()
    response = await probe_client.post(
        f"{THINGS}/echo", params={"k": "query"}, json={"k": "body"}, headers=auth(issued)
    )
    assert response.json()["params"]["k"] == "body"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/nowhere/things"),
        ("GET", "/api/v1/probes/nothing"),
        ("PUT", THINGS),
        ("DELETE", THINGS),
        ("PATCH", THINGS),
        ("GET", f"{THINGS}/no_such_action"),
        ("PATCH", f"{THINGS}/{uuid.UUID(int=1)}/echo"),
        ("GET", f"{THINGS}/{uuid.UUID(int=1)}/nope"),
        ("GET", f"{THINGS}/Not-An-Id"),
        ("GET", f"{THINGS}/not-uuid/echo"),
        ("POST", "/api/v1/workspaces/contacts/echo"),
        ("DELETE", "/api/v1/workspaces/contacts"),
        ("HEAD", "/api/v1/workspaces/contacts"),
        ("TRACE", f"{THINGS}/echo"),
        (
            "GET",
            "/api/v1/workspaces/contacts/00000000-0000-0000-0000-000000000001%0A",
        ),  # "$" matched before a final line break
        ("GET", f"{THINGS}/echo%0A"),
        ("GET", f"{THINGS}/00000000-0000-0000-0000-000000000001/echo%0A"),
    ],
)
async def test_unanswered_method_or_path_is_404_never_405(
    probe_client: httpx.AsyncClient, probe: Harness, method: str, path: str
) -> None:
    issued = await probe.user()
    response = await probe_client.request(method, path, headers=auth(issued))
    assert response.status_code == 404
    if method != "HEAD":
        assert "error" in response.json()


async def test_invalid_json_is_400_and_runs_nothing(probe_client: httpx.AsyncClient, probe: Harness) -> None:
    issued = await probe.user()
    for body in (b"{not json", b"[1, 2]", b'"text"'):
        response = await probe_client.post(
            THINGS, content=body, headers={**auth(issued), "Content-Type": "application/json"}
        )
        assert response.status_code == 400, body
        assert "error" in response.json()
    assert await probe.count("items") == 0


async def test_body_over_the_limit_is_413_and_runs_nothing(database_url: str) -> None:
    async with harness_for(
        make_settings(database_url, ("contacts_service", "pftest_probe"), max_body_bytes=2048)
    ) as harness:
        issued = await harness.user()
        async with http_client(harness.app) as client:
            small = await client.post(THINGS, json={"label": "x" * 100}, headers=auth(issued))
            assert small.status_code == 201
            huge = await client.post(THINGS, json={"label": "x" * 5000}, headers=auth(issued))
            assert huge.status_code == 413
            assert "error" in huge.json()
        assert await harness.count("items") == 1


async def test_default_body_limit_is_one_mebibyte(probe_client: httpx.AsyncClient, probe: Harness) -> None:
    issued = await probe.user()
    response = await probe_client.post(THINGS, json={"label": "x" * (1024 * 1024 + 10)}, headers=auth(issued))
    assert response.status_code == 413
    assert await probe.count("items") == 0


async def test_typed_parameters_are_422_naming_the_field_before_the_tool_runs(
    probe_client: httpx.AsyncClient, probe: Harness
) -> None:
    issued = await probe.user()
    bad = await probe_client.post(
        f"{THINGS}/typed",
        json={"count": "many", "window": {"start": "yesterday", "days": 2}, "flags": "x", "other": 1},
        headers=auth(issued),
    )
    assert bad.status_code == 422
    details = bad.json()["details"]
    assert details["count"] == "Expected `int`, got `str`"
    assert "$.start" in details["window"]
    assert details["flags"] == "Expected `array`, got `str`"
    assert details["other"] == "is not a known parameter"
    missing = await probe_client.post(f"{THINGS}/typed", json={}, headers=auth(issued))
    assert missing.status_code == 422
    assert missing.json()["details"] == {"count": "is required"}
    assert await probe.count("items") == 0

    good = await probe_client.post(
        f"{THINGS}/typed",
        params={"count": "3"},
        json={"window": {"start": "2026-01-31", "days": 2}},
        headers=auth(issued),
    )
    assert good.status_code == 200
    assert good.json() == {"count": 3, "window": {"start": "2026-01-31", "days": 2}, "flags": []}
    assert await probe.count("items") == 1


async def test_success_commits_with_the_declared_status(probe_client: httpx.AsyncClient, probe: Harness) -> None:
    issued = await probe.user()
    response = await probe_client.post(THINGS, json={"label": "kept"}, headers=auth(issued))
    assert response.status_code == 201
    assert await probe.count("items") == 1


async def test_unexpected_exception_is_500_with_class_and_request_id_and_rolls_back(
    probe_client: httpx.AsyncClient, probe: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    issued = await probe.user()
    response = await probe_client.post(f"{THINGS}/crash", headers=auth(issued))
    assert response.status_code == 500
    body = response.json()
    assert body == {"error": "RuntimeError", "message": GENERIC_MESSAGE, "request_id": body["request_id"]}
    assert response.headers["x-request-id"] == body["request_id"]
    assert await probe.count("items") == 0
    assert any(
        record.exc_info and "RuntimeError" in record.getMessage() and body["request_id"] in record.getMessage()
        for record in caplog.records
    )


@pytest.mark.parametrize("environment", ["development", "production"])
async def test_every_environment_hides_the_exception_message(database_url: str, environment: str) -> None:
    async with harness_for(make_settings(database_url, ("pftest_probe",), environment=environment)) as harness:
        issued = await harness.user()
        async with http_client(harness.app) as client:
            response = await client.post(f"{THINGS}/crash", headers=auth(issued))
        assert response.status_code == 500
        body = response.json()
        assert body["error"] == "RuntimeError"
        assert "on purpose" not in response.text


async def test_validation_error_is_422_with_details_and_rolls_back(
    probe_client: httpx.AsyncClient, probe: Harness
) -> None:
    issued = await probe.user()
    response = await probe_client.post(f"{THINGS}/reject", headers=auth(issued))
    assert response.status_code == 422
    assert response.json() == {"error": "Probe rejected", "details": {"label": "is wrong"}}
    assert await probe.count("items") == 0


async def test_forbidden_and_not_found_errors_map_to_403_and_404(
    probe_client: httpx.AsyncClient, probe: Harness
) -> None:
    issued = await probe.user()
    forbidden = await probe_client.get(f"{THINGS}/forbid", headers=auth(issued))
    assert (forbidden.status_code, forbidden.json()) == (403, {"error": "probes may not be looked at"})
    missing = await probe_client.get(f"{THINGS}/missing", headers=auth(issued))
    assert (missing.status_code, missing.json()) == (404, {"error": "no probe here"})


async def test_a_tool_without_execute_is_a_500_naming_the_class(
    probe_client: httpx.AsyncClient, probe: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    issued = await probe.user()
    response = await probe_client.get(f"{THINGS}/unimplemented", headers=auth(issued))
    assert response.status_code == 500
    body = response.json()
    assert body == {"error": "NotImplementedError", "message": GENERIC_MESSAGE, "request_id": body["request_id"]}
    assert any("Unimplemented#execute must be implemented" in record.exc_text for record in caplog.records)


async def test_update_tool_learns_which_method_it_was_called_with(client: httpx.AsyncClient, harness: Harness) -> None:
    issued = await harness.user()
    created = await client.post(
        "/api/v1/workspaces/contacts",
        json={"contact": {"first_name": "A", "last_name": "B"}},
        headers=auth(issued),
    )
    url = f"/api/v1/workspaces/contacts/{created.json()['data']['id']}"
    # PATCH keeps the last name; PUT without it is a validation error: the tool knows which it got.
    assert (await client.patch(url, json={"contact": {"first_name": "C"}}, headers=auth(issued))).status_code == 200
    assert (await client.put(url, json={"contact": {"first_name": "C"}}, headers=auth(issued))).status_code == 422
