"""The schema base class: a msgspec Struct with a slug, a title and a description."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec


class Schema(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of every schema a pack registers.

    Subclasses declare their fields as msgspec Struct fields (constraints with
    ``Annotated[..., msgspec.Meta(...)]``) and set the class variables ``slug`` (unique app-wide),
    ``title`` and ``description``. A field's ``Meta(extra={"message": ...})`` gives the message
    reported when a value breaks that field's constraints.
    """

    slug: ClassVar[str]
    title: ClassVar[str] = ""
    description: ClassVar[str] = ""

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """This schema as a standalone JSON Schema document (draft 2020-12)."""
        _, components = msgspec.json.schema_components([cls], ref_template="#/$defs/{name}")
        document = dict(components.pop(cls.__name__))
        document["title"] = cls.title or cls.__name__
        if cls.description:
            document["description"] = cls.description
        document = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": cls.slug, **document}
        if components:
            document["$defs"] = components
        return document
