"""How a tool declares the HTTP route it answers (docs/http-api.md, Routes)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
SCOPES = ("collection", "member")
ACTION_PATTERN = re.compile(r"^[a-z_]+$")

Scope = Literal["collection", "member"]


@dataclass(frozen=True)
class Route:
    """The methods, scope and optional action a tool answers, and its success status."""

    methods: tuple[str, ...]
    scope: Scope
    action: str | None = None
    status: int = 200

    @classmethod
    def build(
        cls,
        method: str | Iterable[str],
        scope: str = "collection",
        action: str | None = None,
        status: int = 200,
        *,
        owner: str = "tool",
    ) -> Route:
        """Validate a declaration and build the route; errors name ``owner`` and the bad value."""
        raw_methods = [method] if isinstance(method, str) else list(method)
        methods = tuple(m.lower() for m in raw_methods)
        if not methods:
            raise ValueError(f"{owner}: route needs at least one method, one of {', '.join(HTTP_METHODS)}")
        for m in methods:
            if m not in HTTP_METHODS:
                raise ValueError(f"{owner}: route method {m!r} is not one of {', '.join(HTTP_METHODS)}")
        if scope not in SCOPES:
            raise ValueError(f"{owner}: route scope {scope!r} is not one of {', '.join(SCOPES)}")
        if action is not None and not ACTION_PATTERN.fullmatch(action):
            raise ValueError(f"{owner}: route action {action!r} must match [a-z_]+")
        if not 200 <= status < 300:
            raise ValueError(f"{owner}: route status {status} is not a 2xx status")
        return cls(methods=methods, scope=scope, action=action, status=status)  # type: ignore[arg-type]

    def route_keys(self) -> list[tuple[str, str, str | None]]:
        """The ``(method, scope, action)`` triples this route answers."""
        return [(method, self.scope, self.action) for method in self.methods]
