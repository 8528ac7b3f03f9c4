"""Pack migrations (``register_migrations``): applied after the core ones, each pack on its own version table."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from app.packs import PackError
from tests.support.databases import BACKENDS, check_core_models, sqlite_url
from tests.support.migrations import CORE_HEAD, fresh_url, state, upgrade
from tests.support.processes import REPO, environment, litestar


@pytest.mark.parametrize("backend", BACKENDS)
def test_pack_migrations_run_after_the_core_on_their_own_version_table(backend: str, tmp_path: Path) -> None:
    with fresh_url(backend, tmp_path) as url:
        asyncio.run(upgrade(url, ("contacts_service", "pftest_notes")))
        first = asyncio.run(state(url))
        assert first["versions"] == {"alembic_version": [CORE_HEAD], "alembic_version_pftest_notes": ["notes_0002"]}
        assert first["pack_notes"] == ["id", "workspace_id", "body", "pinned"]
        assert "alembic_version_contacts_service" not in first["tables"]  # a pack without migrations has none

        asyncio.run(upgrade(url, ("contacts_service", "pftest_notes")))  # nothing pending: nothing changes
        assert asyncio.run(state(url)) == first

        # Disabled, the pack's table and version row stay, and upgrading the others still works.
        asyncio.run(upgrade(url, ("contacts_service",)))
        assert asyncio.run(state(url)) == first


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_failing_pack_migration_names_the_pack_and_leaves_nothing_half_done(backend: str, tmp_path: Path) -> None:
    with fresh_url(backend, tmp_path) as url:
        with pytest.raises(PackError, match=r"pack 'pftest_broken_migrations': its migrations failed: .*no_such_table"):
            asyncio.run(upgrade(url, ("pftest_broken_migrations",)))
        after = asyncio.run(state(url))
        assert "pack_broken" not in after["tables"]
        assert (
            "alembic_version_pftest_broken_migrations" not in after["versions"]
            or not after["versions"]["alembic_version_pftest_broken_migrations"]
        )


def test_a_missing_migration_folder_names_the_pack(tmp_path: Path) -> None:
    with pytest.raises(
        PackError, match=r"pack 'pftest_missing_migrations': register_migrations names folders that do not exist"
    ):
        asyncio.run(upgrade(sqlite_url(tmp_path), ("pftest_missing_migrations",)))


@pytest.mark.processes
def test_litestar_database_upgrade_applies_the_enabled_packs_migrations(fixture_packs: Path, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    env = environment(
        url,
        PACKFLOW_PACKS="contacts_service,pftest_notes",
        PACKFLOW_AUTO_MIGRATE="false",
        PYTHONPATH=os.pathsep.join([str(fixture_packs), str(REPO)]),
    )
    litestar(env, "database", "upgrade", "--no-prompt")
    applied = asyncio.run(state(url))
    assert applied["versions"] == {"alembic_version": [CORE_HEAD], "alembic_version_pftest_notes": ["notes_0002"]}
    assert "pack_notes" in applied["tables"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_cores_autogenerate_leaves_pack_tables_alone(backend: str, tmp_path: Path) -> None:
    with fresh_url(backend, tmp_path) as url:
        asyncio.run(upgrade(url, ("pftest_notes",)))
        assert {"pack_notes", "alembic_version_pftest_notes"} <= set(asyncio.run(state(url))["tables"])
        asyncio.run(check_core_models(url))  # no "remove_table pack_notes" proposed
