"""The operator commands and the app served by a real server, as a newcomer uses them (README)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.migrations import CORE_HEAD
from tests.support.processes import REPO, environment, free_port, last_json_line, litestar, litestar_server, plain

pytestmark = pytest.mark.processes  # every test here starts real processes (tests/test_markers.py)


@pytest.fixture
def server(fresh_database: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """``litestar run`` on a free port against a fresh database (migrated on startup)."""
    env = environment(fresh_database)
    with litestar_server(env, tmp_path / "server.log") as base:
        yield base, env


def test_newcomer_flow_against_a_real_server(server: tuple[str, dict[str, str]]) -> None:
    base, env = server
    created = last_json_line(
        litestar(env, "users", "create", "--email", "Ada@Example.com", "--workspace", "Acme").stdout
    )
    assert set(created) == {"user_id", "workspace_id", "token"}
    headers = {"Authorization": f"Bearer {created['token']}"}
    url = f"{base}/api/v1/workspaces/contacts"

    response = httpx.post(url, json={"contact": {"first_name": "Ada", "last_name": "Lovelace"}}, headers=headers)
    assert response.status_code == 201, response.text
    item = response.json()["data"]
    assert item["workspace_id"] == created["workspace_id"]
    assert httpx.get(url, headers=headers).json()["meta"]["total"] == 1
    assert httpx.get(f"{url}/{item['id']}", headers=headers).status_code == 200

    again = last_json_line(litestar(env, "users", "create", "--email", "ada@example.com", "--workspace", "Acme").stdout)
    assert (again["user_id"], again["workspace_id"]) == (created["user_id"], created["workspace_id"])
    assert again["token"] != created["token"]
    extra = last_json_line(litestar(env, "tokens", "create", "--email", "ada@example.com").stdout)
    assert extra["user_id"] == created["user_id"]
    for token in (created["token"], again["token"], extra["token"]):
        assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200

    revoked = last_json_line(litestar(env, "tokens", "revoke", created["token"]).stdout)
    assert revoked == {"revoked": True, "user_id": created["user_id"]}
    assert httpx.get(url, headers=headers).status_code == 401
    assert httpx.get(url, headers={"Authorization": f"Bearer {extra['token']}"}).status_code == 200


@pytest.mark.parametrize("auto_migrate", ["true", "false"])
def test_a_database_that_does_not_answer_is_one_line_not_a_traceback(tmp_path: Path, auto_migrate: str) -> None:
    """No server on the port, no such PostgreSQL database, an SQLite file in a folder that does not exist: each
    printed the driver's traceback."""
    closed_port = free_port()  # nothing listens on it once the probe socket closed
    unreachable = {
        f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port}/packflow": "ConnectionRefusedError",
        f"sqlite+aiosqlite:///{tmp_path / 'no' / 'such' / 'folder.db'}": "(does the SQLite file's folder exist?)",
    }
    for url, words in unreachable.items():
        env = environment(url, PACKFLOW_AUTO_MIGRATE=auto_migrate)
        answer = litestar(env, "users", "create", "--email", "ada@example.com", "--workspace", "Acme", ok=False)
        assert answer.returncode == 1, answer.stdout + answer.stderr
        if url.startswith("postgresql"):
            # On SQLite, aiosqlite's worker thread may still answer after the command's event loop closed and print
            # its own thread traceback after the message (a race in aiosqlite).
            assert "Traceback" not in answer.stderr, answer.stderr
        assert "cannot reach the database" in plain(answer.stderr)
        assert words in plain(answer.stderr)
        # The server too, before it starts: its startup's failure was a page of tracebacks and exit 3.
        served = litestar(env, "run", "--port", str(free_port()), ok=False)
        assert served.returncode == 1, served.stdout + served.stderr
        assert "cannot reach the database" in plain(served.stderr)
        assert "Traceback" not in served.stdout + served.stderr or url.startswith("sqlite")


def test_a_database_behind_the_code_without_auto_migrate_is_one_line_saying_what_to_run(tmp_path: Path) -> None:
    """With ``PACKFLOW_AUTO_MIGRATE=false`` a new database printed SQLAlchemy's traceback on every command, and
    the server started and answered 500 to every request."""
    env = environment(f"sqlite+aiosqlite:///{tmp_path / 'new.db'}", PACKFLOW_AUTO_MIGRATE="false")
    advice = "has no tables of Packflow's yet; this version needs "
    create = ("users", "create", "--email", "ada@example.com", "--workspace", "Acme")
    refused = litestar(env, *create, ok=False)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert advice in plain(refused.stderr)
    assert "'packflow database upgrade --no-prompt', or leave PACKFLOW_AUTO_MIGRATE on" in plain(refused.stderr)
    served = litestar(env, "run", "--port", str(free_port()), ok=False)
    assert served.returncode == 1, served.stdout + served.stderr
    assert advice in plain(served.stderr)
    litestar(env, "database", "upgrade", "--no-prompt")
    assert "token" in last_json_line(litestar(env, *create).stdout)


def test_operator_command_errors_exit_non_zero(tmp_path: Path) -> None:
    env = environment(f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    unknown = litestar(env, "tokens", "create", "--email", "ghost@example.com", ok=False)
    assert unknown.returncode == 1
    assert "no user with email 'ghost@example.com': create one with 'packflow users create'" in plain(unknown.stderr)
    bad_email = litestar(env, "users", "create", "--email", "nope", "--workspace", "Acme", ok=False)
    assert bad_email.returncode == 1
    assert "is not an email address" in bad_email.stderr
    bad_token = litestar(env, "tokens", "revoke", "pf_nothing", ok=False)
    assert bad_token.returncode == 1
    assert "no such token" in bad_token.stderr


@pytest.mark.parametrize("echo", ["true", "false"])
def test_echo_sql_logs_each_statement_once(tmp_path: Path, echo: str) -> None:
    """With the engine's own ``echo`` SQLAlchemy added a handler of its own: every statement came out twice."""
    env = environment(f"sqlite+aiosqlite:///{tmp_path / 'echo.db'}", PACKFLOW_ECHO_SQL=echo)
    created = litestar(env, "users", "create", "--email", "echo@example.com", "--workspace", "Acme")
    logged = (created.stdout + created.stderr).count("INSERT INTO users")
    assert logged == (1 if echo == "true" else 0), created.stdout + created.stderr


def test_database_upgrade_command_migrates_a_fresh_database(fresh_database: str) -> None:
    env = environment(fresh_database, PACKFLOW_AUTO_MIGRATE="false")
    litestar(env, "database", "upgrade", "--no-prompt")
    current = litestar(env, "database", "show-current-revision")
    assert CORE_HEAD in current.stdout + current.stderr
    created = last_json_line(litestar(env, "users", "create", "--email", "b@example.com", "--workspace", "B").stdout)
    assert created["token"].startswith("pf_")


def test_packs_list_shows_every_installed_pack(tmp_path: Path) -> None:
    env = environment(f"sqlite+aiosqlite:///{tmp_path / 'packs.db'}", PACKFLOW_PACKS="")
    text = litestar(env, "packs", "list").stdout
    assert "core 0.1.0 (enabled) - packs.core.hooks from packflow-platform" in text
    assert "contacts_service 0.1.0 (disabled)" in text
    assert "features: workspaces/contacts (Index, Show, Create, Update, Destroy)" in text
    rows = {row["name"]: row for row in json.loads(litestar(env, "packs", "list", "--json").stdout)}
    assert rows["contacts_service"]["enabled"] is False
    assert rows["contacts_service"]["registers"]["schemas"] == ["contact"]
    assert rows["core"]["registers"]["routes"] == [
        "ResourcesController",
        "WorkflowsController",
        "ApprovalsController",
        "SchedulesController",
        "SignalsController",
        "AuditController",
        "MeController",
    ]
    enabled = json.loads(litestar(environment(env["PACKFLOW_DATABASE_URL"]), "packs", "list", "--json").stdout)
    assert {row["name"]: row["enabled"] for row in enabled}["contacts_service"] is True


def test_enabling_a_missing_pack_stops_startup_with_the_installed_list(tmp_path: Path) -> None:
    env = environment(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", PACKFLOW_PACKS="contacts_service,crm")
    result = litestar(env, "packs", "list", ok=False)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert (
        "'crm' is enabled (PACKFLOW_PACKS or the settings file's [packflow] packs) but not installed; "
        "installed packs: contacts_service, core" in plain(result.stderr)
    )


def test_workflow_run_creates_a_contact_visible_through_the_http_api(server: tuple[str, dict[str, str]]) -> None:
    base, env = server
    created = last_json_line(
        litestar(env, "users", "create", "--email", "wf@example.com", "--workspace", "Flows").stdout
    )
    payload = {
        "user_id": created["user_id"],
        "workspace_id": created["workspace_id"],
        "contact_data": {"first_name": "Grace", "last_name": "Hopper"},
    }
    result = last_json_line(litestar(env, "workflows", "run", "create_contact", "--input", json.dumps(payload)).stdout)
    assert result["status"] == "completed"
    contact_id = result["output"]["data"]["id"]
    response = httpx.get(
        f"{base}/api/v1/workspaces/contacts/{contact_id}", headers={"Authorization": f"Bearer {created['token']}"}
    )
    assert response.status_code == 200
    assert response.json()["data"]["data"]["first_name"] == "Grace"

    shown = json.loads(litestar(env, "workflows", "show", result["execution_id"]).stdout)
    assert shown["execution"]["status"] == "completed"
    assert [(e["step_id"], e["action"]) for e in shown["entries"]] == [
        ("start", "started"),
        ("start", "completed"),
        ("create_contact", "started"),
        ("create_contact", "completed"),
        ("done", "started"),
        ("done", "completed"),
    ]


def test_workflow_commands_list_validate_run_resume(tmp_path: Path) -> None:
    env = environment(f"sqlite+aiosqlite:///{tmp_path / 'wf.db'}")
    listed = json.loads(litestar(env, "workflows", "list", "--json").stdout)
    assert [row["id"] for row in listed] == ["bulk_import", "create_contact"]
    assert listed[1]["pack"] == "contacts_service"
    assert "create_contact 1.0 - Create contact (pack contacts_service" in litestar(env, "workflows", "list").stdout

    ok = litestar(env, "workflows", "validate", str(REPO / "packs/contacts_service/workflows"))
    assert "create_contact.yml: ok (create_contact)" in ok.stdout
    bad = litestar(env, "workflows", "validate", str(REPO / "tests/fixture_packs/workflows/bad"), ok=False)
    assert bad.returncode == 1
    assert "broken.yml: invalid" in bad.stdout
    assert "unknown step type 'teleport'" in bad.stdout
    assert "unknown service 'somewhere.else.Tool'" in bad.stdout

    user = last_json_line(litestar(env, "users", "create", "--email", "bulk@example.com", "--workspace", "Bulk").stdout)
    people = [{"first_name": f"P{i}", "last_name": "X"} for i in range(11)]
    base_input = {"user_id": user["user_id"], "workspace_id": user["workspace_id"]}
    halted = last_json_line(
        litestar(
            env, "workflows", "run", "bulk_import", "--input", json.dumps({**base_input, "contacts": people})
        ).stdout
    )
    assert halted["status"] == "halted"
    assert halted["halt"]["data"]["prompt"] == "Import 11 contacts?"
    approved = last_json_line(litestar(env, "workflows", "resume", halted["execution_id"], "--approve").stdout)
    assert approved["status"] == "completed"
    assert len(approved["output"]["created_ids"]) == 11
    again = litestar(env, "workflows", "resume", halted["execution_id"], "--approve", ok=False)
    assert again.returncode == 1
    assert "only a halted execution can resume" in again.stderr

    second = last_json_line(
        litestar(
            env, "workflows", "run", "bulk_import", "--input", json.dumps({**base_input, "contacts": people})
        ).stdout
    )
    rejected = last_json_line(litestar(env, "workflows", "resume", second["execution_id"], "--reject").stdout)
    assert rejected["output"]["status"] == "rejected"

    failed = litestar(env, "workflows", "run", "create_contact", "--input", json.dumps(base_input), ok=False)
    assert failed.returncode == 1
    assert last_json_line(failed.stdout)["error"] == "StepValueError: invalid input: input 'contact_data' is required"
    unknown = litestar(env, "workflows", "run", "nope", ok=False)
    assert unknown.returncode == 2
    assert "no workflow 'nope' (see 'packflow workflows list')" in plain(unknown.stderr)
    bad_json = litestar(env, "workflows", "run", "create_contact", "--input", "{not json", ok=False)
    assert bad_json.returncode == 2
