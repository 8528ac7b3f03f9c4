"""The OpenAPI document: one documented operation per registered tool, served without authentication."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from openapi_spec_validator import validate as validate_spec

from app import create_app
from packs.core.features import FeatureRegistry
from packs.core.http.openapi import ToolDocs
from packs.core.schemas import Schema, SchemaRegistry, schema_slug, schema_title
from tests.fixture_packs.titled import Article
from tests.support.harness import Harness, auth, harness_for, http_client, make_settings


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
    assert set(query) == {"q", "page", "per_page", "cursor"}
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


# --- a valid document that says what the server does (docs/http-api.md, OpenAPI) -------------------------------


@pytest.fixture(scope="module")
def docs(sqlite_database_url: str) -> Iterator[TestClient[Litestar]]:
    """One app for the document-only tests of this module (contacts, probe and titled packs)."""
    app = create_app(make_settings(sqlite_database_url, packs=("contacts_service", "pftest_probe", "pftest_titled")))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def doc(docs: TestClient[Litestar]) -> dict[str, Any]:
    response = docs.get("/schema/openapi.json")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_the_document_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.1")
    validate_spec(doc)
    start = doc["paths"]["/api/v1/workflows/{workflow_id}/executions"]["post"]
    assert start["responses"]["202"]["headers"]["Location"]["schema"] == {"type": "string"}


def test_x_workspace_id_is_a_uuid_in_every_operation(doc: dict[str, Any]) -> None:
    seen = 0
    for path, method, operation in operations(doc):
        for parameter in operation.get("parameters", []):
            if parameter["name"] == "X-Workspace-Id":
                assert parameter["schema"]["format"] == "uuid", (path, method)
                assert parameter["schema"]["type"] == "string", (path, method)
                seen += 1
    assert seen >= 15


def test_every_workflow_operation_documents_its_header_and_the_body_it_reads(doc: dict[str, Any]) -> None:
    """A client generated from the document can send what each workflow route reads: its body's fields, its query
    parameters (optional ones not marked required) and ``X-Workspace-Id``."""
    paths = doc["paths"]
    bodies = {
        ("/api/v1/workflows/executions/{execution_id}/decisions", "post"): {"approved", "comment", "response"},
        ("/api/v1/workflows/executions/{execution_id}/signals/{name}", "post"): {"payload"},
        ("/api/v1/workflows/{workflow_id}/schedules", "post"): {"cron", "every", "timezone", "input", "paused"},
        ("/api/v1/workflows/schedules/{schedule_id}", "patch"): {"cron", "every", "timezone", "input", "paused"},
    }
    for (path, method), fields in bodies.items():
        body = paths[path][method]["requestBody"]["content"]["application/json"]["schema"]
        assert fields <= set(body["properties"]), (path, method)
    create = paths["/api/v1/workflows/{workflow_id}/schedules"]["post"]["requestBody"]["content"]
    assert create["application/json"]["schema"]["properties"]["overlap"]["enum"] == [
        "skip",
        "buffer_one",
        "allow_all",
        "cancel_other",
    ]
    for path, method, operation in operations(doc):
        if path.startswith("/api/v1/workflows"):
            names = {parameter["name"] for parameter in operation.get("parameters", [])}
            assert "X-Workspace-Id" in names, (path, method)
    audit = {p["name"]: p for p in paths["/api/v1/workflows/audit"]["get"]["parameters"]}
    assert {"cursor", "per_page", "execution_id", "action"} <= set(audit)
    assert not [name for name, parameter in audit.items() if parameter.get("required")]
    listed = {p["name"]: p for p in paths["/api/v1/workflows/schedules"]["get"]["parameters"]}
    assert listed["per_page"]["schema"]["maximum"] == 1000
    assert {"page", "workflow_id"} <= set(listed)


def test_patch_bodies_are_partial_and_put_bodies_complete(doc: dict[str, Any]) -> None:
    member = doc["paths"]["/api/v1/workspaces/contacts/{id}"]
    schemas = doc["components"]["schemas"]
    patch_ref = member["patch"]["requestBody"]["content"]["application/json"]["schema"]["properties"]["contact"]
    put_ref = member["put"]["requestBody"]["content"]["application/json"]["schema"]["properties"]["contact"]
    assert put_ref == {"$ref": "#/components/schemas/Contact"}
    assert patch_ref == {"$ref": "#/components/schemas/ContactPatch"}
    assert "required" not in schemas["ContactPatch"]
    assert set(schemas["ContactPatch"]["properties"]) == set(schemas["Contact"]["properties"])


def test_success_responses_carry_the_item_envelope(doc: dict[str, Any]) -> None:
    paths, schemas = doc["paths"], doc["components"]["schemas"]

    def success(path: str, method: str, status: str = "200") -> dict[str, Any]:
        schema: dict[str, Any] = paths[path][method]["responses"][status]["content"]["application/json"]["schema"]
        return schema

    assert success("/api/v1/workspaces/contacts", "get") == {"$ref": "#/components/schemas/ContactItemList"}
    assert success("/api/v1/workspaces/contacts", "post", "201") == {"$ref": "#/components/schemas/ContactItemAnswer"}
    for method in ("get", "put", "patch", "delete"):
        assert success("/api/v1/workspaces/contacts/{id}", method)["$ref"].endswith("/ContactItemAnswer")
    assert schemas["ContactItemAnswer"]["properties"]["data"] == {"$ref": "#/components/schemas/ContactItem"}
    assert schemas["ContactItem"]["properties"]["data"] == {"$ref": "#/components/schemas/Contact"}
    assert schemas["ContactItemList"]["properties"]["meta"] == {"$ref": "#/components/schemas/ListMeta"}
    assert success("/api/v1/handbook/articles/{id}", "get")["$ref"].endswith("/ArticleItemAnswer")


def test_each_workflow_has_a_start_operation_requiring_its_required_inputs(doc: dict[str, Any]) -> None:
    start = doc["paths"]["/api/v1/workflows/bulk_import/executions"]["post"]
    body = start["requestBody"]["content"]["application/json"]["schema"]
    assert start["requestBody"]["required"] is True
    assert body["required"] == ["input"]
    assert body["properties"]["input"]["required"] == ["contacts"]
    assert body["properties"]["input"]["properties"]["contacts"]["type"] == "array"
    assert "user_id" not in body["properties"]["input"]["properties"]
    assert start["operationId"] == "workflows_bulk_import_start"


def test_schema_fields_named_like_the_schema_metadata_are_documented(doc: dict[str, Any]) -> None:
    article = doc["components"]["schemas"]["Article"]
    assert article["title"] == "Handbook article"
    assert article["description"] == "A page with its own title, slug and description."
    assert set(article["properties"]) == {"title", "slug", "description"}
    assert article["required"] == ["title", "slug"]
    assert schema_registry_slugs(Article) == ("article", "Handbook article")


def schema_registry_slugs(schema: type[Schema]) -> tuple[str, str]:
    return schema_slug(schema), schema_title(schema)


def test_a_schema_with_a_slug_field_and_no_slug_is_refused_naming_it() -> None:
    class Page(Schema):
        slug: str

    with pytest.raises(TypeError, match=r"schema .*Page of pack 'pages' has no slug.*__slug__"):
        SchemaRegistry().register(Page, pack="pages")


def test_a_document_that_cannot_be_built_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    docs = ToolDocs(FeatureRegistry(), SchemaRegistry())
    with caplog.at_level(logging.ERROR, logger="packflow.openapi"), pytest.raises(TypeError):
        docs.document({"openapi": "3.1.0", "paths": {}, "info": {"title": object()}})
    assert "the OpenAPI document could not be built" in caplog.text
    assert "TypeError" in caplog.text


def test_the_interactive_page_loads_its_assets_from_the_app(docs: TestClient[Litestar]) -> None:
    expected = {".js": "javascript", ".css": "text/css", ".png": "image/png"}
    for page in ("/schema", "/schema/swagger"):
        response = docs.get(page)
        assert response.status_code == 200
        urls = re.findall(r"""<(?:script|link)\b[^>]*?\b(?:src|href)=["']([^"']+)["']""", response.text)
        assert len(urls) >= 3, urls
        for url in urls:
            assert url.startswith("/"), f"{url} is not served by the app"
            assert not url.startswith("//"), url
            asset = docs.get(url)
            assert asset.status_code == 200, url
            kind = next(value for suffix, value in expected.items() if url.endswith(suffix))
            assert kind in asset.headers["content-type"], (url, asset.headers["content-type"])
            assert len(asset.content) > 500, url
        assert "cdn" not in response.text.lower()


async def test_schema_fields_named_title_and_slug_work(database_url: str) -> None:
    settings = make_settings(database_url, packs=("contacts_service", "pftest_titled"))
    async with harness_for(settings) as built, http_client(built.app) as test_client:
        assert (await test_client.get("/schema/openapi.json")).status_code == 200
        issued = await built.user()
        fields = {"title": "Onboarding", "slug": "onboarding", "description": "Day one"}
        created = await test_client.post("/api/v1/handbook/articles", json={"article": fields}, headers=auth(issued))
        assert created.status_code == 201, created.text
        shown = await test_client.get(f"/api/v1/handbook/articles/{created.json()['data']['id']}", headers=auth(issued))
        assert shown.json()["data"]["data"] == fields
        missing = await test_client.post("/api/v1/handbook/articles", json={"article": {}}, headers=auth(issued))
        assert missing.status_code == 422
        assert set(missing.json()["details"]) == {"title", "slug"}


async def test_an_empty_workspace_header_is_400_as_a_malformed_one(client: httpx.AsyncClient, harness: Harness) -> None:
    issued = await harness.user()
    for value in ("", "   ", "not-a-uuid"):
        headers = {**auth(issued), "X-Workspace-Id": value}
        for url in ("/api/v1/workspaces/contacts", "/api/v1/workflows/executions"):
            response = await client.get(url, headers=headers)
            assert response.status_code == 400, (value, url, response.text)
            assert "X-Workspace-Id" in response.json()["error"]


async def test_options_lists_only_the_methods_that_answer(client: httpx.AsyncClient, harness: Harness) -> None:
    collection = await client.options("/api/v1/workspaces/contacts")
    assert collection.status_code == 204
    assert collection.headers["allow"] == "GET, POST, OPTIONS"
    member = await client.options(f"/api/v1/workspaces/contacts/{uuid.uuid4()}")
    assert member.headers["allow"] == "GET, PUT, PATCH, DELETE, OPTIONS"
    # A path of the app's own routes that several handlers share lists them all (Litestar 2 listed one).
    schedule = await client.options(f"/api/v1/workflows/schedules/{uuid.uuid4()}")
    assert (schedule.status_code, schedule.headers["allow"]) == (204, "DELETE, GET, OPTIONS, PATCH")
    trigger = await client.options(f"/api/v1/workflows/schedules/{uuid.uuid4()}/trigger")
    assert trigger.headers["allow"] == "OPTIONS, POST"
    for path in ("/api/v1/workspaces/contacts/export", "/api/v1/workspaces/nothing", f"/api/v1/x/y/{uuid.uuid4()}/z"):
        response = await client.options(path)
        assert response.status_code == 404, path
        assert "error" in response.json()
