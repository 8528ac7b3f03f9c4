"""The engine inside the app: initializer, pack workflows, the workflow tool base, the contacts workflows."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app import create_app
from app.packs import PackError
from app.workflows import ServiceRegistry, tool_paths, unknown_services
from packs.contacts_service.tools import Create
from packs.core import workflow as wf
from packs.core.workflow import settings as wf_config
from packs.core.workflow.stores.sql import SQLStore
from tests.support.harness import Harness, auth, harness_for, http_client, make_settings

CONTACT = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}


def ids(issued: Any) -> dict[str, str]:
    return {"user_id": str(issued.user_id), "workspace_id": str(issued.workspace_id)}


async def test_the_engine_uses_the_sql_store_the_app_logger_and_the_packs_services(harness: Harness) -> None:
    runtime = harness.app.state.workflows
    assert isinstance(wf_config.defaults.store, SQLStore)
    assert wf_config.defaults.store is runtime.store
    assert wf_config.defaults.logger.name == "packflow"
    resolve = wf_config.defaults.service_resolver
    assert resolve is not None
    assert resolve("packs.contacts_service.tools.Create") is Create
    assert resolve("packs.contacts_service.tools.create.Create") is Create
    assert resolve("contacts.import_one") is not None
    for unknown in ("os.system", "packs.core.tools.Tool", "builtins.eval", "app.create_app"):
        assert resolve(unknown) is None
    assert sorted(wf.registry) == ["bulk_import", "create_contact"]
    assert tool_paths(Create) == ["packs.contacts_service.tools.create.Create", "packs.contacts_service.tools.Create"]


async def test_disabled_packs_provide_no_workflows_or_services(sqlite_database_url: str) -> None:
    async with harness_for(make_settings(sqlite_database_url, packs=())) as harness:
        runtime = harness.app.state.workflows
        assert runtime.workflows == {}
        assert runtime.services.names() == []
        assert dict(wf.registry) == {}


def test_invalid_pack_workflows_stop_startup_listing_every_problem_with_its_file(sqlite_database_url: str) -> None:
    with pytest.raises(PackError) as raised:
        create_app(make_settings(sqlite_database_url, packs=("pftest_bad_workflows",)))
    message = str(raised.value)
    assert "invalid workflows (4 problem(s))" in message
    assert "broken.yml (pack 'pftest_bad_workflows'): step 'odd' field 'type': unknown step type 'teleport'" in message
    assert (
        "unknown_service.yml (pack 'pftest_bad_workflows'): step 'call_it' field 'service': unknown service" in message
    )
    assert "'somewhere.else.Tool'" in message


async def test_create_contact_workflow_creates_a_contact_visible_over_http(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    issued = await harness.user()
    result = await wf.Engine(wf.registry["create_contact"]).run(input={**ids(issued), "contact_data": CONTACT})
    assert result.status == "completed", result.error
    created = result.output["data"]
    listing = await client.get("/api/v1/workspaces/contacts", headers=auth(issued))
    assert [item["id"] for item in listing.json()["data"]] == [created["id"]]
    assert listing.json()["data"][0]["data"]["email"] == "ada@example.com"


async def test_create_contact_workflow_with_an_invalid_contact_fails_and_writes_nothing(harness: Harness) -> None:
    issued = await harness.user()
    result = await wf.Engine(wf.registry["create_contact"]).run(input={**ids(issued), "contact_data": {"email": "x"}})
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith("ValidationError: Validation failed")
    assert await harness.count("items") == 0
    store = harness.app.state.workflows.store
    entries = await store.entries(result.execution_id)
    assert [(e.step_id, e.action) for e in entries][-1] == ("create_contact", "failed")


async def test_a_call_steps_tool_write_and_its_checkpoint_commit_together(harness: Harness) -> None:
    issued = await harness.user()
    schema = {"type": "object", "properties": {"data": {"type": "string"}}}
    definition = wf.load(
        {
            "id": "strict_create",
            "name": "Create then reject the output",
            "steps": [
                {"id": "start", "type": "start", "next": "create"},
                {
                    "id": "create",
                    "type": "call",
                    "service": "packs.contacts_service.tools.Create",
                    "input": {"user_id": "$input.user_id", "workspace_id": "$input.workspace_id", "contact": CONTACT},
                    "output": {"key": "created", "schema": schema},
                },
            ],
        }
    )
    result = await wf.Engine(definition).run(input=ids(issued))
    assert result.status == "failed"
    assert "does not match the output schema" in (result.error or "")
    assert await harness.count("items") == 0
    assert await harness.count("workflow_entries", "step_id = 'create' AND action = 'completed'") == 0

    relaxed = wf.load(
        {**definition.raw, "steps": [definition.raw["steps"][0], {**definition.raw["steps"][1], "output": "created"}]}
    )
    done = await wf.Engine(relaxed).run(input=ids(issued))
    assert done.status == "completed"
    assert await harness.count("items") == 1
    assert await harness.count("workflow_entries", "step_id = 'create' AND action = 'completed'") == 1


def contacts(count: int, invalid: int = 0) -> list[dict[str, Any]]:
    good = [{"first_name": f"Person{i}", "last_name": "Imported"} for i in range(count - invalid)]
    return good + [{"first_name": "", "last_name": f"Bad{i}", "email": "nope"} for i in range(invalid)]


async def test_bulk_import_counts_failures_without_failing(harness: Harness) -> None:
    issued = await harness.user()
    result = await wf.Engine(wf.registry["bulk_import"]).run(input={**ids(issued), "contacts": contacts(4, invalid=1)})
    assert result.status == "completed", result.error
    assert result.output["status"] == "some_failed"
    assert result.output["failures"] == 1
    assert len(result.output["created_ids"]) == 3
    assert result.output["errors"][0]["details"] == {
        "first_name": "is required",
        "email": "is not a valid email address (expected local@domain.tld)",
    }
    assert await harness.count("items") == 3


async def test_bulk_import_refuses_more_contacts_than_its_loop_takes_before_asking_anyone(
    harness: Harness, client: httpx.AsyncClient
) -> None:
    issued = await harness.user()
    started = await client.post(
        "/api/v1/workflows/bulk_import/executions",
        json={"input": {"contacts": contacts(1001)}},
        headers=auth(issued),
    )
    assert started.status_code == 422, started.text  # not an approval for an import that could never run
    assert "input 'contacts': " in started.text
    assert "is too long" in started.text
    assert await harness.count("workflow_executions") == 0


async def test_bulk_import_of_ten_or_fewer_needs_no_approval(harness: Harness) -> None:
    issued = await harness.user()
    result = await wf.Engine(wf.registry["bulk_import"]).run(input={**ids(issued), "contacts": contacts(10)})
    assert result.status == "completed"
    assert result.output == {**result.output, "status": "all_created", "failures": 0}
    assert len(result.output["created_ids"]) == 10


async def test_bulk_import_of_more_than_ten_waits_for_approval(harness: Harness) -> None:
    issued = await harness.user()
    engine = wf.Engine(wf.registry["bulk_import"])
    halted = await engine.run(input={**ids(issued), "contacts": contacts(12)})
    assert halted.status == "halted"
    assert halted.halt is not None
    assert halted.halt.prompt == "Import 12 contacts?"
    assert await harness.count("items") == 0
    done = await engine.resume(halted.execution_id, approved=True)
    assert done.output["status"] == "all_created"
    assert len(done.output["created_ids"]) == 12
    assert await harness.count("items") == 12

    refused = await engine.run(input={**ids(issued), "contacts": contacts(11)})
    rejected = await engine.resume(refused.execution_id, approved=False)
    assert rejected.output == {"status": "rejected", "created_ids": [], "failures": 0, "errors": []}
    assert await harness.count("items") == 12


async def test_workflow_tool_runs_its_workflow_and_maps_failure_to_a_validation_error(database_url: str) -> None:
    async with harness_for(make_settings(database_url, packs=("pftest_workflow_tools",))) as harness:
        issued = await harness.user()
        async with http_client(harness.app) as client:
            ok = await client.post("/api/v1/probes/flows/run", json={"value": "hi"}, headers=auth(issued))
            assert ok.status_code == 200
            assert ok.json()["data"] == {"checked": "HI", "user_id": str(issued.user_id)}
            failed = await client.post("/api/v1/probes/flows/run", json={"value": "fail"}, headers=auth(issued))
            assert failed.status_code == 422
            body = failed.json()
            assert body["error"] == "Workflow echo_flow failed"
            assert body["details"]["error"] == "RuntimeError: the check refused 'fail'"
            execution = await harness.app.state.workflows.store.load(body["details"]["execution_id"])
            assert execution is not None
            assert execution.status == "failed"


async def test_a_packs_step_type_serves_every_workflow_while_the_pack_is_enabled(sqlite_database_url: str) -> None:
    settings = make_settings(sqlite_database_url, packs=("pftest_step_types", "pftest_shout_user"))
    async with harness_for(settings) as harness:
        runtime = harness.app.state.workflows
        for workflow_id in ("shouting", "borrowed_shout"):
            result = await wf.Engine(runtime.workflows[workflow_id].definition).run({"name": "ada"})
            assert (result.status, result.output) == ("completed", "HELLO ADA")


def test_a_workflow_using_a_disabled_packs_step_type_stops_startup(sqlite_database_url: str) -> None:
    create_app(make_settings(sqlite_database_url, packs=("pftest_step_types",)))  # registers ``shout`` in this process
    with pytest.raises(PackError) as raised:
        create_app(make_settings(sqlite_database_url, packs=("pftest_shout_user",)))
    message = str(raised.value)
    assert "borrowed.yml (pack 'pftest_shout_user'): step 'loud' field 'type': unknown step type 'shout'" in message


def test_a_pack_cannot_take_a_built_in_step_type_name(sqlite_database_url: str) -> None:
    from app.packs import load_packs
    from app.workflows import register_pack_step_types
    from tests.fixture_packs.step_types import Shout

    packs = load_packs(("pftest_step_types",))
    packs.contributions["pftest_step_types"].step_types["call"] = Shout
    with pytest.raises(PackError, match=r"pack 'pftest_step_types': step type 'call' is a built-in step type"):
        register_pack_step_types(packs)


def test_an_unknown_service_names_some_known_ones_or_says_there_are_none() -> None:
    definition = wf.load(
        {
            "id": "calls",
            "name": "Calls",
            "version": "1",
            "steps": [{"id": "go", "type": "call", "service": "nowhere.Thing", "method": "run"}],
        }
    )
    [none] = unknown_services(definition, ServiceRegistry())
    assert none.endswith(
        "a workflow may call the tools and services of enabled packs (the enabled packs register none)"
    )
    [some] = unknown_services(definition, ServiceRegistry({"b.Tool": object(), "a.Tool": object()}))
    assert some.endswith("(e.g. a.Tool, b.Tool)")
