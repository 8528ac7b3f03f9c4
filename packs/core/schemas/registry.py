"""The schema registry: every schema of the enabled packs, by slug."""

from __future__ import annotations

from typing import Any

from packs.core.schemas.base import Schema, schema_slug


class UnknownSchemaError(LookupError):
    """No enabled pack registers a schema with this slug."""


class DuplicateSchemaError(ValueError):
    """Two packs register the same schema slug."""


class SchemaRegistry:
    """Schemas by slug, each remembered with the pack that registered it."""

    def __init__(self) -> None:
        self._schemas: dict[str, type[Schema]] = {}
        self._owners: dict[str, str] = {}

    def clear(self) -> None:
        """Forget every schema (the app does this before loading the enabled packs)."""
        self._schemas.clear()
        self._owners.clear()

    def register(self, schema: type[Schema], pack: str = "?") -> None:
        """Add ``schema``; a slug registered already (by this or another pack) is an error naming both, and so is
        a field whose type msgspec cannot validate nor describe (it would fail every request, and the OpenAPI
        document of the whole app)."""
        if not (isinstance(schema, type) and issubclass(schema, Schema)):
            raise TypeError(f"pack {pack!r} registered {schema!r}, which is not a packs.core.schemas.Schema")
        slug = schema_slug(schema)
        if not slug:
            raise TypeError(
                f"schema {schema.__qualname__} of pack {pack!r} has no slug: set slug = '...' "
                "(or __slug__ = '...' when the schema has a field named slug)"
            )
        try:
            schema.json_schema()
        except (NameError, TypeError, ValueError) as error:
            raise TypeError(
                f"schema {slug!r} ({schema.__qualname__}) of pack {pack!r} has a field msgspec cannot validate "
                f"nor describe: {type(error).__name__}: {last_line(error)}. A field's type is one msgspec supports "
                "(str, int, float, bool, list, dict, a msgspec Struct, datetime, ..., docs/writing-a-pack.md, "
                "section 3), written so that it can be resolved where the schema is defined"
            ) from None
        if slug in self._schemas:
            raise DuplicateSchemaError(
                f"schema {slug!r} is registered by pack {self._owners[slug]!r} "
                f"({self._schemas[slug].__qualname__}) and by pack {pack!r} ({schema.__qualname__})"
            )
        self._schemas[slug] = schema
        self._owners[slug] = pack

    def find(self, slug: str) -> type[Schema] | None:
        """The schema registered under ``slug``, or ``None``."""
        return self._schemas.get(slug)

    def get(self, slug: str) -> type[Schema]:
        """The schema registered under ``slug`` ; raises :class:`UnknownSchemaError`."""
        try:
            return self._schemas[slug]
        except KeyError:
            known = ", ".join(sorted(self._schemas)) or "none"
            raise UnknownSchemaError(f"no schema {slug!r} is registered (registered: {known})") from None

    def owner(self, slug: str) -> str | None:
        """The name of the pack that registered ``slug``."""
        return self._owners.get(slug)

    def slugs(self) -> list[str]:
        """Every registered slug, sorted."""
        return sorted(self._schemas)

    def all(self) -> list[type[Schema]]:
        """Every registered schema, in slug order."""
        return [self._schemas[slug] for slug in self.slugs()]

    def json_schema(self, slug: str) -> dict[str, Any]:
        """The JSON Schema document of the schema ``slug``."""
        return self.get(slug).json_schema()


def last_line(error: BaseException) -> str:
    """The last line of ``error``'s message (msgspec's messages about unsupported types end with the type)."""
    lines = str(error).strip().splitlines()
    return lines[-1] if lines else ""


registry = SchemaRegistry()
"""The registry of the running app, filled from the enabled packs at startup."""
