"""The core pack: what every other pack builds on.

Pack authors import from here: :data:`hookimpl` to mark hook functions, the tool base and errors
(:mod:`packs.core.tools`), :class:`~packs.core.features.Feature`, the schema base
(:mod:`packs.core.schemas`), the unit of work (:mod:`packs.core.db`) and the item model and
serializer.
"""

import pluggy

PROJECT_NAME = "packflow"

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Marks a pack's hook functions (the same marker as ``app.hookspecs.hookimpl``)."""

__all__ = ["PROJECT_NAME", "hookimpl"]
