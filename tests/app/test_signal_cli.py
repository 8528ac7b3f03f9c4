"""``packflow workflows signal ID NAME --payload JSON`` in a subprocess, on the test database (docs/http-api.md,
Signals): with the inline queue the woken execution runs in the command; an ended execution refuses (exit 1).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import httpx
import pytest

from packs.core.identity.accounts import IssuedToken
from tests.support.harness import Harness, auth, harness_for, make_settings
from tests.support.processes import REPO, environment
from tests.support.workflow_http import EXECUTIONS, PACKS, show, started, wait_for

pytestmark = pytest.mark.processes  # every test here starts real processes (tests/test_markers.py)


@pytest.fixture
async def harness(database_url: str) -> object:
    async with harness_for(make_settings(database_url, packs=PACKS)) as built:
        yield built


async def cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "litestar",
        *args,
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_signal_command_wakes_a_receive_and_refuses_an_ended_execution(
    harness: Harness, client: httpx.AsyncClient, database_url: str, fixture_packs: Path
) -> None:
    ada: IssuedToken = await harness.user("ada@example.com", "Acme")
    env = environment(
        database_url,
        PACKFLOW_PACKS=",".join(PACKS),
        PACKFLOW_AUTO_MIGRATE="false",
        PYTHONPATH=os.pathsep.join([str(fixture_packs), str(REPO)]),
    )
    execution_id = await started(client, ada, "http_receive")
    await wait_for(client, ada, execution_id, {"halted"})

    code, out, err = await cli(env, "workflows", "signal", execution_id, "payment_received", "--payload", '{"n": 5}')
    assert code == 0, out + err
    sent = json.loads(out.strip().splitlines()[-1])
    assert (sent["repeated"], sent["woke"]) == (False, True)
    assert sent["signal"]["payload"] == {"n": 5}
    assert sent["result"]["status"] == "completed"
    assert sent["result"]["output"] == {"payment": {"n": 5}}
    assert (await show(client, ada, execution_id))["status"] == "completed"

    code, out, err = await cli(env, "workflows", "signal", execution_id, "payment_received")
    assert code == 1
    assert "is completed" in err
    code, _, err = await cli(env, "workflows", "signal", execution_id, "payment_received", "--payload", "{oops")
    assert code == 2
    assert "--payload" in err
    response = await client.get(f"{EXECUTIONS}/{execution_id}", headers=auth(ada))
    assert [s["payload"] for s in response.json()["data"]["signals"]] == [{"n": 5}]
