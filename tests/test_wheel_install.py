"""What a Python user gets from ``pip install`` of the built wheel, in a fresh virtual environment with plain
pytest and no pytest-asyncio (README.md, "The two commands" and "Testing a pack").

- Packflow's pytest plugin (``pytest11``) does not break an unrelated project's suite; its fixtures
  that need pytest-asyncio say what to install when a test uses them.
- The ``packflow`` console command works from an empty folder with no ``LITESTAR_APP``: it creates
  a user, serves the app, and a contact is created over HTTP.
"""

from __future__ import annotations

import json
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.processes import litestar_server
from tests.support.wheels import build_wheels, deployment_env, new_venv, packflow_wheel, pip

pytestmark = pytest.mark.processes  # every test here starts real processes (tests/test_markers.py)


@dataclass(frozen=True)
class PlainVenv:
    """A new virtual environment with the Packflow wheel and pytest, and nothing else added."""

    folder: Path

    def run(self, program: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        """``bin/PROGRAM ARGS`` in ``cwd``, with a deployment's environment (no LITESTAR_APP, no PACKFLOW_*)."""
        return subprocess.run(
            [str(self.folder / "bin" / program), *args],
            cwd=cwd,
            env=deployment_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Packflow's wheel, built from a copy of the sources."""
    return packflow_wheel(build_wheels(tmp_path_factory.mktemp("wheel-build")))


@pytest.fixture(scope="module")
def plain_venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> PlainVenv:
    """Packflow's wheel and pytest (without pytest-asyncio) installed into a new virtual environment."""
    root = tmp_path_factory.mktemp("wheel-install")
    python = new_venv(root / "venv")
    pip(python, "install", str(wheel), "pytest>=8.0", cwd=root)
    venv = PlainVenv(root / "venv")
    missing = venv.run("python", "-c", "import pytest_asyncio", cwd=root)
    assert missing.returncode != 0, "pytest-asyncio must not be installed in this environment"
    return venv


def test_the_wheel_ships_the_type_markers_and_the_license(wheel: Path) -> None:
    """``py.typed`` (PEP 561) makes mypy use the hints of an installed ``packs.core`` in a pack's own
    project; the MIT license of ``pyproject.toml`` travels with the wheel."""
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert {"app/py.typed", "packs/py.typed"} <= names
    licenses = [name for name in names if name.endswith(".dist-info/licenses/LICENSE")]
    assert len(licenses) == 1, sorted(name for name in names if ".dist-info/" in name)
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read(licenses[0]).decode().startswith("MIT License")
        metadata = archive.read(licenses[0].replace("licenses/LICENSE", "METADATA")).decode()
    assert "License-Expression: MIT" in metadata


def test_the_wheel_ships_the_consoles_templates_and_assets(wheel: Path) -> None:
    """The console needs no internet access: its templates, CSS, JavaScript (htmx and its licence) are in the
    wheel (README, "The operations console")."""
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    console = "packs/core/console"
    assert {f"{console}/templates/base.html", f"{console}/templates/executions.html"} <= names
    assert {f"{console}/static/htmx.min.js", f"{console}/static/htmx.LICENSE", f"{console}/static/console.css"} <= names
    assert f"{console}/static/console.js" in names


def test_an_unrelated_suite_passes_with_packflow_installed(plain_venv: PlainVenv, tmp_path: Path) -> None:
    (tmp_path / "test_arithmetic.py").write_text("def test_adds():\n    assert 1 + 1 == 2\n", encoding="utf-8")
    result = plain_venv.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("1 passed")
    plugins = plain_venv.run("python", "-m", "pytest", "--trace-config", "-q", "--co", cwd=tmp_path)
    assert "packs.core.testing" in plugins.stdout  # the plugin was loaded, not skipped


def test_a_fixture_that_needs_pytest_asyncio_says_what_to_install(plain_venv: PlainVenv, tmp_path: Path) -> None:
    (tmp_path / "test_uses_app.py").write_text("def test_app(packflow_client):\n    pass\n", encoding="utf-8")
    result = plain_venv.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "the Packflow fixture 'packflow_client' needs pytest-asyncio" in result.stdout
    assert "pip install 'packflow-platform[test]'" in result.stdout


def test_packflow_serves_from_an_empty_folder_and_creates_a_contact(plain_venv: PlainVenv, tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    created = plain_venv.run(
        "packflow", "users", "create", "--email", "ada@example.com", "--workspace", "A", cwd=folder
    )
    assert created.returncode == 0, created.stdout + created.stderr
    assert "alembic" not in created.stdout + created.stderr  # migrations are quiet without --verbose
    token = json.loads(created.stdout.strip().splitlines()[-1])["token"]

    command = [str(plain_venv.folder / "bin" / "packflow")]
    with (
        litestar_server(deployment_env(), tmp_path / "server.log", command=command, cwd=folder) as base,
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client,
    ):
        contact = client.post("/api/v1/workspaces/contacts", json={"contact": {"first_name": "Ada", "last_name": "L"}})
        assert contact.status_code == 201, contact.text
        assert client.get("/api/v1/workspaces/contacts").json()["meta"]["total"] == 1
        me = client.get("/api/v1/me").json()["data"]
        assert [workspace["name"] for workspace in me["workspaces"]] == ["A"]
    assert sorted(path.name for path in folder.iterdir() if not path.name.startswith("packflow.db")) == []
