"""No import cycles among the project's modules (CONTRIBUTING.md, Architecture): neither module-level nor
function-level imports go round in a circle. Imports made only for type checking are left out: they never run."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("app", "packs", "migrations")


def import_graph(*packages: str) -> dict[str, set[str]]:
    """Who imports whom at run time, among the modules of ``packages``."""
    graph = grimp.build_graph(*packages, exclude_type_checking_imports=True, cache_dir=None)
    return {module: set(graph.find_modules_directly_imported_by(module)) for module in graph.modules}


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (or a module importing itself), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = [(root, sorted(graph.get(root, ())))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, pending = work[-1]
            if pending:
                child = pending.pop()
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, sorted(graph.get(child, ()))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1 or node in graph.get(node, ()):
                    found.append(sorted(group))
    return sorted(found)


def test_the_project_has_no_import_cycle() -> None:
    found = cycles(import_graph(*PACKAGES))
    assert found == [], "modules that import each other in a circle:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_a_cycle_is_found_and_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "pftest_cyclic"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "a.py").write_text("from pftest_cyclic import b\n", encoding="utf-8")
    (package / "b.py").write_text("def later():\n    from pftest_cyclic import c\n", encoding="utf-8")
    (package / "c.py").write_text("import pftest_cyclic.a\n", encoding="utf-8")
    (package / "d.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pftest_cyclic import e\n", encoding="utf-8"
    )
    (package / "e.py").write_text("from pftest_cyclic import d\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        found = cycles(import_graph("pftest_cyclic"))
    finally:
        sys.modules.pop("pftest_cyclic", None)
    assert found == [["pftest_cyclic.a", "pftest_cyclic.b", "pftest_cyclic.c"]]
