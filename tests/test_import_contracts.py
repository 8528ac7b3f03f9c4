"""The import contracts of pyproject.toml (``[tool.importlinter]``) hold: the suite fails naming the offending
import when one is broken (README, "Layout": imports go app -> packs.* -> packs.core -> packs.core.workflow)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEALS_SOURCE = REPO / "examples" / "packflow-deals" / "src"
LINT_IMPORTS = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the packages under ``root`` with ``root``'s pyproject.toml (the example pack on the path)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(DEALS_SOURCE)])}
    return subprocess.run(
        [sys.executable, "-c", LINT_IMPORTS, "--no-cache", "--no-logo"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_configured_contracts_are_kept() -> None:
    result = lint_imports(REPO)
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
    assert "packs.core.workflow" in result.stdout  # the engine's contract was among those checked


def test_a_forbidden_import_breaks_the_suite_naming_it(tmp_path: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__")
    for package in ("app", "packs"):
        shutil.copytree(REPO / package, tmp_path / package, ignore=ignore)
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "packs" / "core" / "workflow" / "pftest_leak.py").write_text("import litestar\n")
    (tmp_path / "packs" / "contacts_service" / "pftest_leak.py").write_text("import packflow_deals.tools\n")

    result = lint_imports(tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "packs.core.workflow.pftest_leak -> litestar" in result.stdout
    assert "packs.contacts_service.pftest_leak -> packflow_deals.tools" in result.stdout
    assert "2 broken" in result.stdout
