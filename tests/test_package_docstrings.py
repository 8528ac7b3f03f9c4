"""Every package says in one line what lives there (README.md, Layout): its ``__init__.py`` opens with a docstring."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def package_inits() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*__init__.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [REPO / name for name in listed if (REPO / name).exists()]


def test_every_package_opens_with_a_docstring() -> None:
    inits = package_inits()
    assert len(inits) > 20
    missing = [str(path.relative_to(REPO)) for path in inits if not ast.get_docstring(ast.parse(path.read_text()))]
    assert missing == [], f"packages without a one-line docstring saying what lives there: {missing}"
