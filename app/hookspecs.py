"""The pack contract's old import name: the markers and the hook specifications live in
:mod:`packs.core.hookspecs` (docs/writing-a-pack.md, "Hook reference").

``from app.hookspecs import hookimpl`` keeps working; a pack imports ``hookimpl`` from
``packs.core``.
"""

from __future__ import annotations

from packs.core.hookspecs import HOOK_NAMES, PROJECT_NAME, hookimpl, hookspec

__all__ = ["HOOK_NAMES", "PROJECT_NAME", "hookimpl", "hookspec"]
