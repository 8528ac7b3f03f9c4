"""The deals pack's hook implementations: everything it adds to a Packflow app."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from packflow_deals.money import Money, MoneyConfig
from packflow_deals.schemas import Deal
from packflow_deals.services import review
from packflow_deals.settings import DealsSettings
from packflow_deals.tools import Create, Index, Move, Pipeline, Show
from packs.core import Feature, Schema, hookimpl

HERE = Path(__file__).parent


@hookimpl
def register_schemas() -> Sequence[type[Schema]]:
    """The ``deal`` schema."""
    return [Deal]


@hookimpl
def register_features() -> Sequence[Feature]:
    """``/api/v1/workspaces/deals`` with its tools."""
    return [
        Feature(
            namespace="workspaces",
            name="deals",
            schema="deal",
            tools=[Index, Create, Show, Pipeline, Move],
            description="The workspace's sales pipeline.",
        )
    ]


@hookimpl
def register_migrations() -> Sequence[Path]:
    """The pack's own Alembic revisions (the ``deals_stage_changes`` table)."""
    return [HERE / "migrations"]


@hookimpl
def register_workflows() -> Sequence[Path]:
    """``open_deal``."""
    return [HERE / "workflows"]


@hookimpl
def register_step_types() -> Mapping[str, Any]:
    """``money``, usable by every workflow while this pack is enabled."""
    return {"money": (Money, MoneyConfig)}


@hookimpl
def register_services() -> Mapping[str, Callable[..., Any]]:
    """``deals.review``."""
    return {"deals.review": review}


@hookimpl
def register_settings() -> type[DealsSettings]:
    """``[packs.deals]``: ``currency``, ``approval_threshold``."""
    return DealsSettings
