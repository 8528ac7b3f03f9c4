"""A pack with settings of its own (``api_key`` is required), served over ``GET /api/v1/configured/settings``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

import msgspec

from packs.core import Feature, Tool, hookimpl, pack_settings


class ConfiguredSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``api_key`` is required; the rest have defaults."""

    api_key: str
    retries: Annotated[int, msgspec.Meta(ge=0)] = 3
    region: Literal["eu", "us"] = "eu"
    verbose: bool = False


class ShowSettings(Tool, method="get", scope="collection"):
    """The pack's settings, as the pack reads them."""

    async def execute(self, **_: Any) -> dict[str, Any]:
        return {"data": msgspec.to_builtins(pack_settings(ConfiguredSettings)), "meta": {}}


@hookimpl
def register_settings() -> type[ConfiguredSettings]:
    return ConfiguredSettings


@hookimpl
def register_features() -> Sequence[Feature]:
    return [Feature(namespace="configured", name="settings", tools=[ShowSettings])]
