"""The pack contract: the ``hookimpl`` marker and the hooks a pack may implement (docs/writing-a-pack.md,
"Hook reference").

A pack is a module (named by an entry point in the ``packflow.packs`` group) whose functions are
decorated with :data:`hookimpl` and named after the hooks below. Every hook takes no arguments and
returns a list, a mapping or a class; the app calls each hook of every enabled pack once, when it
loads the packs (as it starts, and in every ``litestar`` command), and merges the answers.
``litestar packs list`` also calls the hooks of installed packs that are not enabled, to show what
they would register. A pack implements only the hooks it needs::

    from packs.core import hookimpl

    @hookimpl
    def register_schemas():
        return [Contact]

:data:`HOOK_NAMES` is read from the specifications below, in the order they are defined (the order
in which the app calls them): adding a hook here is all it takes for the app to know it.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path

    import msgspec
    from litestar.types import ControllerRouterHandler

    from packs.core.features import Feature
    from packs.core.schemas import Schema

PROJECT_NAME = "packflow"

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Marks a pack's hook functions (re-exported as ``packs.core.hookimpl``)."""

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
"""Marks the hook specifications below."""

__all__ = ["HOOK_NAMES", "PROJECT_NAME", "hook_names", "hookimpl", "hookspec"]


@hookspec
def register_schemas() -> Sequence[type[Schema]]:
    """Schemas (``packs.core.schemas.Schema`` subclasses) this pack defines; slugs are unique app-wide."""
    raise NotImplementedError


@hookspec
def register_features() -> Sequence[Feature]:
    """Features (``packs.core.features.Feature``: namespace, name, schema, tools) served under ``/api/v1``."""
    raise NotImplementedError


@hookspec
def register_workflows() -> Sequence[str | Path]:
    """Workflow YAML files, or folders holding them (``*.yml``/``*.yaml``), that this pack ships.

    Every workflow of every enabled pack is loaded and validated at startup (including that each
    ``call`` service is a tool or service of an enabled pack); any problem stops startup.
    """
    raise NotImplementedError


@hookspec
def register_services() -> Mapping[str, Callable[..., Any]]:
    """Extra callables that workflows may ``call``, by the name workflows use for them.

    The tools of enabled packs' features are callable without this, by dotted path
    (``packs.contacts_service.tools.Create``).
    """
    raise NotImplementedError


@hookspec
def register_step_types() -> Mapping[str, type | tuple[type, type]]:
    """Workflow step types this pack adds: ``{name: ExecutorClass}`` or ``{name: (ExecutorClass, ConfigStruct)}``."""
    raise NotImplementedError


@hookspec
def register_migrations() -> Sequence[str | Path]:
    """Alembic version folders holding this pack's own migrations.

    Called when the app loads the packs. The revisions form a history of their own (the first has
    ``down_revision = None``), tracked in the table ``alembic_version_<pack>``. ``litestar database
    upgrade`` (and the app's start, unless ``PACKFLOW_AUTO_MIGRATE=false``) applies them after the
    core migrations, pack by pack in configuration order, so they may refer to core tables. A
    disabled pack's tables and version row are left alone. Example::

        @hookimpl
        def register_migrations():
            return [Path(__file__).parent / "migrations"]
    """
    raise NotImplementedError


@hookspec
def register_routes() -> Sequence[ControllerRouterHandler]:
    """Extra Litestar route handlers, controllers or routers this pack serves."""
    raise NotImplementedError


@hookspec
def register_settings() -> type[msgspec.Struct]:
    """The msgspec Struct class that validates this pack's settings section.

    Called when the app loads the packs. The pack's section of the configuration (the table
    ``[packs.<pack name>]`` of the settings file, and ``PACKFLOW_<PACK>__<KEY>`` variables, which win)
    is converted to this Struct; a value of the wrong type, an unknown key or a missing required key
    stops startup naming the pack, the key and the problem. Give every field a default so that the
    pack works without a section. Read the result with ``packs.core.settings.pack_settings(TheStruct)``.
    Example::

        class DealsSettings(msgspec.Struct, frozen=True):
            currency: str = "USD"

        @hookimpl
        def register_settings():
            return DealsSettings
    """
    raise NotImplementedError


def hook_names(specifications: ModuleType | type) -> tuple[str, ...]:
    """The names of the functions of ``specifications`` (a module or class) marked with :data:`hookspec`,
    in definition order, as pluggy's ``add_hookspecs`` reads them."""
    manager = pluggy.PluginManager(PROJECT_NAME)
    return tuple(name for name in vars(specifications) if manager.parse_hookspec_opts(specifications, name) is not None)


HOOK_NAMES = hook_names(sys.modules[__name__])
"""Every hook of the contract, in the order the app calls them."""
