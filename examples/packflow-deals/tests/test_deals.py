"""The deals pack's own tests: only Packflow's pytest plugin (``packs.core.testing``) is used.

The packs to enable come from ``packflow_packs`` in ``pyproject.toml``; each test gets a fresh app
on a fresh SQLite database.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from packs.core.testing import PackflowUser, RunWorkflow

DEALS = "/api/v1/workspaces/deals"


async def create_deal(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await client.post(DEALS, json={"deal": {"name": "Big one", "amount": 1200, **fields}})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_create_and_show_a_deal(packflow_client: httpx.AsyncClient, packflow_user: PackflowUser) -> None:
    created = await create_deal(packflow_client)
    assert created["data"]["data"] == {"name": "Big one", "amount": 1200, "stage": "open"}
    assert created["data"]["workspace_id"] == packflow_user.workspace_id
    assert created["meta"] == {"created": True, "amount": "USD 1,200"}
    shown = await packflow_client.get(f"{DEALS}/{created['data']['id']}")
    assert shown.status_code == 200
    assert shown.json()["meta"] == {"history": []}


async def test_a_bad_deal_is_refused_field_by_field(packflow_client: httpx.AsyncClient) -> None:
    response = await packflow_client.post(DEALS, json={"deal": {"amount": -5, "stage": "maybe", "colour": "red"}})
    assert response.status_code == 422
    details = response.json()["details"]
    assert set(details) == {"name", "amount", "stage", "colour"}
    assert details["amount"] == "must be a whole amount from 0 to 1,000,000,000,000"
    assert (await packflow_client.get(DEALS)).json()["meta"]["total"] == 0


async def test_a_deal_names_an_existing_contact(packflow_client: httpx.AsyncClient) -> None:
    refused = await packflow_client.post(
        DEALS, json={"deal": {"name": "X", "contact_id": "6f1c1c3e-8f7e-4a34-9a57-0c7d2a3b9e10"}}
    )
    assert refused.status_code == 422
    assert refused.json()["details"] == {"contact_id": "is not a contact of this workspace"}
    contact = await packflow_client.post(
        "/api/v1/workspaces/contacts", json={"contact": {"first_name": "Ada", "last_name": "Lovelace"}}
    )
    accepted = await create_deal(packflow_client, contact_id=contact.json()["data"]["id"])
    assert accepted["data"]["data"]["contact_id"] == contact.json()["data"]["id"]


async def test_move_records_the_history_in_the_packs_own_table(packflow_client: httpx.AsyncClient) -> None:
    deal_id = (await create_deal(packflow_client))["data"]["id"]
    moved = await packflow_client.post(f"{DEALS}/{deal_id}/move", json={"stage": "won"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["data"]["data"]["stage"] == "won"
    assert moved.json()["meta"] == {"moved_from": "open"}
    again = await packflow_client.post(f"{DEALS}/{deal_id}/move", json={"stage": "won"})
    assert again.status_code == 422
    assert again.json()["details"] == {"stage": "the deal is already won"}
    bad = await packflow_client.post(f"{DEALS}/{deal_id}/move", json={"stage": "someday"})
    assert bad.status_code == 422
    assert "stage" in bad.json()["details"]
    history = (await packflow_client.get(f"{DEALS}/{deal_id}")).json()["meta"]["history"]
    assert [(change["from"], change["to"]) for change in history] == [("open", "won")]
    missing = await packflow_client.post(f"{DEALS}/6f1c1c3e-8f7e-4a34-9a57-0c7d2a3b9e10/move", json={"stage": "won"})
    assert missing.status_code == 404


async def test_pipeline_totals_each_stage(packflow_client: httpx.AsyncClient) -> None:
    await create_deal(packflow_client, amount=1000)
    await create_deal(packflow_client, amount=250)
    won = await create_deal(packflow_client, amount=4000)
    await packflow_client.post(f"{DEALS}/{won['data']['id']}/move", json={"stage": "won"})
    pipeline = (await packflow_client.get(f"{DEALS}/pipeline")).json()["data"]
    assert pipeline == {
        "open": {"count": 2, "amount": 1250, "label": "USD 1,250"},
        "won": {"count": 1, "amount": 4000, "label": "USD 4,000"},
        "lost": {"count": 0, "amount": 0, "label": "USD 0"},
    }
    listed = await packflow_client.get(DEALS, params={"stage": "won"})
    assert [deal["id"] for deal in listed.json()["data"]] == [won["data"]["id"]]


async def test_amounts_go_up_to_a_trillion_and_sum_exactly(packflow_client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await create_deal(packflow_client, amount=10**12)  # past 32 bits: summed as bigint
    pipeline = (await packflow_client.get(f"{DEALS}/pipeline")).json()["data"]
    assert pipeline["open"] == {"count": 3, "amount": 3 * 10**12, "label": "USD 3,000,000,000,000"}
    too_much = await packflow_client.post(DEALS, json={"deal": {"name": "More", "amount": 10**12 + 1}})
    assert too_much.status_code == 422
    assert too_much.json()["details"] == {"amount": "must be a whole amount from 0 to 1,000,000,000,000"}


def open_deal_input(user: PackflowUser, amount: int) -> dict[str, Any]:
    return {
        "user_id": user.user_id,
        "workspace_id": user.workspace_id,
        "contact": {"first_name": "Grace", "last_name": "Hopper"},
        "deal": {"name": "Compilers", "amount": amount},
    }


async def test_the_workflow_opens_a_small_deal_at_once(
    packflow_run_workflow: RunWorkflow, packflow_user: PackflowUser, packflow_client: httpx.AsyncClient
) -> None:
    run = await packflow_run_workflow("open_deal", open_deal_input(packflow_user, 900))
    assert run.result.status == "completed", run.result.error
    assert run.result.output["status"] == "opened"
    assert run.result.output["amount"] == "USD 900"
    assert ("approve", "halted") not in run.steps
    assert [step for step, action in run.steps if action == "completed"] == [
        "start",
        "contact",
        "review",
        "size_check",
        "deal",
        "label",
        "done",
    ]
    deal = (await packflow_client.get(f"{DEALS}/{run.result.output['deal_id']}")).json()["data"]
    assert deal["data"]["contact_id"] == run.result.output["contact_id"]


async def test_the_workflow_waits_for_approval_above_the_threshold(
    packflow_run_workflow: RunWorkflow, packflow_user: PackflowUser, packflow_client: httpx.AsyncClient
) -> None:
    run = await packflow_run_workflow("open_deal", open_deal_input(packflow_user, 25_000))
    assert run.result.status == "halted"
    assert run.result.halt is not None
    assert run.result.halt.data["context"] == {"amount": 25_000, "threshold": 10_000}
    assert (await packflow_client.get(DEALS)).json()["meta"]["total"] == 0
    resumed = await packflow_run_workflow.resume(run.result.execution_id, approved=True)
    assert resumed.result.status == "completed", resumed.result.error
    assert resumed.result.output["amount"] == "USD 25,000"
    assert ("approve", "completed") in resumed.steps
    assert ("deal", "completed") in resumed.steps
    assert (await packflow_client.get(DEALS)).json()["meta"]["total"] == 1


async def test_a_rejected_deal_is_not_opened(
    packflow_run_workflow: RunWorkflow, packflow_user: PackflowUser, packflow_client: httpx.AsyncClient
) -> None:
    run = await packflow_run_workflow("open_deal", open_deal_input(packflow_user, 25_000))
    rejected = await packflow_run_workflow.resume(run.result.execution_id, approved=False)
    contacts = (await packflow_client.get("/api/v1/workspaces/contacts")).json()["data"]
    assert rejected.result.output == {"status": "rejected", "contact_id": contacts[0]["id"]}
    assert ("deal", "started") not in rejected.steps
    assert (await packflow_client.get(DEALS)).json()["meta"]["total"] == 0


class TestUnderOtherSettings:
    @pytest.fixture
    def packflow_pack_settings(self) -> dict[str, dict[str, Any]]:
        return {"deals": {"currency": "EUR", "approval_threshold": 100}}

    async def test_the_currency_and_threshold_come_from_the_settings(
        self, packflow_run_workflow: RunWorkflow, packflow_user: PackflowUser, packflow_client: httpx.AsyncClient
    ) -> None:
        created = await create_deal(packflow_client, amount=5)
        assert created["meta"]["amount"] == "EUR 5"
        run = await packflow_run_workflow("open_deal", open_deal_input(packflow_user, 100))
        assert run.result.status == "halted"
        assert run.result.halt is not None
        assert run.result.halt.data["context"]["threshold"] == 100
