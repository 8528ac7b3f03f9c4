"""A pack whose schema has fields named like the schema metadata (``slug``, ``title``, ``description``):
its metadata is declared as ``__slug__`` / ``__title__`` / ``__description__``, and the fields work."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from packs.core import hookimpl
from packs.core.db import current_session
from packs.core.features import Feature
from packs.core.items import find_item
from packs.core.models import Item
from packs.core.schemas import Schema, validate
from packs.core.serializers import ItemSerializer
from packs.core.tools import Tool


class Article(Schema):
    """A page of the handbook."""

    __slug__ = "article"
    __title__ = "Handbook article"
    __description__ = "A page with its own title, slug and description."

    title: str
    slug: str
    description: str | None = None


class ArticleTool(Tool, schema="article", serializer=ItemSerializer):
    """Base of the article tools."""


class Create(ArticleTool, method="post", scope="collection", status=201):
    """Create an article from `{"article": {...}}`."""

    async def execute(self, *, user_id: UUID, workspace_id: UUID, article: Any = None, **_: Any) -> dict[str, Any]:
        fields = validate(Article, article, key="article")
        item = Item(
            schema_slug="article", tool_slug=self.slug, data=fields, created_by_id=user_id, workspace_id=workspace_id
        )
        current_session().add(item)
        await current_session().flush()
        return {"data": self.serialize(item), "meta": {"created": True}}


class Show(ArticleTool, method="get", scope="member"):
    """Show one article."""

    async def execute(self, *, user_id: UUID, workspace_id: UUID, id: UUID, **_: Any) -> dict[str, Any]:
        return {
            "data": self.serialize(await find_item(id, workspace_id=workspace_id, schema_slug="article")),
            "meta": {},
        }


@hookimpl
def register_schemas() -> Sequence[type[Schema]]:
    return [Article]


@hookimpl
def register_features() -> Sequence[Feature]:
    return [Feature(namespace="handbook", name="articles", schema="article", tools=[Create, Show])]
