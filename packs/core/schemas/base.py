"""The schema base class: a msgspec Struct with a slug, a title and a description.

See docs/writing-a-pack.md, "register_schemas": the metadata lives in ``__slug__``, ``__title__`` and
``__description__``, names no field can take, so a schema may have fields called ``slug``, ``title``
or ``description``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

METADATA_NAMES = ("slug", "title", "description")
"""The short spellings of the metadata; each is copied to its dunder name unless it is a field."""


class Schema(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of every schema a pack registers.

    Subclasses declare their fields as msgspec Struct fields (constraints with
    ``Annotated[..., msgspec.Meta(...)]``) and set ``slug`` (unique app-wide), ``title`` and
    ``description`` as plain class attributes. A schema with a *field* named ``slug``, ``title`` or
    ``description`` sets that piece of metadata as ``__slug__``, ``__title__`` or ``__description__``
    instead (always allowed). A field's ``Meta(extra={"message": ...})`` gives the message reported
    when a value breaks that field's constraints.
    """

    __slug__: ClassVar[str] = ""
    __title__: ClassVar[str] = ""
    __description__: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in METADATA_NAMES:
            value = cls.__dict__.get(name)
            if isinstance(value, str) and f"__{name}__" not in cls.__dict__:
                setattr(cls, f"__{name}__", value)

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """This schema as a standalone JSON Schema document (draft 2020-12)."""
        _, components = msgspec.json.schema_components([cls], ref_template="#/$defs/{name}")
        document = dict(components.pop(cls.__name__))
        describe(cls, document)
        document = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": schema_slug(cls), **document}
        if components:
            document["$defs"] = components
        return document


def schema_slug(schema: type[Schema]) -> str:
    """The schema's slug (``""`` when it declares none)."""
    slug = getattr(schema, "__slug__", "")
    return slug if isinstance(slug, str) else ""


def schema_title(schema: type[Schema]) -> str:
    """The schema's title; its class name when it declares none."""
    title = getattr(schema, "__title__", "")
    return title if isinstance(title, str) and title else schema.__name__


def schema_description(schema: type[Schema]) -> str:
    """The schema's description (``""`` when it declares none)."""
    description = getattr(schema, "__description__", "")
    return description if isinstance(description, str) else ""


def describe(schema: type[Schema], document: dict[str, Any]) -> None:
    """Set ``title`` and ``description`` of the JSON Schema ``document`` of ``schema``."""
    document["title"] = schema_title(schema)
    if description := schema_description(schema):
        document["description"] = description
