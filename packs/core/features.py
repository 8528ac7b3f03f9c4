"""Features and their registry: which tool answers which request."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from packs.core.tools.base import Tool

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")

RouteKey = tuple[str, str, str | None]


class DuplicateFeatureError(ValueError):
    """Two packs (or two tools of one feature) claim the same feature or route."""


RESERVED_NAMESPACES = frozenset({"workflows"})
"""Namespaces the core pack serves itself: a feature there would never be reached."""


@dataclass(frozen=True)
class Feature:
    """A set of tools served under ``/api/v1/{namespace}/{name}``, working with one schema."""

    namespace: str
    name: str
    tools: Sequence[type[Tool]]
    schema: str | None = None
    description: str = ""
    _routes: dict[RouteKey, type[Tool]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for part, value in (("namespace", self.namespace), ("name", self.name)):
            if not NAME_PATTERN.match(value):
                raise ValueError(f"feature {self.namespace}/{self.name}: {part} {value!r} must match [a-z][a-z0-9_]*")
        if self.namespace in RESERVED_NAMESPACES:
            raise ValueError(
                f"feature {self.namespace}/{self.name}: namespace {self.namespace!r} is reserved "
                f"(/api/v1/{self.namespace} is the core pack's own API)"
            )
        for tool in self.tools:
            if not (isinstance(tool, type) and issubclass(tool, Tool)):
                raise TypeError(f"feature {self.slug}: {tool!r} is not a packs.core.tools.Tool subclass")
            if tool.route_spec is None:
                raise ValueError(f"feature {self.slug}: tool {tool.qualified_name()} declares no route")
            for key in tool.route_spec.route_keys():
                if key in self._routes:
                    raise DuplicateFeatureError(
                        f"feature {self.slug}: tools {self._routes[key].qualified_name()} and "
                        f"{tool.qualified_name()} both answer {_describe(key)}"
                    )
                self._routes[key] = tool

    @property
    def slug(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"

    def find_tool(self, http_method: str, scope: str, action: str | None = None) -> type[Tool] | None:
        """The tool answering ``http_method`` on ``scope`` with ``action``, or ``None``."""
        return self._routes.get((http_method.lower(), scope, action))


class FeatureRegistry:
    """Features by ``(namespace, name)``, each remembered with the pack that registered it."""

    def __init__(self) -> None:
        self._features: dict[tuple[str, str], Feature] = {}
        self._owners: dict[tuple[str, str], str] = {}

    def clear(self) -> None:
        """Forget every feature (the app does this before loading the enabled packs)."""
        self._features.clear()
        self._owners.clear()

    def register(self, feature: Feature, pack: str = "?") -> None:
        """Add ``feature``; one already registered under the same slug is an error naming both packs."""
        if not isinstance(feature, Feature):
            raise TypeError(f"pack {pack!r} registered {feature!r}, which is not a packs.core.features.Feature")
        key = (feature.namespace, feature.name)
        if key in self._features:
            raise DuplicateFeatureError(
                f"feature {feature.slug!r} is registered by pack {self._owners[key]!r} and by pack {pack!r}"
            )
        self._features[key] = feature
        self._owners[key] = pack

    def find(self, namespace: str, name: str) -> Feature | None:
        """The feature ``namespace/name``, or ``None``."""
        return self._features.get((namespace, name))

    def find_tool(
        self, namespace: str, name: str, *, http_method: str, scope: str, action: str | None = None
    ) -> type[Tool] | None:
        """The tool of feature ``namespace/name`` answering this method, scope and action, or ``None``."""
        feature = self._features.get((namespace, name))
        return None if feature is None else feature.find_tool(http_method, scope, action)

    def tools_for(self, namespace: str, name: str) -> list[type[Tool]]:
        """The tools of feature ``namespace/name`` (empty when there is no such feature)."""
        feature = self._features.get((namespace, name))
        return [] if feature is None else list(feature.tools)

    def owner(self, namespace: str, name: str) -> str | None:
        """The name of the pack that registered the feature."""
        return self._owners.get((namespace, name))

    def all(self) -> list[Feature]:
        """Every registered feature, in registration order."""
        return list(self._features.values())


def _describe(key: RouteKey) -> str:
    method, scope, action = key
    return f"{method.upper()} {scope}" + (f" action {action!r}" if action else "")


registry = FeatureRegistry()
"""The registry of the running app, filled from the enabled packs at startup."""
