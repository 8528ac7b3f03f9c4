"""Docstrings, comments, messages and docs point at what a reader of the repository has.

A reference to a document that is not in the repository ("the plan's 2.6", "the gem's executor",
``workflow-engine.md``, a design folder) names instead the section of ``docs/*.md`` or of the README
it means, e.g. ``(docs/http-api.md, Routes)``. This test scans every tracked text file and names
each ``file:line`` that falls back into the old habit.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
THIS_FILE = Path(__file__).resolve().relative_to(REPO).as_posix()
SKIPPED_FOLDERS = {".git", ".venv", "__pycache__", "build", "dist", ".mypy_cache", ".ruff_cache", ".pytest_cache"}

OUTSIDE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bthe (rails )?plan\b|\bplan's\b|\bplan \d|\(plan\b", re.IGNORECASE), "a plan"),
    (re.compile(r"\brails (plan|project)\b", re.IGNORECASE), "the Rails project"),
    (
        re.compile(r"\bthe gem\b|\bgem's\b", re.IGNORECASE),
        "an unnamed gem (section 8 of docs/workflow-language.md names it)",
    ),
    (re.compile(r"\bCore::"), "a Ruby class of another project"),
    (re.compile(r"workflow-engine\.md"), "workflow-engine.md (the engine is docs/workflow-language.md)"),
    (re.compile(r"\b(architecture|people-and-time|style-anchors|phase-2-infrastructure)\.md"), "a design document"),
    (re.compile(r"shared/spec"), "a design folder"),
    (re.compile(r"\bphase[- ]2\b", re.IGNORECASE), "a project phase"),
    (re.compile(r"\bthe spec\b|\bspec section\b", re.IGNORECASE), "a spec (name the docs/*.md section)"),
)
"""Each pattern and what it refers to that a reader does not have."""

BARE_DOC = re.compile(r"(?<![\w/\"'\[(-])(http-api|workflow-language|writing-a-pack)\.md")
"""A guide named without its folder (outside ``docs/``, where relative links are right): write ``docs/NAME.md``."""

SECTION = re.compile(r"\bsections? \d", re.IGNORECASE)
"""A numbered section; outside ``docs/`` the same or the previous line says which document it belongs to."""


def tracked_files() -> list[str]:
    """The repository's files (tracked, or new and not ignored); every file below it without git."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        listed = [
            path.relative_to(REPO).as_posix()
            for path in REPO.rglob("*")
            if path.is_file() and not SKIPPED_FOLDERS.intersection(path.relative_to(REPO).parts)
        ]
    return sorted(name for name in listed if (REPO / name).is_file())


def outside_references(name: str, text: str) -> Iterator[str]:
    """``name:line: what`` for each reference in ``text`` (the file ``name``) to a document outside the repository."""
    in_docs = name.startswith("docs/")
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        for pattern, what in OUTSIDE:
            if pattern.search(line):
                yield f"{name}:{number}: {what}: {line.strip()}"
        if in_docs:
            continue
        if BARE_DOC.search(line):
            yield f"{name}:{number}: a guide without its folder (docs/...): {line.strip()}"
        previous = lines[number - 2] if number > 1 else ""
        if SECTION.search(line) and ".md" not in previous + line and "README" not in previous + line:
            yield f"{name}:{number}: a section of which document?: {line.strip()}"


def test_no_file_refers_to_documents_outside_the_repository() -> None:
    found: list[str] = []
    for name in tracked_files():
        if name == THIS_FILE:
            continue
        try:
            text = (REPO / name).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        found.extend(outside_references(name, text))
    assert not found, "References to documents that are not in the repository:\n" + "\n".join(found)


def test_the_scan_catches_each_kind_and_leaves_plain_words_alone() -> None:
    caught = [
        '"""The resources controller (plan 2.6)."""',
        "# The plan's 2.8 example",
        "the columns are the Rails plan's tables",
        "as the gem's executor base does",
        "the tool base (``Core::Tools::Base``)",
        "The engine (``workflow-engine.md``)",
        "See architecture.md for the layers",
        "from /work/shared/spec",
        "the phase-2 queue",
        "Validation at load time (spec section 7)",
        "Besides the minimum of the spec",
        "(see http-api.md)",
        "Stream events (section 6)",
    ]
    for line in caught:
        assert list(outside_references("packs/example.py", line)), line
    plain = [
        "The query planner picks an index; a plan of the statement is logged.",
        "See docs/http-api.md, Routes.",
        "Stream events (docs/workflow-language.md, section 6)",
        "the hook specification lacks that argument; hookspecs.py",
        'text = (repo_root / "docs" / "http-api.md").read_text()',
        "Unlike Ruby's durable_workflow gem (docs/workflow-language.md, section 8)",
        "openapi-spec-validator checks it",
    ]
    for line in plain:
        assert not list(outside_references("packs/example.py", line)), line
    assert not list(outside_references("docs/guide.md", "[writing-a-pack.md](writing-a-pack.md#7), section 8"))
