"""Install the fixture packs as a real distribution: a ``.dist-info`` folder with entry points on ``sys.path``."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

FIXTURE_PACKS = {
    "probe": "tests.fixture_packs.probe",
    "clash_feature": "tests.fixture_packs.clash_feature",
    "clash_schema": "tests.fixture_packs.clash_schema",
    "broken_hook": "tests.fixture_packs.broken_hook",
    "unknown_hook": "tests.fixture_packs.unknown_hook",
    "missing_module": "tests.fixture_packs.does_not_exist",
    "orphan_feature": "tests.fixture_packs.orphan_feature",
    "crashy": "tests.fixture_packs.crashy",
    "bad_workflows": "tests.fixture_packs.bad_workflows",
    "workflow_tools": "tests.fixture_packs.workflow_tools",
    "workflow_http": "tests.fixture_packs.workflow_http",
    "queue_load": "tests.fixture_packs.queue_load",
    "notes": "tests.fixture_packs.notes_pack",
    "broken_migrations": "tests.fixture_packs.broken_migrations",
    "missing_migrations": "tests.fixture_packs.missing_migrations",
    "step_types": "tests.fixture_packs.step_types",
    "shout_user": "tests.fixture_packs.shout_user",
    "configured": "tests.fixture_packs.configured",
    "also_configured": "tests.fixture_packs.also_configured",
    "bad_settings_hook": "tests.fixture_packs.bad_settings_hook",
    "titled": "tests.fixture_packs.titled",
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
