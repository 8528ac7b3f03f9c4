"""Install the fixture packs as a real distribution: a ``.dist-info`` folder with entry points on ``sys.path``."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

PREFIX = "pftest_"
"""Every fixture pack's name starts with it, so that no pack installed in the same environment (a ``notes``
or a ``probe`` of some project) can take a fixture's place."""

FIXTURE_PACKS = {
    "pftest_probe": "tests.fixture_packs.probe",
    "pftest_clash_feature": "tests.fixture_packs.clash_feature",
    "pftest_clash_schema": "tests.fixture_packs.clash_schema",
    "pftest_broken_hook": "tests.fixture_packs.broken_hook",
    "pftest_unknown_hook": "tests.fixture_packs.unknown_hook",
    "pftest_missing_module": "tests.fixture_packs.does_not_exist",
    "pftest_orphan_feature": "tests.fixture_packs.orphan_feature",
    "pftest_crashy": "tests.fixture_packs.crashy",
    "pftest_bad_workflows": "tests.fixture_packs.bad_workflows",
    "pftest_workflow_tools": "tests.fixture_packs.workflow_tools",
    "pftest_workflow_http": "tests.fixture_packs.workflow_http",
    "pftest_queue_load": "tests.fixture_packs.queue_load",
    "pftest_notes": "tests.fixture_packs.notes_pack",
    "pftest_broken_migrations": "tests.fixture_packs.broken_migrations",
    "pftest_missing_migrations": "tests.fixture_packs.missing_migrations",
    "pftest_step_types": "tests.fixture_packs.step_types",
    "pftest_shout_user": "tests.fixture_packs.shout_user",
    "pftest_configured": "tests.fixture_packs.configured",
    "pftest_also_configured": "tests.fixture_packs.also_configured",
    "pftest_bad_settings_hook": "tests.fixture_packs.bad_settings_hook",
    "pftest_titled": "tests.fixture_packs.titled",
}


def install_fixture_packs(folder: Path) -> None:
    """Write ``packflow_fixture_packs-1.2.3.dist-info`` into ``folder`` and put ``folder`` on ``sys.path``."""
    dist_info = folder / "packflow_fixture_packs-1.2.3.dist-info"
    dist_info.mkdir(parents=True, exist_ok=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: packflow-fixture-packs\nVersion: 1.2.3\n", encoding="utf-8"
    )
    lines = ["[packflow.packs]", *(f"{name} = {module}" for name, module in FIXTURE_PACKS.items())]
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if str(folder) not in sys.path:
        sys.path.append(str(folder))
    importlib.invalidate_caches()
