"""The tools of ``workspaces/deals``: list, create, show, the ``pipeline`` and ``move`` actions.

Workflows call them by dotted path too (``packflow_deals.tools.Create``).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, cast, func, select

from packflow_deals.models import StageChange
from packflow_deals.money import format_amount
from packflow_deals.schemas import STAGES, Stage
from packs.core import (
    Item,
    ItemSerializer,
    NotFoundError,
    PageNumber,
    PerPage,
    Tool,
    ValidationError,
    current_session,
    find_item,
    live_items,
    paginate,
    validate,
)


class DealTool(Tool, schema="deal", serializer=ItemSerializer):
    """What every deals tool shares (declares no route itself)."""

    async def find_deal(self, deal_id: UUID, workspace_id: UUID) -> Item:
        """The live deal ``deal_id`` of the workspace; 404 otherwise."""
        return await find_item(deal_id, workspace_id=workspace_id, schema_slug="deal")


class Index(DealTool, method="get", scope="collection"):
    """List the workspace's deals, newest first; `stage` keeps the deals in that stage."""

    async def execute(
        self,
        *,
        user_id: UUID,
        workspace_id: UUID,
        stage: Stage | None = None,
        page: PageNumber = 1,
        per_page: PerPage = 25,
        **_: Any,
    ) -> dict[str, Any]:
        statement = live_items(workspace_id, "deal")
        if stage is not None:
            statement = statement.where(Item.data["stage"].as_string() == stage)
        result = await paginate(
            statement.order_by(Item.created_at.desc(), Item.id.desc()), page=page, per_page=per_page
        )
        return {"data": [self.serialize(item) for item in result.items], "meta": result.meta()}


class Create(DealTool, method="post", scope="collection", status=201):
    """Create a deal from `{"deal": {"name", "amount", "stage", "contact_id"}}`."""

    async def execute(self, *, user_id: UUID, workspace_id: UUID, deal: Any = None, **_: Any) -> dict[str, Any]:
        fields = validate(self.schema_class(), deal, key="deal")
        if fields.get("contact_id"):
            await self.check_contact(fields["contact_id"], workspace_id)
        fields.setdefault("amount", 0)
        fields.setdefault("stage", "open")
        item = Item(
            schema_slug="deal", tool_slug=self.slug, data=fields, created_by_id=user_id, workspace_id=workspace_id
        )
        session = current_session()
        session.add(item)
        await session.flush()
        return {"data": self.serialize(item), "meta": {"created": True, "amount": format_amount(fields["amount"])}}

    async def check_contact(self, contact_id: str, workspace_id: UUID) -> None:
        """422 unless ``contact_id`` is a live contact of the workspace."""
        try:
            await find_item(UUID(contact_id), workspace_id=workspace_id, schema_slug="contact")
        except ValueError:
            raise ValidationError("Validation failed", {"contact_id": "is not a UUID"}) from None
        except NotFoundError:
            raise ValidationError("Validation failed", {"contact_id": "is not a contact of this workspace"}) from None


class Show(DealTool, method="get", scope="member"):
    """Show a deal with the history of its stages."""

    async def execute(self, *, user_id: UUID, workspace_id: UUID, id: UUID, **_: Any) -> dict[str, Any]:
        item = await self.find_deal(id, workspace_id)
        history = await current_session().execute(
            select(StageChange).where(StageChange.deal_id == item.id).order_by(StageChange.created_at)
        )
        return {
            "data": self.serialize(item),
            "meta": {"history": [change.as_history() for change in history.scalars()]},
        }


class Pipeline(DealTool, method="get", scope="collection", action="pipeline"):
    """The number of deals and their total amount in each stage."""

    async def execute(self, *, user_id: UUID, workspace_id: UUID, **_: Any) -> dict[str, Any]:
        deals = live_items(workspace_id, "deal").subquery()
        stage = deals.c.data["stage"].as_string()
        amounts = cast(deals.c.data["amount"].as_string(), BigInteger)  # integer is 32-bit on PostgreSQL
        rows = await current_session().execute(
            select(stage, func.count(), func.coalesce(func.sum(amounts), 0)).group_by(stage)
        )
        found = {name: (count, int(amount)) for name, count, amount in rows}
        totals = {}
        for name in STAGES:
            count, amount = found.get(name, (0, 0))
            totals[name] = {"count": count, "amount": amount, "label": format_amount(amount)}
        return {"data": totals, "meta": {}}


class Move(DealTool, method="post", scope="member", action="move"):
    """Move a deal to another stage (`{"stage": "won"}`); the move is recorded in the deal's history."""

    async def execute(self, *, user_id: UUID, workspace_id: UUID, id: UUID, stage: Stage, **_: Any) -> dict[str, Any]:
        item = await self.find_deal(id, workspace_id)
        previous = item.data.get("stage", "open")
        if previous == stage:
            raise ValidationError("Validation failed", {"stage": f"the deal is already {stage}"})
        item.data = {**item.data, "stage": stage}
        session = current_session()
        session.add(
            StageChange(
                deal_id=item.id,
                workspace_id=workspace_id,
                changed_by_id=user_id,
                from_stage=previous,
                to_stage=stage,
            )
        )
        await session.flush()
        return {"data": self.serialize(item), "meta": {"moved_from": previous}}
