"""The OpenAPI document: one documented operation per registered tool, served without authentication."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Harness


async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_every_contacts_tool_is_its_own_operation(client: httpx.AsyncClient, harness: Harness) -> None:
    doc = await document(client)
    paths = doc["paths"]
    collection = paths["/api/v1/workspaces/contacts"]
    member = paths["/api/v1/workspaces/contacts/{id}"]
    assert set(collection) == {"get", "post"}
    assert set(member) == {"get", "put", "patch", "delete"}
    assert collection["post"]["operationId"] == "workspaces_contacts_create_post"
    assert collection["post"]["summary"] == 'Create a contact from `{"contact": {...}}`.'
    assert set(collection["post"]["responses"]) >= {"201", "400", "401", "403", "404", "413", "422"}
    body = collection["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["contact"] == {"$ref": "#/components/schemas/Contact"}
    contact = doc["components"]["schemas"]["Contact"]
    assert contact["required"] == ["first_name", "last_name"]
    assert contact["title"] == "Contact"
    query = {p["name"]: p for p in collection["get"]["parameters"] if p["in"] == "query"}
    assert set(query) == {"q", "page", "per_page"}
    assert query["page"]["schema"]["minimum"] == 1
    assert query["per_page"]["schema"]["default"] == 25
    member_params = {p["name"]: p["in"] for p in member["get"]["parameters"]}
    assert member_params == {"id": "path", "X-Workspace-Id": "header"}
    assert member["get"]["security"] == [{"bearerAuth": []}]
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


async def test_catch_all_routes_are_not_documented(client: httpx.AsyncClient, harness: Harness) -> None:
    doc = await document(client)
    assert not [path for path in doc["paths"] if "{namespace" in path]


async def test_interactive_docs_page_is_served(client: httpx.AsyncClient, harness: Harness) -> None:
    response = await client.get("/schema")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    assert "swagger" in response.text.lower()
    assert "workspaces_contacts_create_post" in response.text


async def test_tool_actions_and_typed_parameters_are_documented(
    probe_client: httpx.AsyncClient, probe: Harness
) -> None:
    doc = await document(probe_client)
    typed = doc["paths"]["/api/v1/probes/things/typed"]["post"]
    schema = typed["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["count"]
    assert schema["properties"]["count"] == {"type": "integer"}
    assert "Window" in doc["components"]["schemas"]
    member_action = doc["paths"]["/api/v1/probes/things/{id}/echo"]
    assert set(member_action) == {"get", "post", "put", "delete"}
