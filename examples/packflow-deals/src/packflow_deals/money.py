"""Amounts in the pack's currency, and the ``money`` workflow step type that formats them."""

from __future__ import annotations

from typing import Any

import msgspec

from packflow_deals.settings import settings
from packs.core import StepExecutor, StepValueError


def format_amount(amount: int) -> str:
    """``amount`` in the configured currency: ``EUR 12,500``."""
    return f"{settings().currency} {amount:,}"


class MoneyConfig(msgspec.Struct, forbid_unknown_fields=True):
    """A ``money`` step: the amount to format (usually a reference) and the variable to keep the text in."""

    amount: Any
    output: str | None = None


class Money(StepExecutor):
    """``type: money``: formats ``amount`` in the pack's currency and stores the text under ``output``.

    ```yaml
    - id: label
      type: money
      amount: "$input.deal.amount"
      output: label
    ```
    """

    async def call(self, state: Any) -> Any:
        config: MoneyConfig = self.settings
        amount = self.resolve(state, config.amount)
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise StepValueError(f"step {self.step.id!r}: amount must be a whole number, got {amount!r}")
        text = format_amount(amount)
        self.store(state, config.output, text)
        return self.continue_(output=text)
