"""``packflow workflows signal ID NAME --payload JSON`` in a subprocess, on the test database (docs/http-api.md,
Signals): with the inline queue the woken execution runs in the command; an ended execution refuses (exit 1).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from packs.core.identity.accounts import IssuedToken
from tests.support.harness import Harness, auth, harness_for, make_settings
from tests.support.processes import cli_for, plain
from tests.support.workflow_http import EXECUTIONS, PACKS, show, started, wait_for

pytestmark = pytest.mark.processes  # every test here starts real processes (tests/test_markers.py)


@pytest.fixture
async def harness(database_url: str) -> object:
    async with harness_for(make_settings(database_url, packs=PACKS)) as built:
        yield built


async def test_the_signal_command_wakes_a_receive_and_refuses_an_ended_execution(
    harness: Harness, client: httpx.AsyncClient, database_url: str, fixture_packs: Path
) -> None:
    ada: IssuedToken = await harness.user("ada@example.com", "Acme")
    cli = cli_for(database_url, fixture_packs, PACKS)
    execution_id = await started(client, ada, "http_receive")
    await wait_for(client, ada, execution_id, {"halted"})

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
    ada: IssuedToken = await harness.user("ada@example.com", "Acme")
    cli = cli_for(database_url, fixture_packs, PACKS)
    execution_id = await started(client, ada, "http_receive")
    await wait_for(client, ada, execution_id, {"halted"})
    for name, problem in (("  ", "must not be empty or only whitespace"), ("paid\nlate", "control characters")):
        refused = await cli("workflows", "signal", execution_id, name)
        assert refused.returncode == 2, refused.stderr
        assert problem in plain(refused.stderr)
        assert "NAME" in plain(refused.stderr)
    assert (await show(client, ada, execution_id))["signals"] == []
