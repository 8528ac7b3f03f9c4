"""The pack's settings: the ``[packs.deals]`` table of the settings file, or ``PACKFLOW_DEALS__<KEY>`` variables."""

from __future__ import annotations

from typing import Annotated

import msgspec

from packs.core import pack_settings

Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$", description="an ISO 4217 code, e.g. EUR")]


class DealsSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Settings of the deals pack; every field has a default, so the pack runs without a section."""

    currency: Currency = "USD"
    """The currency every amount is in."""
    approval_threshold: Annotated[int, msgspec.Meta(ge=0)] = 10_000
    """Deals of this amount or more wait for an approval in the ``open_deal`` workflow."""


def settings() -> DealsSettings:
    """This pack's validated settings."""
    return pack_settings(DealsSettings)
