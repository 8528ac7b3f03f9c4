"""Workflow failures keep their details: a tool's ``ValidationError`` in a ``call`` step is recorded and answered
with its field details, and a sync start that ends ``failed`` says so in its status code (docs/http-api.md)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from packs.core import workflow as wf
from packs.core.workflow.state import HIDDEN_STATEMENT
from packs.core.workflow_api.payloads import failed_start
from tests.support.harness import Harness, auth, harness_for, make_settings
from tests.support.workflow_http import EXECUTIONS, PACKS, start, wait_for


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    async with harness_for(make_settings(database_url, packs=PACKS)) as built:
        yield built


async def test_a_sync_start_failed_by_a_tools_validation_error_is_a_422_naming_the_fields(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    issued = await harness.user()
    response = await start(client, issued, "create_contact", {"contact_data": {"email": "x"}}, mode="sync")
    assert response.status_code == 422, response.text
    body = response.json()
    assert {"error", "details", "data", "meta"} <= set(body)
    assert body["error"].startswith("ValidationError: Validation failed")
    assert {"first_name", "email"} <= set(body["details"]), body["details"]
    for field in body["details"]:
        assert field in body["error"]
    execution = body["data"]
    assert execution["status"] == "failed"
    assert execution["error_details"] == body["details"]
    assert body["meta"] == {"url": f"{EXECUTIONS}/{execution['id']}"}

    shown = await client.get(f"{EXECUTIONS}/{execution['id']}", headers=auth(issued))
    assert shown.json()["data"]["error_details"] == body["details"]
    failed_entry = shown.json()["data"]["entries"][-1]
    assert (failed_entry["step_id"], failed_entry["action"]) == ("create_contact", "failed")
    assert "first_name" in failed_entry["error"]
    assert await harness.count("items") == 0


async def test_a_sync_start_failed_otherwise_is_a_500_with_the_execution(
    client: httpx.AsyncClient, harness: Harness, tmp_path: Path
) -> None:
    issued = await harness.user()
    response = await start(client, issued, "http_flaky", {"flag": str(tmp_path / "missing")}, mode="sync")
    assert response.status_code == 500, response.text
    body = response.json()
    assert "the flag file" in body["error"]
    assert body["details"] == {}
    assert body["data"]["status"] == "failed"
    assert body["data"]["error_details"] is None
    assert body["meta"]["url"] == f"{EXECUTIONS}/{body['data']['id']}"

    # A retry drops the record of the failure; the execution fails again the same way.
    (tmp_path / "missing").write_text("here", encoding="utf-8")
    retried = await client.post(f"{EXECUTIONS}/{body['data']['id']}/retry", headers=auth(issued))
    assert retried.status_code == 202
    done = await wait_for(client, issued, body["data"]["id"], {"completed"})
    assert done["error_details"] is None


@pytest.mark.parametrize(
    ("seconds", "problem"), [(1e300, "at most 3162240000 seconds (a century)"), (-1, "(0 or more), got -1")]
)
@pytest.mark.parametrize(
    ("workflow", "prefix"),
    [
        ("http_wait", "StepValueError: step 'pause' field 'seconds': "),
        ("http_sub_wait", "StepValueError: sub-workflow 'http_wait' failed: StepValueError: step 'pause' field"),
    ],
    ids=["direct", "sub-workflow"],
)
async def test_a_sync_start_failed_by_a_step_refusing_a_value_is_a_422(
    client: httpx.AsyncClient, harness: Harness, seconds: float, problem: str, workflow: str, prefix: str
) -> None:
    """The wait's ``seconds`` comes from the input, declared a number: the run starts, and its wait refuses the
    value. The request's data could not be processed; that is no server error, also when the wait is a
    sub-workflow's (``http_sub_wait`` runs ``http_wait``)."""
    issued = await harness.user()
    response = await start(client, issued, workflow, {"seconds": seconds}, mode="sync")
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"].startswith(prefix), body["error"]
    assert problem in body["error"]
    assert body["details"] == {}
    assert body["data"]["status"] == "failed"
    assert body["meta"]["url"] == f"{EXECUTIONS}/{body['data']['id']}"


def test_a_sync_start_failed_by_any_client_error_of_a_tool_is_a_422_and_by_anything_else_a_500() -> None:
    def failed_with(status_code: int | None) -> wf.Execution:
        recorded = {"step": "c", "class": "E", "message": "m", "details": None, "status_code": status_code}
        return wf.Execution(id=str(uuid.uuid4()), workflow_id="w", status="failed", ctx={"_failure": recorded})

    assert [failed_start(failed_with(code))[0] for code in (404, 403, 422, 409)] == [422] * 4
    assert [failed_start(failed_with(code))[0] for code in (None, 500, 503)] == [500] * 3


async def test_an_async_start_that_fails_keeps_the_details_too(client: httpx.AsyncClient, harness: Harness) -> None:
    issued = await harness.user()
    response = await start(client, issued, "create_contact", {"contact_data": {"last_name": "Lovelace"}})
    assert response.status_code == 202
    failed = await wait_for(client, issued, response.json()["data"]["id"], {"failed"})
    assert "first_name" in failed["error_details"]


async def test_the_engine_records_the_failure_and_on_error_sees_the_details(harness: Harness) -> None:
    issued = await harness.user()
    ids = {"user_id": str(issued.user_id), "workspace_id": str(issued.workspace_id)}
    result = await wf.Engine(wf.registry["create_contact"]).run(input={**ids, "contact_data": {"email": "x"}})
    assert result.status == "failed"
    execution = await harness.app.state.workflows.store.load(result.execution_id)
    recorded = execution.ctx["_failure"]
    assert recorded["step"] == "create_contact"
    assert recorded["class"] == "ValidationError"
    assert recorded["status_code"] == 422
    assert "first_name" in recorded["details"]


async def test_a_step_failed_by_a_database_error_shows_neither_its_sql_nor_its_parameters(
    client: httpx.AsyncClient, harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    issued = await harness.user()
    secret = "s3cr3t-token-value"
    with caplog.at_level(logging.WARNING, logger="packflow"):
        response = await start(client, issued, "http_bad_sql", {"secret": secret}, mode="sync")
    assert response.status_code == 500, response.text
    shown = await client.get(f"{EXECUTIONS}/{response.json()['data']['id']}", headers=auth(issued))
    assert "no_such_table" not in response.text + shown.text
    errors = [response.json()["error"], shown.json()["data"]["error"]]
    errors += [entry["error"] for entry in shown.json()["data"]["entries"] if entry["error"]]
    assert len(errors) == 3
    assert not [error for error in errors if secret in error]
    assert response.json()["error"] in {
        "OperationalError: " + HIDDEN_STATEMENT,
        "ProgrammingError: " + HIDDEN_STATEMENT,
    }
    assert secret in caplog.text, "the log keeps the statement and its parameters"
