"""A second pack with settings (all with defaults), served over ``GET /api/v1/also_configured/settings``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from packs.core import Feature, Tool, hookimpl, pack_settings


class AlsoConfiguredSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Every field has a default: the pack works without a section."""

    retries: int = 1
    greeting: str = "hello"


class ShowSettings(Tool, method="get", scope="collection"):
    """The pack's settings, as the pack reads them."""

    async def execute(self, **_: Any) -> dict[str, Any]:
        return {"data": msgspec.to_builtins(pack_settings(AlsoConfiguredSettings)), "meta": {}}


@hookimpl
def register_settings() -> type[AlsoConfiguredSettings]:
    return AlsoConfiguredSettings


@hookimpl
def register_features() -> Sequence[Feature]:
    return [Feature(namespace="also_configured", name="settings", tools=[ShowSettings])]
