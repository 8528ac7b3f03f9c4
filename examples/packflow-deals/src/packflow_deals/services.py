"""Services the deals pack registers for workflows (called by name, e.g. ``deals.review``)."""

from __future__ import annotations

from typing import Any

from packflow_deals.settings import settings


def review(*, amount: Any) -> dict[str, Any]:
    """Whether a deal of ``amount`` needs an approval: ``{"needs_approval": bool, "threshold": int}``."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise ValueError(f"amount must be a whole number of 0 or more, got {amount!r}")
    threshold = settings().approval_threshold
    return {"needs_approval": amount >= threshold, "threshold": threshold}
