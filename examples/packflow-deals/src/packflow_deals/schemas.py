"""The ``deal`` schema."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from packs.core import Schema

STAGES = ("open", "won", "lost")
Stage = Literal["open", "won", "lost"]
MAX_AMOUNT = 10**12
"""The largest amount a deal takes: the pipeline sums amounts as SQL ``bigint``, exactly."""


class Deal(Schema):
    """A sale in progress: what, how much, with whom, and how far it got."""

    slug = "deal"
    title = "Deal"
    description = "A sale in the workspace's pipeline."

    name: Annotated[str, msgspec.Meta(max_length=200, extra={"message": "is too long (maximum is 200 characters)"})]
    amount: Annotated[
        int, msgspec.Meta(ge=0, le=MAX_AMOUNT, extra={"message": "must be a whole amount from 0 to 1,000,000,000,000"})
    ] = 0
    stage: Stage = "open"
    contact_id: str | None = None
