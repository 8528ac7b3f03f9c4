"""Signals and retries over HTTP (docs/http-api.md, Signals; docs/workflow-language.md, Retry and catch), through
the app on SQLite and PostgreSQL with the inline queue and its timer sweep.

A signal sent to an execution waiting at a ``receive`` wakes it; one sent before the step is reached waits
for it; an ``Idempotency-Key`` makes a repeat a no-op; an ended execution answers 409, another workspace's
404, a bad body 422. A retry's wait shows its due time in the execution and the failed attempt's entry.
Sub-workflows that wait (docs/workflow-language.md): a ``wait`` one level down completes the parent on its
own (a ``resume`` meanwhile is a 409 naming the child); a signal sent to the parent reaches the child's
``receive``, and the parent completes with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from packs.core.identity.accounts import IssuedToken
from tests.support.harness import Harness, auth, harness_for, make_settings
from tests.support.workflow_http import API, EXECUTIONS, PACKS, show, started, wait_for


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    async with harness_for(make_settings(database_url, packs=PACKS)) as built:
        yield built


@pytest.fixture
async def ada(harness: Harness) -> IssuedToken:
    return await harness.user("ada@example.com", "Acme")


def signal_url(execution_id: str, name: str = "payment_received") -> str:
    return f"{EXECUTIONS}/{execution_id}/signals/{name}"


async def test_a_signal_wakes_the_receive_step_waiting_for_it(client: httpx.AsyncClient, ada: IssuedToken) -> None:
    execution_id = await started(client, ada, "http_receive")
    halted = await wait_for(client, ada, execution_id, {"halted"})
    assert halted["halt"]["data"]["type"] == "signal"
    assert halted["halt"]["data"]["signal"] == "payment_received"
    assert halted["halt"]["data"]["due_at"] is not None

    resumed = await client.post(f"{EXECUTIONS}/{execution_id}/resume", json={"response": 1}, headers=auth(ada))
    assert resumed.status_code == 409, resumed.text
    assert "waiting for the signal 'payment_received'" in resumed.json()["error"]
    listed = await client.get(EXECUTIONS, params={"waiting_for": "signal"}, headers=auth(ada))
    assert [item["id"] for item in listed.json()["data"]] == [execution_id]
    other = await client.post(signal_url(execution_id, "refund"), json={"payload": 1}, headers=auth(ada))
    assert other.status_code == 202, other.text
    assert other.json()["data"]["woke"] is False
    response = await client.post(signal_url(execution_id), json={"payload": {"amount": 42}}, headers=auth(ada))
    assert response.status_code == 202, response.text
    body = response.json()["data"]
    assert (body["repeated"], body["woke"]) == (False, True)
    assert body["signal"]["name"] == "payment_received"
    assert body["signal"]["payload"] == {"amount": 42}
    assert response.headers["location"].endswith(execution_id)

    done = await wait_for(client, ada, execution_id, {"completed"})
    assert done["output"] == {"payment": {"amount": 42}}
    assert [(s["name"], s["payload"], s["consumed_by"]) for s in done["signals"]] == [
        ("refund", 1, None),
        ("payment_received", {"amount": 42}, "await_payment"),
    ]


async def test_a_repeated_idempotency_key_is_a_no_op(client: httpx.AsyncClient, ada: IssuedToken) -> None:
    execution_id = await started(client, ada, "http_receive")
    await wait_for(client, ada, execution_id, {"halted"})
    headers = {**auth(ada), "Idempotency-Key": "refund-7"}
    first = await client.post(signal_url(execution_id, "refund"), json={"payload": 1}, headers=headers)
    again = await client.post(signal_url(execution_id, "refund"), json={"payload": 1}, headers=headers)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["data"]["repeated"] is True
    assert again.json()["data"]["signal"]["id"] == first.json()["data"]["signal"]["id"]
    # The same key for another payload or another name is a 409, as for a start: nothing is kept.
    other_payload = await client.post(signal_url(execution_id, "refund"), json={"payload": 2}, headers=headers)
    assert other_payload.status_code == 409, other_payload.text
    assert "Idempotency-Key refund-7 was already used" in other_payload.json()["error"]
    assert "another payload" in other_payload.json()["error"]
    other_name = await client.post(signal_url(execution_id), json={"payload": 1}, headers=headers)
    assert other_name.status_code == 409, other_name.text
    assert "another name" in other_name.json()["error"]
    assert [s["payload"] for s in (await show(client, ada, execution_id))["signals"]] == [1]
    logged = await client.get(f"{API}/audit", params={"action": "signal"}, headers=auth(ada))
    assert logged.status_code == 200, logged.text
    entries = [e for e in logged.json()["data"] if e["target_id"] == execution_id]
    assert [(e["action"], e["details"]) for e in entries] == [("signal", {"signal": "refund", "woke": False})]


async def test_a_repeated_key_with_numbers_the_database_rewrote_is_still_a_repeat(
    client: httpx.AsyncClient, ada: IssuedToken
) -> None:
    execution_id = await started(client, ada, "http_receive")
    await wait_for(client, ada, execution_id, {"halted"})
    headers = {**auth(ada), "Idempotency-Key": "big-1"}
    payload = {"payload": {"amount": 1e300, "zero": -0.0}}
    first = await client.post(signal_url(execution_id, "refund"), json=payload, headers=headers)
    again = await client.post(signal_url(execution_id, "refund"), json=payload, headers=headers)
    assert (first.status_code, again.status_code) == (202, 202), again.text
    assert again.json()["data"]["repeated"] is True
    other = await client.post(signal_url(execution_id, "refund"), json={"payload": {"amount": 1e299}}, headers=headers)
    assert other.status_code == 409, other.text


async def test_a_repeat_of_the_signal_that_ended_the_execution_is_still_a_no_op(
    client: httpx.AsyncClient, ada: IssuedToken
) -> None:
    """The retry of a send whose answer was lost, after that send completed the execution: the first answer."""
    execution_id = await started(client, ada, "http_receive")
    await wait_for(client, ada, execution_id, {"halted"})
    headers = {**auth(ada), "Idempotency-Key": "pay-1"}
    first = await client.post(signal_url(execution_id), json={"payload": {"amount": 5}}, headers=headers)
    assert first.status_code == 202, first.text
    await wait_for(client, ada, execution_id, {"completed"})
    again = await client.post(signal_url(execution_id), json={"payload": {"amount": 5}}, headers=headers)
    assert again.status_code == 202, again.text
    body = again.json()["data"]
    assert (body["repeated"], body["woke"], body["execution"]["status"]) == (True, False, "completed")
    assert body["signal"]["id"] == first.json()["data"]["signal"]["id"]
    new_key = await client.post(
        signal_url(execution_id), json={"payload": {"amount": 5}}, headers={**auth(ada), "Idempotency-Key": "pay-2"}
    )
    assert new_key.status_code == 409, new_key.text  # a new send to the ended execution
    assert len((await show(client, ada, execution_id))["signals"]) == 1


async def test_signals_to_an_ended_execution_answer_409_and_another_workspace_404(
    client: httpx.AsyncClient, harness: Harness, ada: IssuedToken
) -> None:
    execution_id = await started(client, ada, "http_receive")
    await wait_for(client, ada, execution_id, {"halted"})
    bob = await harness.user("bob@example.com", "Elsewhere")
    hidden = await client.post(signal_url(execution_id), json={"payload": 1}, headers=auth(bob))
    assert hidden.status_code == 404, hidden.text
    cancelled = await client.post(f"{EXECUTIONS}/{execution_id}/cancel", headers=auth(ada))
    assert cancelled.status_code == 200, cancelled.text
    ended = await client.post(signal_url(execution_id), json={"payload": 1}, headers=auth(ada))
    assert ended.status_code == 409, ended.text
    assert "is cancelled" in ended.json()["error"]
    assert (await show(client, ada, execution_id))["signals"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [({"payload": 1, "extra": True}, "extra"), ([1, 2], None)],
)
async def test_a_bad_body_is_refused_and_keeps_nothing(
    client: httpx.AsyncClient, ada: IssuedToken, body: object, field: str | None
) -> None:
    execution_id = await started(client, ada, "http_receive")
    await wait_for(client, ada, execution_id, {"halted"})
    response = await client.post(signal_url(execution_id), json=body, headers=auth(ada))
    assert response.status_code in (400, 422), response.text
    if field is not None:
        assert response.status_code == 422
        assert field in response.json()["details"]
    long_key = {**auth(ada), "Idempotency-Key": "k" * 300}
    too_long = await client.post(signal_url(execution_id), json={"payload": 1}, headers=long_key)
    assert too_long.status_code == 422, too_long.text
    assert "Idempotency-Key" in too_long.json()["details"]
    assert (await show(client, ada, execution_id))["signals"] == []
    assert (await show(client, ada, execution_id))["status"] == "halted"


async def test_a_retry_wait_shows_its_due_time_and_the_retry_runs_on_its_timer(
    client: httpx.AsyncClient, ada: IssuedToken, tmp_path: Path
) -> None:
    flag = tmp_path / "flag"
    execution_id = await started(client, ada, "http_retry", {"flag": str(flag)})
    waiting = await wait_for(client, ada, execution_id, {"halted"})
    halt = waiting["halt"]["data"]
    assert halt["type"] == "wait"
    assert halt["retry"]["step_id"] == "check"
    assert halt["retry"]["attempt"] == 2
    assert halt["retry"]["error"].startswith("RuntimeError: the flag file")
    failed = [e for e in waiting["entries"] if e["action"] == "failed"]
    assert [(e["step_id"], e["attempt"]) for e in failed] == [("check", 1)]
    flag.write_text("here", encoding="utf-8")
    done = await wait_for(client, ada, execution_id, {"completed"}, within=15)
    assert done["output"] == {"found": {"flag": "found"}}
    # Every entry of each attempt carries its number, the resumed attempt's `started` too.
    checks = [(e["action"], e["attempt"]) for e in done["entries"] if e["step_id"] == "check"]
    assert checks == [("started", 1), ("failed", 1), ("started", 2), ("completed", 2)]


async def test_after_its_retries_a_step_is_caught_with_the_error(
    client: httpx.AsyncClient, ada: IssuedToken, tmp_path: Path
) -> None:
    execution_id = await started(client, ada, "http_retry", {"flag": str(tmp_path / "never")})
    done = await wait_for(client, ada, execution_id, {"completed"}, within=15)
    error = done["output"]["gave_up"]
    assert (error["type"], error["step_id"], error["attempts"]) == ("RuntimeError", "check", 2)
    assert [e["attempt"] for e in done["entries"] if e["action"] == "failed"] == [1, 2]


async def test_a_wait_in_a_sub_workflow_completes_the_parent_on_its_own(
    client: httpx.AsyncClient, ada: IssuedToken
) -> None:
    waiting = await started(client, ada, "http_sub_wait", {"seconds": 3600})
    halted = await wait_for(client, ada, waiting, {"halted"})
    assert halted["halt"]["data"]["type"] == "workflow"
    assert halted["halt"]["data"]["child"]["type"] == "wait"
    resumed = await client.post(f"{EXECUTIONS}/{waiting}/resume", json={}, headers=auth(ada))
    assert resumed.status_code == 409, resumed.text
    child = halted["halt"]["data"]["child_execution_id"]
    assert f"(its sub-workflow execution {child}) is waiting until" in resumed.json()["error"]
    assert (await wait_for(client, ada, waiting, {"halted"}))["halt"] == halted["halt"]  # unchanged

    execution_id = await started(client, ada, "http_sub_wait", {"seconds": 1})
    done = await wait_for(client, ada, execution_id, {"completed"}, within=30)
    assert done["output"] == {"child": {"waited": 1}}
    child_steps = [e["action"] for e in done["entries"] if e["step_id"] == "child"]
    assert child_steps == ["started", "halted", "started", "completed"]


async def test_a_repeat_of_a_signal_passed_on_to_the_child_is_found_from_the_parent(
    client: httpx.AsyncClient, ada: IssuedToken
) -> None:
    """The first send is kept for the child; its repeat, once the parent waits at its own ``receive`` of that
    name, is the same send (it neither reaches the parent's step nor is kept again), and the parent lists the
    signal it passed on."""
    execution_id = await started(client, ada, "http_sub_receive_twice")
    child_id = (await wait_for(client, ada, execution_id, {"halted"}))["halt"]["data"]["child_execution_id"]
    headers = {**auth(ada), "Idempotency-Key": "pay-1"}
    first = await client.post(signal_url(execution_id), json={"payload": {"amount": 42}}, headers=headers)
    assert first.status_code == 202, first.text
    assert (first.json()["data"]["repeated"], first.json()["data"]["woke"]) == (False, True)
    waiting = await wait_for_halt_at(client, ada, execution_id, "own")
    [passed_on] = waiting["signals"]
    assert passed_on["id"] == first.json()["data"]["signal"]["id"]
    assert passed_on["passed_to"] == child_id != execution_id
    assert passed_on["consumed_by"] == "await_payment"

    again = await client.post(signal_url(execution_id), json={"payload": {"amount": 42}}, headers=headers)
    assert again.status_code == 202, again.text
    assert again.json()["data"]["repeated"] is True
    assert again.json()["data"]["woke"] is False
    assert again.json()["data"]["signal"]["id"] == first.json()["data"]["signal"]["id"]
    other = await client.post(signal_url(execution_id), json={"payload": {"amount": 7}}, headers=headers)
    assert other.status_code == 409, other.text
    shown = await show(client, ada, execution_id)
    assert shown["status"] == "halted"
    assert len(shown["signals"]) == 1

    own = await client.post(signal_url(execution_id), json={"payload": {"amount": 8}}, headers=auth(ada))
    assert own.json()["data"]["woke"] is True
    assert own.json()["data"]["signal"]["passed_to"] is None
    done = await wait_for(client, ada, execution_id, {"completed"}, within=30)
    assert done["output"] == {"child": {"payment": {"amount": 42}}, "own": {"amount": 8}}
    repeat_after_end = await client.post(signal_url(execution_id), json={"payload": {"amount": 42}}, headers=headers)
    assert repeat_after_end.status_code == 202, repeat_after_end.text
    assert repeat_after_end.json()["data"]["repeated"] is True


async def wait_for_halt_at(
    client: httpx.AsyncClient, ada: IssuedToken, execution_id: str, step_id: str
) -> dict[str, Any]:
    """The execution once it is halted at ``step_id`` (within 30 s)."""
    for _ in range(300):
        shown = await show(client, ada, execution_id)
        if shown["status"] == "halted" and shown["current_step"] == step_id:
            return shown
        await asyncio.sleep(0.1)
    raise AssertionError(f"execution {execution_id} did not halt at {step_id}: {shown}")


async def test_a_signal_to_the_parent_reaches_the_receive_in_its_sub_workflow(
    client: httpx.AsyncClient, ada: IssuedToken
) -> None:
    execution_id = await started(client, ada, "http_sub_receive")
    halted = await wait_for(client, ada, execution_id, {"halted"})
    assert halted["halt"]["data"]["child"]["type"] == "signal"
    url = f"{EXECUTIONS}/{execution_id}/signals/payment_received"
    response = await client.post(url, json={"payload": {"amount": 42}}, headers=auth(ada))
    assert response.status_code == 202, response.text
    assert response.json()["data"]["woke"] is True
    done = await wait_for(client, ada, execution_id, {"completed"}, within=30)
    assert done["output"] == {"child": {"payment": {"amount": 42}}}
    ended = await client.post(url, json={"payload": 1}, headers=auth(ada))
    assert ended.status_code == 409, ended.text
