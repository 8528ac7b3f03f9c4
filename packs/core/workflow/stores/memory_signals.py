"""The memory store's signals (docs/workflow-language.md, step type ``receive``): a list in arrival order.

:class:`MemorySignals` is a part of :class:`~packs.core.workflow.stores.memory.MemoryStore`. Memory
writes are immediate and a step's code runs without yielding to a sender in between, so
``lock_execution`` has nothing to do.
"""

from __future__ import annotations

import copy

from packs.core.workflow.model import utcnow
from packs.core.workflow.signals import Signal


class MemorySignals:
    """The signal methods of the memory store."""

    @property
    def _signals(self) -> list[Signal]:
        kept: list[Signal] | None = self.__dict__.get("_signal_list")
        if kept is None:
            kept = self.__dict__["_signal_list"] = []
        return kept

    async def lock_execution(self, execution_id: str) -> None:
        """Nothing to lock in memory."""

    async def add_signal(self, signal: Signal) -> Signal:
        """Keep ``signal``, unless the execution has one with its idempotency key: then answer that one."""
        if signal.idempotency_key is not None:
            found = await self.signal_with_key(signal.execution_id, signal.idempotency_key)
            if found is not None:
                return found
        self._signals.append(copy.deepcopy(signal))
        return copy.deepcopy(signal)

    async def signal_with_key(self, execution_id: str, idempotency_key: str) -> Signal | None:
        """The execution's signal (kept or passed on) sent with ``idempotency_key``, or ``None``."""
        for kept in self._signals:
            if execution_id in (kept.execution_id, kept.addressed_to) and kept.idempotency_key == idempotency_key:
                return copy.deepcopy(kept)
        return None

    async def take_signal(self, execution_id: str, name: str, consumed_by: str) -> Signal | None:
        """Mark the oldest unread signal ``name`` of the execution read by ``consumed_by``; it, or ``None``."""
        for kept in self._signals:
            if kept.execution_id == execution_id and kept.name == name and kept.consumed_at is None:
                kept.consumed_at = utcnow()
                kept.consumed_by = consumed_by
                return copy.deepcopy(kept)
        return None

    async def signals_of(self, execution_id: str) -> list[Signal]:
        """The execution's signals, kept or passed on to a sub-workflow child, in arrival order."""
        return [copy.deepcopy(kept) for kept in self._signals if execution_id in (kept.execution_id, kept.addressed_to)]

    def drop_signals(self, execution_id: str) -> None:
        """Forget the execution's signals (it was deleted)."""
        self._signals[:] = [kept for kept in self._signals if kept.execution_id != execution_id]
