"""``packflow workflows signal ID NAME --payload JSON`` in a subprocess, on the test database (docs/http-api.md,
Signals): with the inline queue the woken execution runs in the command; an ended execution refuses (exit 1).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from packs.core.identity.accounts import IssuedToken
from tests.support.databases import migrate, postgres_database
from tests.support.harness import Harness, auth, harness_for, http_client, make_settings
from tests.support.processes import cli_for, plain
from tests.support.workflow_http import EXECUTIONS, PACKS, show, started, wait_for

pytestmark = pytest.mark.processes  # every test here starts real processes (tests/test_markers.py)


@pytest.fixture
async def harness(database_url: str) -> object:
    async with harness_for(make_settings(database_url, packs=PACKS)) as built:
        yield built


async def receiving(harness: Harness, client: httpx.AsyncClient) -> tuple[IssuedToken, str]:
    """Ada, and an execution of hers halted at a ``receive`` of ``payment_received``."""
    ada: IssuedToken = await harness.user("ada@example.com", "Acme")
    execution_id = await started(client, ada, "http_receive")
    await wait_for(client, ada, execution_id, {"halted"})
    return ada, execution_id


async def test_the_signal_command_wakes_a_receive_and_refuses_an_ended_execution(
    harness: Harness, client: httpx.AsyncClient, database_url: str, fixture_packs: Path
) -> None:
    ada, execution_id = await receiving(harness, client)
    cli = cli_for(database_url, fixture_packs, PACKS)

    sent = await cli.ok("workflows", "signal", execution_id, "payment_received", "--payload", '{"n": 5}')
    assert (sent["repeated"], sent["woke"]) == (False, True)
    assert sent["signal"]["payload"] == {"n": 5}
    assert sent["result"]["status"] == "completed"
    assert sent["result"]["output"] == {"payment": {"n": 5}}
    assert (await show(client, ada, execution_id))["status"] == "completed"

    ended = await cli("workflows", "signal", execution_id, "payment_received")
    assert ended.returncode == 1
    assert "is completed" in ended.stderr
    bad = await cli("workflows", "signal", execution_id, "payment_received", "--payload", "{oops")
    assert bad.returncode == 2
    assert "--payload" in bad.stderr
    response = await client.get(f"{EXECUTIONS}/{execution_id}", headers=auth(ada))
    assert [s["payload"] for s in response.json()["data"]["signals"]] == [{"n": 5}]
    logged = await client.get("/api/v1/workflows/audit", params={"action": "signal"}, headers=auth(ada))
    entries = [(e["source"], e["details"]) for e in logged.json()["data"] if e["target_id"] == execution_id]
    assert entries == [("cli", {"signal": "payment_received", "woke": True})]  # the details the API records


async def test_the_signal_command_refuses_a_name_no_receive_step_can_wait_for(
    harness: Harness, client: httpx.AsyncClient, database_url: str, fixture_packs: Path
) -> None:
    ada, execution_id = await receiving(harness, client)
    cli = cli_for(database_url, fixture_packs, PACKS)
    for name, problem in (("  ", "must not be empty or only whitespace"), ("paid\nlate", "control characters")):
        refused = await cli("workflows", "signal", execution_id, name)
        assert refused.returncode == 2, refused.stderr
        assert problem in plain(refused.stderr)
        assert "NAME" in plain(refused.stderr)
    assert (await show(client, ada, execution_id))["signals"] == []


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A migrated PostgreSQL database of this test alone (SAQ's broker is PostgreSQL here)."""
    with postgres_database() as url:
        migrate(url)
        yield url


@pytest.mark.postgres
async def test_with_saq_the_signal_command_queues_the_woken_execution_and_exits(
    fixture_packs: Path, postgres_url: str
) -> None:
    """The command enqueues on SAQ (its connection pool and listener opened for that) and closes them before it
    exits; a worker would then run the execution."""
    async with harness_for(make_settings(postgres_url, packs=PACKS)) as harness, http_client(harness.app) as client:
        _, execution_id = await receiving(harness, client)
        cli = cli_for(postgres_url, fixture_packs, PACKS)
        cli.env["PACKFLOW_QUEUE"] = "saq"
        sent = await asyncio.wait_for(cli.ok("workflows", "signal", execution_id, "payment_received"), 60)
        assert (sent["repeated"], sent["woke"]) == (False, True)
        assert "result" not in sent  # queued for the workers, not run here
        queued = f"convert_from(job, 'UTF8') LIKE '%{execution_id}%' AND status = 'queued'"  # SAQ's job is bytes
        assert await harness.count("saq_jobs", queued) == 1
