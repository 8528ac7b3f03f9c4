"""The hook reference of docs/writing-a-pack.md documents every hook of the pack contract, and only those
(as Datasette's ``test_plugin_hooks_are_documented`` does for its plugin hooks)."""

from __future__ import annotations

import re
from pathlib import Path

import pluggy

from packs.core import hookimpl, hookspecs

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "writing-a-pack.md"


def documented_hooks(text: str) -> list[str]:
    """The ``### name`` headings of the guide's ``## Hook reference`` section, in order."""
    section = text.split("\n## Hook reference\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^### (\S+)\s*$", section, flags=re.MULTILINE)


def test_every_hook_is_in_the_reference_and_every_reference_entry_is_a_hook() -> None:
    documented = documented_hooks(GUIDE.read_text(encoding="utf-8"))
    missing = sorted(set(hookspecs.HOOK_NAMES) - set(documented))
    unknown = sorted(set(documented) - set(hookspecs.HOOK_NAMES))
    assert not missing, f"hooks missing from the hook reference of {GUIDE.name}: {missing}"
    assert not unknown, f"{GUIDE.name} documents hooks that packs.core.hookspecs does not specify: {unknown}"
    assert len(documented) == len(set(documented)), f"a hook is documented twice: {documented}"


def test_the_reference_parser_reads_the_section_headings_only() -> None:
    lines = ["# Guide", "### not_a_hook", "## Hook reference", "### register_a", "text", "### register_b"]
    text = "\n".join([*lines, "## Next", "### x"])
    assert documented_hooks(text) == ["register_a", "register_b"]


def test_the_hook_names_are_the_specifications_pluggy_reads() -> None:
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    assert sorted(hookspecs.HOOK_NAMES) == sorted(name for name in vars(manager.hook) if not name.startswith("_"))
    assert hookspecs.HOOK_NAMES[0] == "register_schemas"  # definition order: the order the app calls them in


def test_a_new_specification_is_a_hook_name_without_being_listed() -> None:
    class Specs:
        @hookspecs.hookspec
        def register_widgets(self) -> list[str]:
            raise NotImplementedError

        def helper(self) -> None:
            """Not marked: not a hook."""

    assert hookspecs.hook_names(Specs) == ("register_widgets",)


def test_packs_core_re_exports_the_contracts_marker() -> None:
    from app import hookspecs as old_name

    assert hookimpl is hookspecs.hookimpl is old_name.hookimpl
    assert old_name.HOOK_NAMES is hookspecs.HOOK_NAMES
