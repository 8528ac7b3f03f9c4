"""Tests that start real processes carry the ``processes`` marker, so that ``-m "not processes"`` is fast.

A test starts processes when it reaches, through the functions, classes and fixtures of its own module,
``subprocess`` or ``asyncio.create_subprocess_exec``, or a helper of ``tests/support`` that does
(``litestar``, ``litestar_server``, ``Processes``, ``new_venv``, ...). Such a test is marked with
``@pytest.mark.processes`` or its module's ``pytestmark``. The modules of ``QUICK_TOOLS`` run
command-line tools that answer in seconds (ruff, mypy, lint-imports, git), not the app: they stay in the
fast suite.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

TESTS = Path(__file__).resolve().parent
SPAWNING = {"subprocess", "create_subprocess_exec", "create_subprocess_shell"}
QUICK_TOOLS = {
    "test_code_quality.py": "ruff and mypy",
    "test_import_contracts.py": "lint-imports on the tree and on a small copy of it",
    "test_no_outside_references.py": "git ls-files",
    "test_package_docstrings.py": "git ls-files",
}


def names_in(node: ast.AST) -> set[str]:
    """Every name a definition mentions: variables, attributes' roots and attribute names, parameters."""
    found: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            found.add(child.id)
        elif isinstance(child, ast.Attribute):
            found.add(child.attr)
        elif isinstance(child, ast.arg):
            found.add(child.arg)
    return found


def definitions(tree: ast.Module) -> dict[str, ast.AST]:
    return {
        node.name: node for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }


def reaches(name: str, defined: dict[str, ast.AST], starters: set[str], seen: set[str] | None = None) -> bool:
    """Whether the definition ``name`` mentions a starter, itself or through other definitions of its module."""
    seen = set() if seen is None else seen
    seen.add(name)
    mentioned = names_in(defined[name])
    if mentioned & starters:
        return True
    return any(reaches(other, defined, starters, seen) for other in mentioned & defined.keys() - seen)


def starters_of_support() -> set[str]:
    """The helpers of ``tests/support`` that start a process (directly or through another helper there)."""
    starters = set(SPAWNING)
    trees = [ast.parse(path.read_text(encoding="utf-8")) for path in sorted((TESTS / "support").glob("*.py"))]
    changed = True
    while changed:
        changed = False
        for tree in trees:
            defined = definitions(tree)
            for name in defined.keys() - starters:
                if reaches(name, defined, starters):
                    starters.add(name)
                    changed = True
    return starters


def marked(decorators: Iterable[ast.expr]) -> bool:
    return any("processes" in names_in(decorator) for decorator in decorators)


def module_marked(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "pytestmark" for target in node.targets
        ):
            return "processes" in names_in(node.value)
    return False


def scanned_modules() -> Iterator[Path]:
    for path in sorted(TESTS.rglob("test_*.py")):
        if "fixture_packs" not in path.parts and path.name not in QUICK_TOOLS:
            yield path


def unmarked_process_tests() -> list[str]:
    starters = starters_of_support()
    missing = []
    for path in scanned_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if module_marked(tree):
            continue
        defined = definitions(tree)
        for name, node in defined.items():
            if not name.startswith("test_") or not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if not marked(node.decorator_list) and reaches(name, defined, starters):
                missing.append(f"{path.relative_to(TESTS.parent)}::{name}")
    return missing


def test_every_test_that_starts_a_process_is_marked_processes() -> None:
    missing = unmarked_process_tests()
    assert not missing, "these tests start processes; mark them @pytest.mark.processes:\n" + "\n".join(missing)


def test_the_scan_sees_the_helpers_that_start_processes() -> None:
    starters = starters_of_support()
    assert {"litestar", "litestar_in", "litestar_server", "Processes", "new_venv", "pip"} <= starters
    assert not {"plain", "last_json_line", "environment", "free_port", "auth", "harness_for"} & starters


def test_an_unmarked_test_calling_a_process_helper_is_found(tmp_path: Path) -> None:
    source = (
        "from tests.support.processes import litestar\n"
        "def run_it():\n    return litestar({}, 'version')\n"
        "def test_through_a_helper():\n    run_it()\n"
        "def test_in_process():\n    assert 1\n"
    )
    tree = ast.parse(source)
    defined = definitions(tree)
    starters = starters_of_support()
    assert reaches("test_through_a_helper", defined, starters)
    assert not reaches("test_in_process", defined, starters)
