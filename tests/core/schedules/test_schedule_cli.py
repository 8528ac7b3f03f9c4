"""``packflow workflows schedules list|create|pause|resume|delete|trigger`` as operators run them (README,
Operator commands), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.support.processes import environment, last_json_line, litestar

pytestmark = pytest.mark.processes  # every test here starts real processes (tests/test_markers.py)

CONTACT = json.dumps({"contact_data": {"first_name": "Ada", "last_name": "Lovelace"}})


def test_operators_manage_schedules_from_the_command_line(fresh_database: str) -> None:
    env = environment(fresh_database)
    user = last_json_line(litestar(env, "users", "create", "--email", "ada@example.com", "--workspace", "Acme").stdout)
    args = ["--user", "ada@example.com", "--cron", "0 2 * * *", "--timezone", "Europe/Paris", "--input", CONTACT]
    created = last_json_line(litestar(env, "workflows", "schedules", "create", "create_contact", *args).stdout)
    assert created["workspace_id"] == user["workspace_id"]
    assert created["created_by_id"] == user["user_id"]
    assert (created["cron"], created["timezone"], created["overlap"], created["paused"]) == (
        "0 2 * * *",
        "Europe/Paris",
        "skip",
        False,
    )
    assert len(created["next_runs"]) == 5
    assert all(run.split("T")[1].startswith("02:00:00") for run in created["next_runs"])
    schedule = created["id"]

    listed = litestar(env, "workflows", "schedules", "list", "--workspace", "Acme").stdout.strip().splitlines()
    assert [json.loads(line)["id"] for line in listed] == [schedule]
    paused = last_json_line(litestar(env, "workflows", "schedules", "pause", schedule).stdout)
    assert paused["paused"] is True
    assert paused["next_runs"] == []
    resumed = last_json_line(litestar(env, "workflows", "schedules", "resume", schedule).stdout)
    assert resumed["paused"] is False
    assert len(resumed["next_runs"]) == 5
    run = last_json_line(litestar(env, "workflows", "schedules", "trigger", schedule).stdout)
    assert run["schedule_id"] == schedule
    assert run["workflow_id"] == "create_contact"
    assert run["created_by_id"] == user["user_id"]

    bad = litestar(
        env,
        "workflows",
        "schedules",
        "create",
        "create_contact",
        "--user",
        "ada@example.com",
        "--cron",
        "0 2 * *",
        ok=False,
    )
    assert bad.returncode == 1
    assert "cron '0 2 * *' has 4 field(s)" in bad.stderr
    zone = litestar(
        env,
        "workflows",
        "schedules",
        "create",
        "create_contact",
        "--user",
        "ada@example.com",
        "--every",
        "60",
        "--timezone",
        "Mars/Base",
        ok=False,
    )
    assert zone.returncode == 1
    assert "unknown timezone 'Mars/Base'" in zone.stderr
    unknown = litestar(env, "workflows", "schedules", "pause", str(uuid.uuid4()), ok=False)
    assert unknown.returncode == 1
    assert "no schedule" in unknown.stderr

    deleted = last_json_line(litestar(env, "workflows", "schedules", "delete", schedule).stdout)
    assert deleted == {"deleted": schedule}
    assert litestar(env, "workflows", "schedules", "list", "--workspace", "Acme").stdout.strip() == ""
