"""The pytest plugin for pack authors (``packs.core.testing``), used here exactly as an author would."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from packs.core import testing
from packs.core.testing import PackflowUser, RunWorkflow
from packs.core.workflow import clock


def test_the_plugin_is_registered_through_its_pytest11_entry_point(request: pytest.FixtureRequest) -> None:
    assert request.config.pluginmanager.get_plugin("packflow") is testing


async def test_without_a_choice_only_core_is_enabled(packflow_client: httpx.AsyncClient) -> None:
    assert (await packflow_client.get("/api/v1/workspaces/contacts")).status_code == 404
    assert (await packflow_client.get("/api/v1/workflows")).json() == {"data": []}


class TestWithTheContactsPack:
    @pytest.fixture
    def packflow_packs(self) -> tuple[str, ...]:
        return ("contacts_service",)

    async def test_the_client_is_authenticated_as_the_user(
        self, packflow_client: httpx.AsyncClient, packflow_user: PackflowUser
    ) -> None:
        created = await packflow_client.post(
            "/api/v1/workspaces/contacts", json={"contact": {"first_name": "Ada", "last_name": "L"}}
        )
        assert created.status_code == 201, created.text
        assert created.json()["data"]["workspace_id"] == packflow_user.workspace_id
        listed = await packflow_client.get("/api/v1/workspaces/contacts")
        assert [item["data"]["first_name"] for item in listed.json()["data"]] == ["Ada"]
        anonymous = await packflow_client.get("/api/v1/workspaces/contacts", headers={"Authorization": ""})
        assert anonymous.status_code == 401

    async def test_run_workflow_answers_the_result_and_the_entries(
        self, packflow_run_workflow: RunWorkflow, packflow_user: PackflowUser, packflow_client: httpx.AsyncClient
    ) -> None:
        run = await packflow_run_workflow(
            "create_contact",
            {
                "user_id": packflow_user.user_id,
                "workspace_id": packflow_user.workspace_id,
                "contact_data": {"first_name": "Grace", "last_name": "Hopper"},
            },
        )
        assert run.result.status == "completed", run.result.error
        assert run.steps[0] == ("start", "started")
        assert run.steps[-1][1] == "completed"
        assert ("create_contact", "completed") in run.steps
        listed = await packflow_client.get("/api/v1/workspaces/contacts")
        assert [item["data"]["last_name"] for item in listed.json()["data"]] == ["Hopper"]

    async def test_a_run_belongs_to_the_workspace_and_user_of_its_input(
        self, packflow_run_workflow: RunWorkflow, packflow_user: PackflowUser, packflow_client: httpx.AsyncClient
    ) -> None:
        contacts = [{"first_name": "Ada", "last_name": f"L{n}"} for n in range(11)]
        identity = {"user_id": packflow_user.user_id, "workspace_id": packflow_user.workspace_id}
        run = await packflow_run_workflow("bulk_import", {**identity, "contacts": contacts})
        assert run.result.status == "halted"
        shown = await packflow_client.get(f"/api/v1/workflows/executions/{run.result.execution_id}")
        assert shown.status_code == 200, shown.text
        assert shown.json()["data"]["workspace_id"] == packflow_user.workspace_id
        assert shown.json()["data"]["created_by_id"] == packflow_user.user_id
        inbox = await packflow_client.get("/api/v1/workflows/approvals", params={"scope": "workspace"})
        assert [approval["execution_id"] for approval in inbox.json()["data"]] == [run.result.execution_id]
        not_ids = await packflow_run_workflow("bulk_import", {"user_id": 7, "workspace_id": "acme", "contacts": []})
        assert not_ids.result.status == "failed"  # the input check, not a store error


class TestAWorkflowThatWaits:
    """The guide's recipe (docs/writing-a-pack.md, 8. Tests): a frozen clock moved past a wait's due time;
    the test app's timer sweep fires it and the execution completes, seen through the client."""

    @pytest.fixture
    def packflow_packs(self) -> tuple[str, ...]:
        return ("contacts_service", "pftest_workflow_http")

    async def test_a_wait_of_a_day_completes_once_the_frozen_clock_passes_it(
        self, packflow_run_workflow: RunWorkflow, packflow_user: PackflowUser, packflow_client: httpx.AsyncClient
    ) -> None:
        identity = {"user_id": packflow_user.user_id, "workspace_id": packflow_user.workspace_id}
        with clock.frozen() as frozen:
            run = await packflow_run_workflow("http_wait", {**identity, "seconds": 86_400})
            assert run.result.halt is not None
            assert run.result.halt.data["type"] == "wait"
            url = f"/api/v1/workflows/executions/{run.result.execution_id}"
            await asyncio.sleep(1)  # a sweep or two: nothing is due yet
            assert (await packflow_client.get(url)).json()["data"]["status"] == "halted"
            frozen.advance(seconds=86_401)
            deadline = time.monotonic() + 30
            while (execution := (await packflow_client.get(url)).json()["data"])["status"] != "completed":
                assert time.monotonic() < deadline, execution
                await asyncio.sleep(0.1)
        assert execution["output"] == {"waited": 86_400}


TWO_TESTS = """
import pytest

@pytest.fixture
def packflow_packs():
    return ("contacts_service",)

async def test_writes_a_contact(packflow_client):
    created = await packflow_client.post(
        "/api/v1/workspaces/contacts", json={"contact": {"first_name": "Ada", "last_name": "L"}}
    )
    assert created.status_code == 201, created.text
    assert (await packflow_client.get("/api/v1/workspaces/contacts")).json()["meta"]["total"] == 1

async def test_sees_nothing_of_the_test_before(packflow_client):
    assert (await packflow_client.get("/api/v1/workspaces/contacts")).json()["meta"]["total"] == 0
"""


def test_each_test_gets_a_database_of_its_own(pytester: pytest.Pytester) -> None:
    """A pack author's suite of two tests: the first writes a contact, the second, run after it, sees none."""
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_two=TWO_TESTS)
    result = pytester.runpytest_inprocess("-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*::test_writes_a_contact PASSED*", "*::test_sees_nothing_of_the_test_before PASSED*"])
