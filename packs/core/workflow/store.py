"""The store contract and the in-memory store.

A store keeps executions and their entries. Besides the minimum of the spec (``save``, ``load``,
``record``, ``entries``, ``find``, ``delete``, ``execution_ids``), a store offers:

- ``checkpoint(execution, entries)``: save the execution and append the entries atomically (one
  commit); the engine calls it once per step boundary.
- ``unit()``: an async context manager around one step; whatever the step's services write
  through the store's transaction commits together with the checkpoint made inside it, and is
  rolled back if the block raises before the checkpoint. (A store may commit a checkpoint at once
  when nothing else was written in the unit: the engine does nothing after a step's checkpoint.)
- ``savepoint()``: an async context manager inside ``unit()`` that undoes only its own writes when
  it raises (used around each attempt of a retried ``call``).
- ``serializes_branches``: true when a unit is one database session, which parallel branches'
  calls must then take turns to use.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol, runtime_checkable

from packs.core.workflow.model import Entry, Execution


@runtime_checkable
class Store(Protocol):
    """What the engine needs from a store (every method is a coroutine)."""

    async def save(self, execution: Execution) -> None: ...
    async def load(self, execution_id: str) -> Execution | None: ...
    async def record(self, entry: Entry) -> None: ...
    async def entries(self, execution_id: str) -> list[Entry]: ...
    async def find(
        self, workflow_id: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[Execution]: ...
    async def delete(self, execution_id: str) -> bool: ...
    async def execution_ids(self, workflow_id: str | None = None, limit: int = 1000) -> list[str]: ...
    async def checkpoint(self, execution: Execution, entries: list[Entry]) -> None: ...
    def unit(self) -> AbstractAsyncContextManager[None]: ...
    def savepoint(self) -> AbstractAsyncContextManager[None]: ...


class MemoryStore:
    """Keeps everything in dictionaries (tests, scripts); copies on the way in and out."""

    serializes_branches = False
    """Parallel branches may call services at the same time (there is no shared session)."""

    def __init__(self) -> None:
        self._executions: dict[str, Execution] = {}
        self._entries: dict[str, list[Entry]] = {}

    async def save(self, execution: Execution) -> None:
        """Insert or replace ``execution``."""
        self._executions[execution.id] = copy.deepcopy(execution)

    async def load(self, execution_id: str) -> Execution | None:
        """The execution ``execution_id``, or ``None``."""
        found = self._executions.get(execution_id)
        return copy.deepcopy(found) if found is not None else None

    async def record(self, entry: Entry) -> None:
        """Append ``entry`` to its execution's entries."""
        self._entries.setdefault(entry.execution_id, []).append(copy.deepcopy(entry))

    async def entries(self, execution_id: str) -> list[Entry]:
        """The execution's entries, oldest first."""
        return copy.deepcopy(self._entries.get(execution_id, []))

    async def find(
        self, workflow_id: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[Execution]:
        """Executions matching the filters, newest first."""
        found = [
            execution
            for execution in self._executions.values()
            if (workflow_id is None or execution.workflow_id == workflow_id)
            and (status is None or execution.status == status)
        ]
        found.sort(key=lambda execution: execution.created_at, reverse=True)
        return copy.deepcopy(found[:limit])

    async def delete(self, execution_id: str) -> bool:
        """Delete the execution and its entries; ``True`` when it existed."""
        self._entries.pop(execution_id, None)
        return self._executions.pop(execution_id, None) is not None

    async def execution_ids(self, workflow_id: str | None = None, limit: int = 1000) -> list[str]:
        """Ids of executions (of one workflow when given), newest first."""
        return [execution.id for execution in await self.find(workflow_id=workflow_id, limit=limit)]

    async def checkpoint(self, execution: Execution, entries: list[Entry]) -> None:
        """Save the execution and append the entries."""
        for entry in entries:
            await self.record(entry)
        await self.save(execution)

    def unit(self) -> AbstractAsyncContextManager[None]:
        """Nothing to open: memory writes are immediate."""
        return _nothing()

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        """Nothing to undo in memory."""
        return _nothing()


@asynccontextmanager
async def _nothing() -> AsyncIterator[None]:
    yield
