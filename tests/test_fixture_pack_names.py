"""The suite does not depend on what else is installed: packs of another distribution named like the fixture
packs without their prefix (``notes``, ``probe``, ...) change nothing for the tests (tests/fixture_packs)."""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.packs import installed_packs, load_packs
from tests.fixture_packs.install import FIXTURE_PACKS, PREFIX
from tests.support.databases import BACKENDS
from tests.support.migrations import CORE_HEAD, fresh_url, state, upgrade

FOREIGN = "someone-elses-packs"


@pytest.fixture
def foreign_packs(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A distribution, last on ``sys.path``, declaring a pack for each fixture name without its prefix; each
    names a module that does not exist (loading one would fail). Removed afterwards."""
    folder = tmp_path / "foreign-site"
    dist_info = folder / "someone_elses_packs-9.9.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {FOREIGN}\nVersion: 9.9\n", encoding="utf-8")
    names = {name: name.removeprefix(PREFIX) for name in FIXTURE_PACKS if name.startswith(PREFIX)}
    lines = ["[packflow.packs]", *(f"{bare} = someone_elses.{bare}" for bare in names.values())]
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    sys.path.append(str(folder))
    importlib.invalidate_caches()
    try:
        yield names
    finally:
        sys.path.remove(str(folder))
        importlib.invalidate_caches()


def test_every_fixture_pack_is_still_the_fixtures_own(foreign_packs: dict[str, str]) -> None:
    installed = installed_packs()
    assert "notes" in foreign_packs.values()
    for name, bare in foreign_packs.items():
        assert installed[bare].distribution == FOREIGN
        assert installed[name].distribution == "packflow-fixture-packs"
    loaded = load_packs(("contacts_service", f"{PREFIX}probe", f"{PREFIX}notes"))
    assert loaded.enabled == ("core", "contacts_service", f"{PREFIX}probe", f"{PREFIX}notes")


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_notes_migrations_apply_beside_a_foreign_notes_pack(
    foreign_packs: dict[str, str], backend: str, tmp_path: Path
) -> None:
    with fresh_url(backend, tmp_path) as url:
        asyncio.run(upgrade(url, ("contacts_service", f"{PREFIX}notes")))
        versions = asyncio.run(state(url))["versions"]
    assert versions == {"alembic_version": [CORE_HEAD], f"alembic_version_{PREFIX}notes": ["notes_0002"]}
