"""The audit log records what operators do from the command line: a ``workflows run`` of a workspace's execution
and a ``workflows resume --approve`` (by no user, from ``cli``), as ``GET /api/v1/workflows/audit`` shows them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.support.databases import migrate
from tests.support.processes import environment, last_json_line, litestar

pytestmark = pytest.mark.processes  # runs the packflow commands (tests/test_markers.py)


def test_cli_starts_and_decisions_are_audited(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    migrate(url)
    env = environment(url)
    account = litestar(env, "users", "create", "--email", "ada@example.com", "--workspace", "Acme")
    created = last_json_line(account.stdout)
    contacts = [{"first_name": f"P{i}", "last_name": "Imported"} for i in range(11)]
    ran = litestar(
        env,
        "workflows",
        "run",
        "bulk_import",
        "--input",
        json.dumps({"contacts": contacts}),
        "--workspace",
        "Acme",
        "--user",
        "ada@example.com",
    )
    execution_id = last_json_line(ran.stdout)["execution_id"]
    litestar(env, "workflows", "resume", execution_id, "--approve", "--comment", "ok")
    with sqlite3.connect(tmp_path / "cli.db") as db:
        rows = db.execute(
            "SELECT action, source, target_id, actor_id, details FROM audit_log ORDER BY created_at"
        ).fetchall()
    assert [(action, source, target) for action, source, target, *_ in rows] == [
        ("start", "cli", execution_id),
        ("approve", "cli", execution_id),
    ]
    assert rows[0][3] is not None  # the user named by --user started it
    assert rows[1][3] is None  # an operator's decision: no user
    # The decision's details, as an API decision records them: its comment, that it settled the approval, the step.
    assert json.loads(rows[1][4]) == {"comment": "ok", "settled": True, "step_id": "approve"}
    assert created["workspace_id"]
