"""Bad input answers 4xx in the API's shapes, never 500, and a 500 never shows what the log has.

NUL characters, parameter names of the tool machinery, deep JSON, huge page numbers, and what a 500 body and
the log say (docs/http-api.md, Parameters and Responses). Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import inspect
import json
import random
import string
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest

from packs.core.http import params as http_params
from packs.core.http import resources
from packs.core.http.errors import GENERIC_MESSAGE
from packs.core.http.params import MAX_JSON_DEPTH, NUL_NAME_PROBLEM, NUL_PROBLEM, RESERVED_KEYS, TOO_DEEP
from packs.core.items import MAX_PAGE
from packs.core.tools import base as tool_base
from packs.core.tools.parameters import ToolParameters
from packs.core.workflow.steps import call as call_step
from tests.fixture_packs.install import FIXTURE_PACKS
from tests.fixture_packs.probe import LEAKED_SECRET, Echo
from tests.support.harness import Harness, auth, harness_for, http_client, make_settings

CONTACTS = "/api/v1/workspaces/contacts"
THINGS = "/api/v1/probes/things"
WORKFLOWS = "/api/v1/workflows"
EXECUTIONS = f"{WORKFLOWS}/executions"


def fixture_pack(module: str) -> str:
    """The entry-point name of the fixture pack in ``tests/fixture_packs/<module>.py``."""
    return next(name for name, path in FIXTURE_PACKS.items() if path == f"tests.fixture_packs.{module}")


PACKS = ("contacts_service", fixture_pack("probe"), fixture_pack("workflow_http"))
JSON_HEADERS = {"Content-Type": "application/json"}


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    """contacts_service, the probe pack and the workflow_http fixture pack, on the current backend."""
    async with harness_for(make_settings(database_url, packs=PACKS)) as built:
        yield built


@pytest.fixture
async def client(harness: Harness) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(harness.app) as test_client:
        yield test_client


async def halted_ask(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    """The id of a halted ``http_ask`` execution."""
    response = await client.post(f"{WORKFLOWS}/http_ask/executions", json={"mode": "sync"}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["status"] == "halted"
    execution_id: str = response.json()["data"]["id"]
    return execution_id


def invalid(response: httpx.Response, details: dict[str, str]) -> None:
    assert response.status_code == 422, response.text
    assert response.json() == {"error": "Invalid parameters", "details": details}


# --- 5. NUL characters ---------------------------------------------------------------------------


async def test_nul_in_a_body_string_or_key_at_any_depth_is_422_naming_each_field(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    headers = auth(await harness.user())
    contact = {"first_name": "Ada\u0000", "last_name": "Lovelace", "tags": ["ok", "b\u0000d"], "x\u0000y": "z"}
    response = await client.post(CONTACTS, json={"contact": contact}, headers=headers)
    invalid(
        response,
        {
            "contact.first_name": NUL_PROBLEM,
            "contact.tags[1]": NUL_PROBLEM,
            "contact.x\\u0000y": NUL_NAME_PROBLEM,
        },
    )
    assert "SELECT" not in response.text
    assert "INSERT" not in response.text
    assert await harness.count("items") == 0
    raw = await client.post(f"{THINGS}/echo", content=b'{"top": "a\\u0000"}', headers={**headers, **JSON_HEADERS})
    invalid(raw, {"top": NUL_PROBLEM})


async def test_an_escaped_backslash_before_u0000_is_no_nul(client: httpx.AsyncClient, harness: Harness) -> None:
    headers = auth(await harness.user())
    response = await client.post(
        CONTACTS, json={"contact": {"first_name": "back\\u0000slash", "last_name": "L"}}, headers=headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"]["data"]["first_name"] == "back\\u0000slash"


async def test_nul_in_a_query_name_or_value_is_422_on_every_route(client: httpx.AsyncClient, harness: Harness) -> None:
    headers = auth(await harness.user())
    invalid(await client.get(CONTACTS, params={"q": "a\u0000b"}, headers=headers), {"q": NUL_PROBLEM})
    invalid(await client.get(f"{CONTACTS}?a%00b=1&page=1", headers=headers), {"a\\u0000b": NUL_NAME_PROBLEM})
    invalid(
        await client.get(EXECUTIONS, params={"workflow_id": "x\u0000", "status": "failed"}, headers=headers),
        {"workflow_id": NUL_PROBLEM},
    )
    still = await client.get(CONTACTS, params={"q": "%00 is text"}, headers=headers)
    assert still.status_code == 200, still.text


async def test_nul_in_workflow_start_input_keys_and_values_is_422_and_starts_nothing(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    headers = auth(await harness.user())
    response = await client.post(
        f"{WORKFLOWS}/http_echo/executions",
        json={"input": {"value": "a\u0000", "k\u0000": "v"}, "mode": "sync"},
        headers=headers,
    )
    invalid(response, {"input.value": NUL_PROBLEM, "input.k\\u0000": NUL_NAME_PROBLEM})
    assert await harness.count("workflow_executions") == 0


async def test_nul_in_a_resume_response_is_422_and_the_execution_stays_halted(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    headers = auth(await harness.user())
    execution_id = await halted_ask(client, headers)
    response = await client.post(
        f"{EXECUTIONS}/{execution_id}/resume", json={"response": {"first": ["A\u0000"]}}, headers=headers
    )
    invalid(response, {"response.first[0]": NUL_PROBLEM})
    shown = await client.get(f"{EXECUTIONS}/{execution_id}", headers=headers)
    assert shown.json()["data"]["status"] == "halted"
    resumed = await client.post(f"{EXECUTIONS}/{execution_id}/resume", json={"response": "Ada"}, headers=headers)
    assert resumed.status_code == 202, resumed.text


# --- 6. parameter names of the machinery ----------------------------------------------------------


def machinery_names() -> set[str]:
    """Every name a function on the call path from the request to the tool binds (parameters and locals)."""
    functions: list[Any] = [
        resources.dispatch,
        http_params.merge_params,
        http_params.decode_body,
        tool_base._execute_class_level,
        tool_base._Execute.__get__,
        tool_base._Execute.__init__,
        ToolParameters.convert,
        call_step.invoke,
        call_step.bind_method,
        inspect.unwrap(Echo.__dict__["execute"].function),
    ]
    names = {"self", "cls", "tool_class", "args", "kwargs", "params", "function", "instance", "owner", "_"}
    for function in functions:
        names.update(inspect.signature(function).parameters)
        names.update(function.__code__.co_varnames)
    return names


def random_names(count: int, seed: int = 10) -> set[str]:
    """Random parameter names: identifiers, dunders, punctuation, digits and non-ASCII letters."""
    generator = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + "_-.$ éß日"
    names = {"", "__class__", "__init__", "__dict__", "1", "a-b", "with space"}
    while len(names) < count:
        names.add("".join(generator.choice(alphabet) for _ in range(generator.randint(1, 12))))
    return names


ALL_NAMES = sorted((machinery_names() | random_names(200)) - RESERVED_KEYS)


def test_the_machinery_names_include_those_that_collided() -> None:
    assert {"self", "tool_class", "params", "request", "session", "tool"} <= set(ALL_NAMES)


async def test_a_tool_called_directly_takes_keywords_named_as_its_internals() -> None:
    given = {name: f"value of {name}" for name in ALL_NAMES}
    assert await Echo.execute(**given) == {"params": given}


async def test_a_parameter_named_as_the_machinerys_own_reaches_the_tool_from_body_and_query(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    headers = auth(await harness.user())
    body = {name: f"body {name}" for name in ALL_NAMES}
    response = await client.post(f"{THINGS}/echo", json=body, headers=headers)
    assert response.status_code == 200, response.text
    received = response.json()["params"]
    assert {name: received[name] for name in ALL_NAMES} == body
    query = [(name, f"query {name}") for name in ALL_NAMES if name]
    response = await client.get(f"{THINGS}/echo", params=query, headers=headers)
    assert response.status_code == 200, response.text
    assert {name: response.json()["params"][name] for name, _ in query} == dict(query)


async def test_a_tool_without_catch_all_answers_422_for_names_of_the_machinery(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    headers = auth(await harness.user())
    body = {name: 1 for name in ALL_NAMES if name != "count"}
    response = await client.post(f"{THINGS}/typed", json={"count": 1, **body}, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["details"] == dict.fromkeys(body, "is not a known parameter")
    assert await harness.count("items") == 0


# --- 7. deep JSON ----------------------------------------------------------------------------------


def nested(levels: int, inner: str = "[]") -> bytes:
    """A JSON object ``levels`` deep: the object, then ``levels - 1`` arrays."""
    arrays = levels - 1
    if arrays == 0:
        return b'{"x": 1}'
    return b'{"x": ' + b"[" * (arrays - 1) + inner.encode() + b"]" * (arrays - 1) + b"}"


@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH + 1, 1_000, 100_000])
async def test_json_nested_beyond_the_limit_is_400_on_every_json_route(
    client: httpx.AsyncClient, harness: Harness, levels: int
) -> None:
    headers = {**auth(await harness.user()), **JSON_HEADERS}
    execution_id = await halted_ask(client, auth(await harness.user()))
    deep = nested(levels)
    inner = deep[len(b'{"x": ') : -1]
    requests = [
        (CONTACTS, b'{"contact": ' + inner + b"}"),
        (f"{THINGS}/echo", deep),
        (f"{WORKFLOWS}/http_echo/executions", b'{"input": {"value": ' + inner + b"}}"),
        (f"{EXECUTIONS}/{execution_id}/resume", b'{"response": ' + inner + b"}"),
    ]
    for path, content in requests:
        response = await client.post(path, content=content, headers=headers)
        assert response.status_code == 400, (path, response.text)
        assert response.json() == {"error": TOO_DEEP}
    assert await harness.count("items") == 0
    assert await harness.count("workflow_executions") == 1


async def test_json_nested_up_to_the_limit_is_read(client: httpx.AsyncClient, harness: Harness) -> None:
    headers = {**auth(await harness.user()), **JSON_HEADERS}
    response = await client.post(f"{THINGS}/echo", content=nested(MAX_JSON_DEPTH, '["\\\\u0000"]'), headers=headers)
    assert response.status_code == 200, response.text
    assert json.dumps(response.json()["params"]["x"]).count("[") == MAX_JSON_DEPTH - 1


# --- 8. paging bounds ------------------------------------------------------------------------------


@pytest.mark.parametrize("page", [MAX_PAGE + 1, 10**18, 2**63, 10**30])
async def test_a_page_beyond_the_bound_is_422_on_every_list(
    client: httpx.AsyncClient, harness: Harness, page: int
) -> None:
    headers = auth(await harness.user())
    for path in (CONTACTS, EXECUTIONS):
        response = await client.get(path, params={"page": str(page), "per_page": "100"}, headers=headers)
        assert response.status_code == 422, (path, response.text)
        assert set(response.json()["details"]) == {"page"}
    huge_per_page = await client.get(CONTACTS, params={"per_page": str(10**30)}, headers=headers)
    assert huge_per_page.status_code == 422
    assert set(huge_per_page.json()["details"]) == {"per_page"}


async def test_the_last_page_within_the_bound_answers_an_empty_page(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    headers = auth(await harness.user())
    for path in (CONTACTS, EXECUTIONS):
        response = await client.get(path, params={"page": str(MAX_PAGE), "per_page": "100"}, headers=headers)
        assert response.status_code == 200, (path, response.text)
        assert response.json()["data"] == []
        assert response.json()["meta"]["page"] == MAX_PAGE


async def test_paginate_bounds_the_page_of_a_tool_with_plain_int_parameters(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    headers = auth(await harness.user())
    response = await client.get(f"{THINGS}/paged", params={"page": str(2**62), "per_page": "100"}, headers=headers)
    assert response.status_code == 422, response.text
    assert set(response.json()["details"]) == {"page"}
    fine = await client.get(f"{THINGS}/paged", params={"page": "2"}, headers=headers)
    assert fine.status_code == 200, fine.text


# --- 9. what a 500 says ----------------------------------------------------------------------------


def assert_hidden_500(response: httpx.Response, caplog: pytest.LogCaptureFixture, *, logged: str) -> None:
    """A 500 in the documented shape that shows nothing of the failure, whose request id the log names."""
    assert response.status_code == 500, response.text
    body = response.json()
    assert set(body) == {"error", "message", "request_id"}
    assert body["message"] == GENERIC_MESSAGE
    assert response.headers["x-request-id"] == body["request_id"]
    for secret in (LEAKED_SECRET, "SELECT", "FROM", "Traceback", ".py"):
        assert secret not in response.text
    records = [record for record in caplog.records if body["request_id"] in record.getMessage()]
    assert records, caplog.text
    assert any(record.exc_text and logged in record.exc_text for record in records), caplog.text


@pytest.fixture(params=["development", "production"])
async def any_environment(database_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    """The app of :func:`harness` in each environment (built before ``caplog`` starts capturing)."""
    async with harness_for(make_settings(database_url, packs=PACKS, environment=request.param)) as built:
        yield built


async def test_a_failing_sql_statement_is_a_500_without_sql_or_parameters_in_every_environment(
    any_environment: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    async with http_client(any_environment.app) as client:
        headers = auth(await any_environment.user())
        response = await client.post(f"{THINGS}/leak", json={"label": "x"}, headers=headers)
        assert_hidden_500(response, caplog, logged=LEAKED_SECRET)
        assert response.json()["error"] in {"OperationalError", "ProgrammingError"}
        after = await client.get(CONTACTS, headers=headers)
        assert after.status_code == 200, after.text


async def test_failures_outside_the_tools_error_mapping_are_the_same_hidden_500(
    client: httpx.AsyncClient, harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    headers = auth(await harness.user())
    assert_hidden_500(await client.get(f"{THINGS}/unencodable", headers=headers), caplog, logged="StructMeta")
    assert_hidden_500(await client.get("/probe/explode"), caplog, logged=LEAKED_SECRET)
    misconfigured = await client.get("/probe/misconfigured")
    assert_hidden_500(misconfigured, caplog, logged=LEAKED_SECRET)
    assert misconfigured.json()["error"] == "ImproperlyConfiguredException"


async def test_a_500_of_the_workflow_api_hides_the_failure(
    client: httpx.AsyncClient, harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    headers = auth(await harness.user())

    async def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError(f"SELECT * FROM workflow_executions WHERE token = '{LEAKED_SECRET}'")

    harness.app.state.workflow_service.list = broken
    assert_hidden_500(await client.get(EXECUTIONS, headers=headers), caplog, logged=LEAKED_SECRET)


async def asgi_post_then_disconnect(harness: Harness, path: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """POST ``path`` straight through ASGI, announcing a JSON body, sending half of it and disconnecting; the
    messages the app sent back."""
    body = b'{"contact": {"first_name": "Ada", "last_name": "Lovelace"}}'
    events: list[dict[str, Any]] = [
        {"type": "http.request", "body": body[:20], "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return events.pop(0) if len(events) > 1 else events[0]

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    raw = {**headers, "content-type": "application/json", "content-length": str(len(body))}
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(name.lower().encode(), value.encode()) for name, value in raw.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    await harness.app(scope, receive, send)  # type: ignore[arg-type]
    return sent


async def test_a_client_that_disconnects_mid_body_is_no_internal_error_and_nothing_is_written(
    client: httpx.AsyncClient, harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Litestar raises its 500 for a body cut short: nobody is left to answer, so it is logged at INFO, not as an
    error with a traceback, and the tool never ran."""
    headers = auth(await harness.user())
    caplog.set_level("INFO", logger="packflow")
    for path in (CONTACTS, f"{WORKFLOWS}/http_ask/executions"):
        sent = await asgi_post_then_disconnect(harness, path, headers)
        assert sent[0]["status"] == 400, sent
        assert json.loads(sent[1]["body"]) == {"error": "the client disconnected before its request body arrived"}
    assert not [record for record in caplog.records if record.levelname == "ERROR"], caplog.text
    cut_short = [record for record in caplog.records if "disconnected before its request body" in record.getMessage()]
    assert len(cut_short) == 2, caplog.text
    assert all(record.levelname == "INFO" and record.exc_info is None for record in cut_short)
    assert await harness.count("items") == 0
    assert await harness.count("workflow_executions") == 0


async def test_every_answer_carries_a_request_id_of_its_own(client: httpx.AsyncClient, harness: Harness) -> None:
    headers = auth(await harness.user())
    answers = [
        await client.get(CONTACTS, headers=headers),
        await client.get(CONTACTS, headers=headers),
        await client.get(CONTACTS),
        await client.get(f"{CONTACTS}?q=%00", headers=headers),
        await client.get("/api/v1/nothing/here", headers=headers),
    ]
    ids = [answer.headers["x-request-id"] for answer in answers]
    assert len(set(ids)) == len(ids)
    assert all(len(request_id) == 32 for request_id in ids)


def test_the_limits_are_what_the_docs_say(repo_root: Any) -> None:
    text = (repo_root / "docs" / "http-api.md").read_text(encoding="utf-8")
    assert f"{MAX_JSON_DEPTH} levels" in text
    assert f"{MAX_PAGE:,}" in text
    assert msgspec.json.encode(GENERIC_MESSAGE).decode().strip('"') in text


async def test_nul_in_a_path_segment_is_404(client: httpx.AsyncClient, harness: Harness) -> None:
    headers = auth(await harness.user())
    for path in (
        "/api/v1/workspaces/con%00tacts",
        f"{WORKFLOWS}/http%00echo/executions",
        f"{EXECUTIONS}/abc%00",
        f"{CONTACTS}/a%00b",
    ):
        response = await client.request("POST" if path.endswith("executions") else "GET", path, headers=headers)
        assert response.status_code == 404, (path, response.text)
        assert "error" in response.json()


@pytest.mark.parametrize(
    "path",
    ["/console/static/%00", "/console/static/console.css%00", "/schema/assets/%00", "/schema/assets/swagger-ui.css%00"],
)
async def test_nul_in_a_static_file_path_is_404(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404, response.text
    served = await client.get(path.removesuffix("%00"))  # the file itself is still served
    assert served.status_code == (404 if path.endswith("/%00") else 200)


async def test_the_openapi_document_states_the_paging_bounds(client: httpx.AsyncClient) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    for path in (CONTACTS, EXECUTIONS):
        parameters = {parameter["name"]: parameter for parameter in document["paths"][path]["get"]["parameters"]}
        assert parameters["page"]["schema"]["maximum"] == MAX_PAGE, path
