"""Finding installed packs (entry points), enabling the configured ones and collecting their hooks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
import pluggy

from app.errors import StartupError
from app.pack_settings import PackSettingsError, setting_names, validate_pack_settings
from app.settings import Settings
from packs.core import hookspecs
from packs.core.features import Feature, FeatureRegistry
from packs.core.features import registry as feature_registry
from packs.core.schemas import Schema, SchemaRegistry, schema_slug
from packs.core.schemas import registry as schema_registry
from packs.core.settings import registry as pack_settings

ENTRY_POINT_GROUP = "packflow.packs"
HOOK_NAMES = hookspecs.HOOK_NAMES
"""The hooks, read from the specifications in :mod:`packs.core.hookspecs`, in the order they are called."""


class PackError(StartupError, RuntimeError):
    """The configured packs cannot be loaded; the message says which pack and why."""


@dataclass(frozen=True)
class InstalledPack:
    """A pack declared in the ``packflow.packs`` entry point group."""

    name: str
    module: str
    distribution: str
    version: str
    entry_point: EntryPoint = field(repr=False, compare=False)

    def load(self) -> ModuleType:
        """Import the pack's hook module; :class:`PackError` naming the pack when that fails."""
        try:
            module = self.entry_point.load()
        except Exception as error:
            raise PackError(f"pack {self.name!r}: cannot import {self.module!r}: {error}") from error
        if not isinstance(module, ModuleType):
            raise PackError(f"pack {self.name!r}: entry point {self.module!r} must name a module")
        return module


@dataclass
class Contributions:
    """What one pack's hooks returned."""

    schemas: list[type[Schema]] = field(default_factory=list)
    features: list[Feature] = field(default_factory=list)
    workflows: list[Path] = field(default_factory=list)
    services: dict[str, Any] = field(default_factory=dict)
    step_types: dict[str, Any] = field(default_factory=dict)
    migrations: list[Path] = field(default_factory=list)
    routes: list[Any] = field(default_factory=list)
    settings: type[msgspec.Struct] | None = None

    def summary(self) -> dict[str, list[str]]:
        """Names of what the pack registers, by kind (for ``litestar packs list``)."""
        return {
            "schemas": [schema_slug(schema) for schema in self.schemas],
            "features": [
                f"{feature.slug} ({', '.join(tool.__name__ for tool in feature.tools)})" for feature in self.features
            ],
            "workflows": [str(path) for path in self.workflows],
            "services": sorted(self.services),
            "step_types": sorted(self.step_types),
            "migrations": [str(path) for path in self.migrations],
            "routes": [route_name(route) for route in self.routes],
            "settings": setting_names(self.settings) if self.settings else [],
        }


def route_name(route: Any) -> str:
    """How ``packs list`` names a route a pack registers: a controller or router class by its name, a route
    handler by its methods and paths (``GET /probe/explode``), a router instance by its path."""
    name = getattr(route, "__name__", None)
    if isinstance(name, str):
        return name
    methods, paths = getattr(route, "http_methods", None), getattr(route, "paths", None)
    if methods and paths:
        return f"{', '.join(sorted(methods))} {', '.join(sorted(paths))}"
    path = getattr(route, "path", None)
    return f"router {path}" if isinstance(path, str) else repr(route)


@dataclass
class LoadedPacks:
    """The enabled packs, in order, with everything they registered."""

    installed: Mapping[str, InstalledPack]
    enabled: tuple[str, ...]
    contributions: dict[str, Contributions]
    features: FeatureRegistry
    schemas: SchemaRegistry

    @property
    def routes(self) -> list[Any]:
        """Route handlers of every enabled pack, in pack order."""
        return [route for name in self.enabled for route in self.contributions[name].routes]


def installed_packs() -> dict[str, InstalledPack]:
    """Every pack declared in the ``packflow.packs`` entry point group, by name."""
    packs: dict[str, InstalledPack] = {}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        dist = entry_point.dist
        packs[entry_point.name] = InstalledPack(
            name=entry_point.name,
            module=entry_point.value,
            distribution=dist.name if dist else "?",
            version=dist.version if dist else "?",
            entry_point=entry_point,
        )
    return dict(sorted(packs.items()))


def collect_contributions(names: Sequence[str], installed: Mapping[str, InstalledPack]) -> dict[str, Contributions]:
    """Register the packs ``names`` with a pluggy manager and call each of their hooks once."""
    missing = [name for name in names if name not in installed]
    if missing:
        listed = ", ".join(installed) or "none"
        raise PackError(
            f"pack {', '.join(repr(name) for name in missing)} is enabled (PACKFLOW_PACKS or the settings file's "
            "[packflow] packs) but not installed; "
            f"installed packs: {listed}"
        )
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    for name in names:
        try:
            manager.register(installed[name].load(), name=name)
        except pluggy.PluginValidationError as error:  # a hook implementation taking an argument its hookspec lacks
            raise PackError(f"pack {name!r}: {error}") from error
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as error:
        raise PackError(
            f"pack {manager.get_name(error.plugin)!r}: {error}; known hooks: {', '.join(HOOK_NAMES)}"
        ) from error
    contributions = {name: Contributions() for name in names}
    for hook_name in HOOK_NAMES:
        for implementation in getattr(manager.hook, hook_name).get_hookimpls():
            pack = implementation.plugin_name
            try:
                answer = implementation.function()
            except Exception as error:
                raise PackError(f"pack {pack!r}: hook {hook_name} raised {type(error).__name__}: {error}") from error
            _record(contributions[pack], hook_name, answer, pack)
    return contributions


def load_packs(
    enabled: Iterable[str],
    *,
    features: FeatureRegistry = feature_registry,
    schemas: SchemaRegistry = schema_registry,
    installed: Mapping[str, InstalledPack] | None = None,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    setting_sources: Mapping[str, Mapping[str, str]] | None = None,
) -> LoadedPacks:
    """Enable the packs ``enabled`` (``core`` first), fill the feature and schema registries and
    validate each pack's ``settings`` section (raw values by pack name; ``setting_sources`` says where
    each came from, for messages) against the Struct it declares.

    Raises :class:`PackError` when a pack is not installed, fails to load, registers a feature or
    schema slug that another enabled pack registers too, or is given settings it does not accept.
    """
    names = tuple(dict.fromkeys(["core", *enabled]))
    installed = installed_packs() if installed is None else installed
    contributions = collect_contributions(names, installed)
    features.clear()
    schemas.clear()
    for name in names:
        try:
            for schema in contributions[name].schemas:
                schemas.register(schema, pack=name)
            for feature in contributions[name].features:
                features.register(feature, pack=name)
        except (TypeError, ValueError) as error:
            raise PackError(str(error)) from error
    for feature in features.all():
        if feature.schema is not None and schemas.find(feature.schema) is None:
            raise PackError(
                f"pack {features.owner(feature.namespace, feature.name)!r}: feature {feature.slug} uses schema "
                f"{feature.schema!r}, which no enabled pack registers"
            )
    declared = {name: contributions[name].settings for name in names}
    try:
        validated = validate_pack_settings(names, declared, settings or {}, setting_sources or {})
    except PackSettingsError as error:
        raise PackError(str(error)) from None
    pack_settings.replace(validated)
    return LoadedPacks(
        installed=installed,
        enabled=names,
        contributions=contributions,
        features=features,
        schemas=schemas,
    )


def _record(target: Contributions, hook_name: str, answer: Any, pack: str) -> None:
    if answer is None:
        return
    kind = hook_name.removeprefix("register_")
    if kind == "settings":
        if not (isinstance(answer, type) and issubclass(answer, msgspec.Struct)):
            raise PackError(f"pack {pack!r}: hook register_settings must return a msgspec.Struct class, got {answer!r}")
        target.settings = answer
        return
    if kind in ("services", "step_types"):
        if not isinstance(answer, Mapping):
            raise PackError(f"pack {pack!r}: hook {hook_name} must return a mapping, got {type(answer).__name__}")
        getattr(target, kind).update(answer)
        return
    if isinstance(answer, str | bytes | Mapping) or not isinstance(answer, Iterable):
        raise PackError(f"pack {pack!r}: hook {hook_name} must return a list, got {type(answer).__name__}")
    values = list(answer)
    if kind in ("workflows", "migrations"):
        values = [Path(value) for value in values]
    getattr(target, kind).extend(values)


def load_configured_packs(settings: Settings) -> LoadedPacks:
    """:func:`load_packs` for the packs and pack settings of ``settings``."""
    return load_packs(settings.packs, settings=settings.pack_settings, setting_sources=settings.pack_sources)
