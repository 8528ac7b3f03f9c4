"""The pack author's whole journey with the example external pack (examples/packflow-deals).

Its wheel is built and installed with pip, together with a wheel of this project, into a fresh
virtual environment; the pack is enabled through a settings file; ``packflow database upgrade``
(the console command, with no ``LITESTAR_APP``) applies its migration; a real ``packflow run``
serves its endpoints and runs its workflow; then it
is disabled and its endpoints are gone while the rest still works. The pack's own test suite runs
in that environment too, with nothing but ``packs.core.testing``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.processes import litestar_server
from tests.support.wheels import DISTRIBUTION, REPO, build_wheels, deployment_env, new_venv, packflow_wheel, pip

EXAMPLE = REPO / "examples" / "packflow-deals"


@dataclass(frozen=True)
class Environment:
    """A fresh virtual environment with Packflow and the deals pack installed from their wheels."""

    folder: Path
    example: Path
    """A copy of the example pack's source (its tests run from here)."""

    @property
    def python(self) -> str:
        return str(self.folder / "bin" / "python")

    @property
    def packflow(self) -> str:
        """The ``packflow`` console command the wheel installs."""
        return str(self.folder / "bin" / "packflow")

    def env(self, **settings: str) -> dict[str, str]:
        """The variables a deployment would have: no PACKFLOW_* from this test run, no PYTHONPATH, no LITESTAR_APP."""
        return deployment_env(**settings)

    def run(self, cwd: Path, *args: str, ok: bool = True, **settings: str) -> subprocess.CompletedProcess[str]:
        """``packflow ARGS`` of the environment in ``cwd`` (``pytest ...``: ``python -m pytest ...``)."""
        command = [self.python, "-m", *args] if args[0] == "pytest" else [self.packflow, *args]
        result = subprocess.run(command, cwd=cwd, env=self.env(**settings), capture_output=True, text=True, timeout=300)
        if ok:
            assert result.returncode == 0, result.stdout + result.stderr
        return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Environment:
    """Build both wheels from copies of the sources and install them into a new virtual environment."""
    root = tmp_path_factory.mktemp("external-pack")
    wheels = build_wheels(root, EXAMPLE)
    built = sorted(path.name for path in wheels.glob("*.whl"))
    assert [name.split("-")[0] for name in built] == ["packflow_deals", "packflow_platform"], built
    python = new_venv(root / "venv")
    deals_wheel = next(wheels.glob("packflow_deals-*.whl"))
    pip(python, "install", "--find-links", str(wheels), str(packflow_wheel(wheels)), f"{deals_wheel}[test]", cwd=root)
    return Environment(root / "venv", root / EXAMPLE.name)


def settings_file(folder: Path, database_url: str, packs: list[str]) -> None:
    (folder / "packflow.toml").write_text(
        "[packflow]\n"
        f"packs = {json.dumps(packs)}\n"
        f'database_url = "{database_url}"\n'
        "\n[packs.deals]\n"
        'currency = "EUR"\n'
        "approval_threshold = 5000\n",
        encoding="utf-8",
    )


async def _scalar(url: str, sql: str) -> Any:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return (await connection.execute(text(sql))).scalar()
    finally:
        await engine.dispose()


def scalar(url: str, sql: str) -> Any:
    return asyncio.run(_scalar(url, sql))


def packs_list(installed: Environment, cwd: Path) -> dict[str, dict[str, Any]]:
    rows = json.loads(installed.run(cwd, "packs", "list", "--json").stdout)
    return {row["name"]: row for row in rows}


def wait_for_status(client: httpx.Client, execution_id: str, wanted: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        execution: dict[str, Any] = client.get(f"/api/v1/workflows/executions/{execution_id}").json()["data"]
        if execution["status"] == wanted or time.monotonic() > deadline:
            return execution
        time.sleep(0.1)


@pytest.mark.processes
def test_the_installed_pack_is_listed_with_its_version_and_what_it_registers(
    installed: Environment, tmp_path: Path
) -> None:
    settings_file(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'list.db'}", ["contacts_service", "deals"])
    listed = packs_list(installed, tmp_path)
    assert (listed["core"]["distribution"], listed["contacts_service"]["distribution"]) == (DISTRIBUTION, DISTRIBUTION)
    deals = listed["deals"]
    assert (deals["enabled"], deals["version"], deals["distribution"]) == (True, "0.1.0", "packflow-deals")
    assert deals["module"] == "packflow_deals.hooks"
    registers = deals["registers"]
    assert registers["schemas"] == ["deal"]
    assert registers["features"] == ["workspaces/deals (Index, Create, Show, Pipeline, Move)"]
    assert registers["step_types"] == ["money"]
    assert registers["services"] == ["deals.review"]
    assert registers["settings"] == ["currency", "approval_threshold"]
    assert [Path(folder).name for folder in registers["migrations"]] == ["migrations"]
    assert [Path(path).name for path in registers["workflows"]] == ["workflows"]
    text_listing = installed.run(tmp_path, "packs", "list").stdout
    assert "deals 0.1.0 (enabled) - packflow_deals.hooks from packflow-deals" in text_listing


@pytest.mark.processes
def test_enable_upgrade_serve_run_the_workflow_then_disable(
    installed: Environment, fresh_database: str, tmp_path: Path
) -> None:
    database = fresh_database
    settings_file(tmp_path, database, ["contacts_service", "deals"])
    installed.run(tmp_path, "database", "upgrade", "--no-prompt")
    assert scalar(database, "SELECT version_num FROM alembic_version_deals") == "deals_0001"
    assert scalar(database, "SELECT count(*) FROM deals_stage_changes") == 0
    created = installed.run(tmp_path, "users", "create", "--email", "ada@example.com", "--workspace", "A")
    token = json.loads(created.stdout.strip().splitlines()[-1])["token"]
    headers = {"Authorization": f"Bearer {token}"}
    command = [installed.packflow]

    with (
        litestar_server(installed.env(), tmp_path / "enabled.log", command=command, cwd=tmp_path) as base,
        httpx.Client(base_url=base, headers=headers, timeout=30) as client,
    ):
        deal = client.post("/api/v1/workspaces/deals", json={"deal": {"name": "Engines", "amount": 1200}})
        assert deal.status_code == 201, deal.text
        assert deal.json()["meta"]["amount"] == "EUR 1,200"  # the pack's settings, from the settings file
        deal_id = deal.json()["data"]["id"]
        moved = client.post(f"/api/v1/workspaces/deals/{deal_id}/move", json={"stage": "won"})
        assert moved.status_code == 200, moved.text
        assert client.get(f"/api/v1/workspaces/deals/{deal_id}").json()["meta"]["history"][0]["to"] == "won"
        big = client.post("/api/v1/workspaces/deals", json={"deal": {"name": "Fleet", "amount": 3_000_000_000}})
        assert big.status_code == 201, big.text  # past a 32-bit integer: PostgreSQL's pipeline sum once failed on it
        pipeline = client.get("/api/v1/workspaces/deals/pipeline").json()["data"]
        assert pipeline["won"] == {"count": 1, "amount": 1200, "label": "EUR 1,200"}
        assert pipeline["open"] == {"count": 1, "amount": 3_000_000_000, "label": "EUR 3,000,000,000"}
        assert client.post("/api/v1/workspaces/deals", json={"deal": {"amount": "lots"}}).status_code == 422
        assert "/api/v1/workspaces/deals/{id}/move" in client.get("/schema/openapi.json").json()["paths"]

        small = client.post(
            "/api/v1/workflows/open_deal/executions",
            json={
                "mode": "sync",
                "input": {"contact": {"first_name": "Ada", "last_name": "L"}, "deal": {"name": "S", "amount": 900}},
            },
        )
        assert small.status_code == 200, small.text
        assert small.json()["data"]["status"] == "completed"
        assert small.json()["data"]["output"]["amount"] == "EUR 900"
        large = client.post(
            "/api/v1/workflows/open_deal/executions",
            json={"input": {"contact": {"first_name": "Bo", "last_name": "B"}, "deal": {"name": "L", "amount": 6000}}},
        )
        assert large.status_code == 202, large.text
        execution_id = large.json()["data"]["id"]
        assert wait_for_status(client, execution_id, "halted")["halt"]["data"]["context"]["threshold"] == 5000
        assert client.post(f"/api/v1/workflows/executions/{execution_id}/resume", json={"approved": True}).is_success
        finished = wait_for_status(client, execution_id, "completed")
        assert finished["status"] == "completed", finished
        assert finished["output"]["amount"] == "EUR 6,000"
        assert client.get("/api/v1/workspaces/deals").json()["meta"]["total"] == 4  # with the Fleet deal
        assert client.get("/api/v1/workspaces/contacts").json()["meta"]["total"] == 2
    assert scalar(database, "SELECT count(*) FROM deals_stage_changes") == 1

    settings_file(tmp_path, database, ["contacts_service"])  # disabled; its section is left in the file
    installed.run(tmp_path, "database", "upgrade", "--no-prompt")
    assert packs_list(installed, tmp_path)["deals"]["enabled"] is False
    with (
        litestar_server(installed.env(), tmp_path / "disabled.log", command=command, cwd=tmp_path) as base,
        httpx.Client(base_url=base, headers=headers, timeout=30) as client,
    ):
        gone = client.get("/api/v1/workspaces/deals")
        assert gone.status_code == 404
        assert gone.json() == {"error": "no feature workspaces/deals"}
        assert client.post(f"/api/v1/workspaces/deals/{deal_id}/move", json={"stage": "lost"}).status_code == 404
        assert "open_deal" not in [workflow["id"] for workflow in client.get("/api/v1/workflows").json()["data"]]
        assert client.get("/api/v1/workspaces/contacts").json()["meta"]["total"] == 2
        added = client.post("/api/v1/workspaces/contacts", json={"contact": {"first_name": "C", "last_name": "D"}})
        assert added.status_code == 201
        assert "/api/v1/workspaces/deals" not in client.get("/schema/openapi.json").json()["paths"]
    assert scalar(database, "SELECT count(*) FROM deals_stage_changes") == 1  # its table stays


@pytest.mark.processes
def test_the_example_packs_own_suite_passes_with_packs_core_testing(installed: Environment) -> None:
    result = installed.run(installed.example, "pytest", "-q", "-p", "no:cacheprovider", ok=False)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary
    assert "failed" not in summary
    assert "skipped" not in summary


def test_the_example_pack_imports_only_from_packs_core() -> None:
    """A third-party pack needs nothing of Packflow's but ``packs.core`` (and its own modules)."""
    sources = [*(EXAMPLE / "src").rglob("*.py"), *(EXAMPLE / "tests").rglob("*.py")]
    imported = set()
    for source in sources:
        for line in source.read_text(encoding="utf-8").splitlines():
            words = line.split()
            if len(words) >= 2 and words[0] in ("import", "from") and words[1].split(".")[0] in ("app", "packs"):
                imported.add(words[1])
    assert imported
    assert all(name == "packs.core" or name.startswith("packs.core.") for name in imported), imported
