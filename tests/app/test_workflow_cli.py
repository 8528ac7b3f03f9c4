"""``litestar workflows run`` / ``resume`` / ``recover`` in a subprocess, on the test database, and the HTTP API.

A resume without the decision an approval waits for (from the CLI or over HTTP, at the top or one
sub-workflow down) is a usage error that changes nothing; the execution resumes properly later.
Executions run from the CLI with ``--workspace`` / ``--user`` (or the input's ids) belong to that
workspace: its token sees and resumes them over HTTP.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from packs.core.identity.accounts import IssuedToken
from packs.core.models import WorkflowEntry, WorkflowExecution
from packs.core.workflow.queue.worker import worker_name
from tests.support.harness import Harness, auth, harness_for, make_settings
from tests.support.processes import Cli, cli_for, plain
from tests.support.workers import add_held, make_user, runtime_of
from tests.support.workflow_http import EXECUTIONS, PACKS, started, wait_for

pytestmark = pytest.mark.processes  # every test here starts real processes (tests/test_markers.py)


@pytest.fixture
async def harness(database_url: str) -> Any:
    async with harness_for(make_settings(database_url, packs=PACKS)) as built:
        yield built


@pytest.fixture
def cli(database_url: str, fixture_packs: Path) -> Cli:
    return cli_for(database_url, fixture_packs, PACKS)


async def stored(harness: Harness, execution_id: str) -> tuple[Any, ...]:
    """What the database holds of an execution: its row (every column) and its entries."""
    executions, entries = WorkflowExecution.__table__, WorkflowEntry.__table__
    key = uuid.UUID(execution_id)
    async with harness.plugin.db.get_engine().connect() as connection:
        row = (await connection.execute(select(executions).where(executions.c.id == key))).one()
        logged = (await connection.execute(select(entries).where(entries.c.execution_id == key))).all()
    return (tuple(row), sorted(tuple(entry) for entry in logged))


def owner_flags(issued: IssuedToken) -> tuple[str, ...]:
    return ("--workspace", str(issued.workspace_id), "--user", str(issued.user_id))


async def test_a_resume_without_a_decision_is_a_usage_error_that_changes_nothing(
    harness: Harness, cli: Cli, client: httpx.AsyncClient
) -> None:
    issued = await harness.user()
    halted = await cli.ok("workflows", "run", "http_approve", *owner_flags(issued))
    assert halted["status"] == "halted"
    execution_id = halted["execution_id"]
    before = await stored(harness, execution_id)

    no_decision = await cli("workflows", "resume", execution_id)
    assert no_decision.returncode == 2, no_decision.stdout + no_decision.stderr
    assert "waits for an approval" in no_decision.stderr
    assert "--approve or --reject" in no_decision.stderr
    only_response = await cli("workflows", "resume", execution_id, "--response", '"sure"')
    assert only_response.returncode == 2
    both = await cli("workflows", "resume", execution_id, "--approve", "--reject")  # the last one won: rejected
    assert both.returncode == 2, both.stdout + both.stderr
    assert "give --approve or --reject, not both" in plain(both.stderr)
    recovered = await cli.ok("workflows", "recover", execution_id)
    assert recovered["status"] == "halted"
    over_http = await client.post(f"{EXECUTIONS}/{execution_id}/resume", json={}, headers=auth(issued))
    assert over_http.status_code == 422, over_http.text
    assert set(over_http.json()) == {"error", "details"}
    assert set(over_http.json()["details"]) == {"approved"}
    assert await stored(harness, execution_id) == before

    approved = await cli.ok("workflows", "resume", execution_id, "--approve")
    assert approved["status"] == "completed"
    assert approved["output"] == {"decision": "approved"}


async def test_an_approval_one_sub_workflow_down_needs_its_decision_too(
    harness: Harness, cli: Cli, client: httpx.AsyncClient
) -> None:
    issued = await harness.user()
    answer = await client.post(
        "/api/v1/workflows/http_nested_approve/executions", json={"mode": "sync"}, headers=auth(issued)
    )
    assert answer.status_code == 200, answer.text
    halted = answer.json()["data"]
    assert halted["status"] == "halted"
    assert halted["halt"]["data"]["child"]["type"] == "approval"
    execution_id = halted["id"]
    before = await stored(harness, execution_id)
    url = f"{EXECUTIONS}/{execution_id}/resume"

    response_only = await client.post(url, json={"response": "ok"}, headers=auth(issued))
    assert response_only.status_code == 422, response_only.text
    assert set(response_only.json()["details"]) == {"approved"}
    assert (await cli("workflows", "resume", execution_id)).returncode == 2
    assert await stored(harness, execution_id) == before

    rejected = await client.post(url, json={"approved": False}, headers=auth(issued))
    assert rejected.status_code == 202, rejected.text
    for _ in range(200):
        shown = (await client.get(f"{EXECUTIONS}/{execution_id}", headers=auth(issued))).json()["data"]
        if shown["status"] not in ("pending", "running"):
            break
        await asyncio.sleep(0.05)
    assert shown["status"] == "completed", shown
    assert shown["output"] == {"child": {"decision": "rejected"}}


async def test_a_cli_run_belongs_to_the_workspace_and_user_it_names(
    harness: Harness, cli: Cli, client: httpx.AsyncClient
) -> None:
    issued = await harness.user("ada@example.com", "Acme")
    stranger = await harness.user("eve@example.com", "Elsewhere")

    halted = await cli.ok("workflows", "run", "http_approve", "--workspace", "Acme", "--user", "Ada@Example.com")
    execution_id = halted["execution_id"]
    shown = await client.get(f"{EXECUTIONS}/{execution_id}", headers=auth(issued))
    assert shown.status_code == 200, shown.text
    assert shown.json()["data"]["workspace_id"] == str(issued.workspace_id)
    assert shown.json()["data"]["created_by_id"] == str(issued.user_id)
    assert (await client.get(f"{EXECUTIONS}/{execution_id}", headers=auth(stranger))).status_code == 404
    resumed = await client.post(f"{EXECUTIONS}/{execution_id}/resume", json={"approved": True}, headers=auth(issued))
    assert resumed.status_code == 202, resumed.text

    # Without options, the input's ids name the owner; a workflow declaring them gets them.
    ids = {"user_id": str(issued.user_id), "workspace_id": str(issued.workspace_id)}
    people = [{"first_name": f"P{i}", "last_name": "X"} for i in range(11)]
    bulk = await cli.ok("workflows", "run", "bulk_import", "--input", json.dumps({**ids, "contacts": people}))
    assert bulk["status"] == "halted"
    listed = await client.get(EXECUTIONS, params={"workflow_id": "bulk_import"}, headers=auth(issued))
    assert [row["id"] for row in listed.json()["data"]] == [bulk["execution_id"]]
    # A user of one workspace needs no --workspace.
    only_user = await cli.ok("workflows", "run", "http_echo", "--user", str(issued.user_id))
    assert (await client.get(f"{EXECUTIONS}/{only_user['execution_id']}", headers=auth(issued))).status_code == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--workspace", "Nowhere", "--user", "ada@example.com"), "no workspace named 'Nowhere'"),
        (("--workspace", "Acme", "--user", "nobody@example.com"), "no user with email 'nobody@example.com'"),
        (("--workspace", "Elsewhere", "--user", "ada@example.com"), "is not a member of workspace"),
        (("--workspace", "Acme"), "name the user who starts it too"),
        (("--user", "not an email"), "neither a user id nor an email"),
    ],
)
async def test_a_cli_run_naming_an_unknown_owner_or_a_non_member_is_a_usage_error(
    harness: Harness, cli: Cli, args: tuple[str, ...], message: str
) -> None:
    await harness.user("ada@example.com", "Acme")
    await harness.user("eve@example.com", "Elsewhere")
    ran = await cli("workflows", "run", "http_echo", *args)
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert message in " ".join(ran.stderr.split())
    assert await harness.count("workflow_executions") == 0


async def test_options_that_disagree_with_the_input_are_a_usage_error(harness: Harness, cli: Cli) -> None:
    issued = await harness.user("ada@example.com", "Acme")
    other = await harness.user("eve@example.com", "Elsewhere")
    given = json.dumps({"workspace_id": str(other.workspace_id)})
    ran = await cli("workflows", "run", "http_echo", *owner_flags(issued), "--input", given)
    assert ran.returncode == 2
    assert "input 'workspace_id'" in ran.stderr
    assert await harness.count("workflow_executions") == 0


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ('{"seconds": NaN}', "NaN is not JSON"),
        ('{"seconds": -Infinity}', "-Infinity is not JSON"),
        ('{"seconds": 1e999}', "1e999 is too large for a JSON number"),
    ],
)
async def test_cli_json_refuses_what_json_has_no_number_for(harness: Harness, cli: Cli, raw: str, problem: str) -> None:
    """Python's JSON reader takes them; the execution then kept ``null`` as its input, as no other door lets in."""
    issued = await harness.user("ada@example.com", "Acme")
    ran = await cli("workflows", "run", "http_wait", *owner_flags(issued), "--input", raw)
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert problem in plain(ran.stderr)
    assert await harness.count("workflow_executions") == 0


@pytest.mark.parametrize(
    ("command", "given", "message"),
    [
        ("run", {"text": "a\u0000b", "k\u0000": 1}, "text: must not contain NUL characters"),
        ("run", json.loads("[" * 70 + "]" * 70), "nested deeper than 64 levels"),
        ("resume", {"answer": "a\u0000b"}, "answer: must not contain NUL characters"),
    ],
)
async def test_cli_json_with_nul_characters_or_too_deep_is_a_usage_error(
    harness: Harness, cli: Cli, command: str, given: Any, message: str
) -> None:
    issued = await harness.user("ada@example.com", "Acme")
    if command == "run":
        ran = await cli("workflows", "run", "http_echo", *owner_flags(issued), "--input", json.dumps(given))
    else:
        ran = await cli("workflows", "resume", "00000000-0000-0000-0000-000000000001", "--response", json.dumps(given))
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert message in " ".join(ran.stderr.split())
    assert await harness.count("workflow_executions") == 0


async def test_show_numbers_every_entry_of_every_attempt_of_a_retried_step(
    harness: Harness, cli: Cli, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    issued = await harness.user()
    flag = tmp_path / "flag"
    execution_id = await started(client, issued, "http_retry", {"flag": str(flag)})
    await wait_for(client, issued, execution_id, {"halted"})  # the durable wait before attempt 2
    flag.write_text("here", encoding="utf-8")
    await wait_for(client, issued, execution_id, {"completed"}, within=30)
    shown = await cli.ok("workflows", "show", execution_id)
    checks = [(e["action"], e["attempt"]) for e in shown["entries"] if e["step_id"] == "check"]
    assert checks == [("started", 1), ("failed", 1), ("started", 2), ("completed", 2)]


async def test_run_with_an_execution_id_repeats_only_the_same_run(harness: Harness, cli: Cli) -> None:
    """``--execution-id`` is an idempotency key: it answers the same run again, never another workspace's
    execution, nor a run with another input (as a repeated ``Idempotency-Key`` over HTTP), and a repeat is not
    audited as another start."""
    ada = await harness.user()
    eve = await harness.user("eve@example.com", "Other")
    key = str(uuid.uuid4())
    first = await cli.ok(
        "workflows", "run", "http_echo", "--input", '{"value": "one"}', "--execution-id", key, *owner_flags(eve)
    )
    assert first["execution_id"] == key
    again = await cli.ok(
        "workflows", "run", "http_echo", "--input", '{"value": "one"}', "--execution-id", key, *owner_flags(eve)
    )
    assert (again["execution_id"], again["output"]) == (key, first["output"])

    elsewhere = await cli(
        "workflows", "run", "http_echo", "--input", '{"value": "one"}', "--execution-id", key, *owner_flags(ada)
    )
    assert elsewhere.returncode == 2, elsewhere.stdout + elsewhere.stderr
    assert "belongs to another workspace" in plain(elsewhere.stderr)
    assert "one" not in elsewhere.stdout  # nothing of Eve's execution is shown
    other_input = await cli(
        "workflows", "run", "http_echo", "--input", '{"value": "two"}', "--execution-id", key, *owner_flags(eve)
    )
    assert other_input.returncode == 2
    assert "exists with another input" in plain(other_input.stderr)
    not_a_uuid = await cli("workflows", "run", "http_echo", "--execution-id", "not-a-uuid", *owner_flags(eve))
    assert not_a_uuid.returncode == 2
    assert "must be a UUID, got 'not-a-uuid'" in plain(not_a_uuid.stderr)
    assert "Traceback" not in not_a_uuid.stderr
    assert await harness.count("audit_log", "action = 'start'") == 1


async def test_recover_refuses_an_execution_another_process_runs_unless_forced(harness: Harness, cli: Cli) -> None:
    """It claims the execution as a worker does: a live lease of another process means the execution is running
    there (recovering it ran its steps twice); a lease of a process of this machine that died is taken over."""
    app = harness.app
    user = await make_user(app)
    runtime = runtime_of(app)
    for owner in (worker_name(), "another-machine:4242:0123abcd"):  # alive here; elsewhere
        [execution_id] = await add_held(app, user, "http_echo", {"value": "once", **user})
        assert await runtime.store.claim(execution_id, owner, 300) is not None
        refused = await cli("workflows", "recover", execution_id)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert f"is being run by {owner} (its lease runs until " in plain(refused.stderr)
        assert "pass --force" in plain(refused.stderr)
        assert await runtime.store.entries(execution_id) == []  # nothing ran
        forced = await cli.ok("workflows", "recover", execution_id, "--force")
        assert forced["status"] == "completed", forced
        assert forced["output"]["input"]["value"] == "once"

    [execution_id] = await add_held(app, user, "http_echo", {"value": "orphan", **user})
    dead = f"{socket.gethostname()}:{dead_pid()}:0123abcd"
    assert await runtime.store.claim(execution_id, dead, 300) is not None
    recovered = await cli.ok("workflows", "recover", execution_id)  # its process died on this machine
    assert recovered["status"] == "completed"


def dead_pid() -> int:
    """The process id of a process that ran and exited."""
    finished = subprocess.Popen(["true"])
    finished.wait()
    return finished.pid
