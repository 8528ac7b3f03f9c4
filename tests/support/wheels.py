"""Building Packflow's wheel from a copy of the sources and installing it into new virtual environments,
as a user's ``pip install`` would (tests/test_external_pack.py, tests/test_wheel_install.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROJECT_FILES = ("app", "packs", "migrations", "pyproject.toml", "README.md", "LICENSE")
SKIP_COPYING = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist", ".pytest_cache")
DISTRIBUTION = "packflow-platform"
"""Packflow's distribution name (``packflow`` on PyPI is an unrelated project)."""


def pip(python: str | Path, *args: str, cwd: Path) -> None:
    """``python -m pip ARGS`` (quiet); fails the test with pip's output when it fails."""
    result = subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", "-q", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def build_wheels(root: Path, *extra_projects: Path) -> Path:
    """Wheels of a copy of this project (and of ``extra_projects``, copied too) in ``root / "wheels"``."""
    project = root / "packflow-src"
    for name in PROJECT_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, project / name, ignore=SKIP_COPYING)
        else:
            shutil.copy2(source, project / name)
    copies = []
    for extra in extra_projects:
        copy = root / extra.name
        shutil.copytree(extra, copy, ignore=SKIP_COPYING)
        copies.append(str(copy))
    wheels = root / "wheels"
    pip(sys.executable, "wheel", "--no-deps", "--wheel-dir", str(wheels), str(project), *copies, cwd=root)
    return wheels


def packflow_wheel(wheels: Path) -> Path:
    """The Packflow wheel in ``wheels`` (named after the distribution, ``packflow_platform-...``)."""
    return next(wheels.glob(f"{DISTRIBUTION.replace('-', '_')}-*.whl"))


def new_venv(folder: Path) -> Path:
    """A new virtual environment in ``folder``; answers its ``python``."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, timeout=300)
    return folder / "bin" / "python"


def deployment_env(**settings: str) -> dict[str, str]:
    """The variables a deployment would have: none of this test run's PACKFLOW_*, PYTHON*, VIRTUAL_ENV or
    LITESTAR* (so no LITESTAR_APP), plus ``settings``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PACKFLOW_", "PYTHON", "VIRTUAL_ENV", "LITESTAR"))
    }
    env.update({"PYTHONUNBUFFERED": "1"}, **settings)
    return env
