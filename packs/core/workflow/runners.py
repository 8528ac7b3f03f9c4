"""Runners: ``SyncRunner`` (with ``run_until_complete``) and ``StreamRunner`` (events to subscribers)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from packs.core.workflow.engine import Engine
from packs.core.workflow.events import Event
from packs.core.workflow.language.definition import WorkflowDef
from packs.core.workflow.model import ExecutionResult, HaltResult, Status
from packs.core.workflow.settings import ServiceResolver
from packs.core.workflow.stores.protocol import Store

OnHalt = Callable[[HaltResult], Any]


class SyncRunner:
    """Runs an execution in the caller's task until it completes, halts or fails."""

    def __init__(
        self, definition: WorkflowDef, store: Store | None = None, service_resolver: ServiceResolver | None = None
    ) -> None:
        self.engine = Engine(definition, store, service_resolver)

    async def run(self, input: dict[str, Any] | None = None, execution_id: str | None = None) -> ExecutionResult:
        """Start (or, for an existing ``execution_id``, look up) an execution."""
        return await self.engine.run(input=input, execution_id=execution_id)

    async def resume(self, execution_id: str, response: Any = None, approved: bool | None = None) -> ExecutionResult:
        """Continue a halted execution."""
        return await self.engine.resume(execution_id, response=response, approved=approved)

    async def run_until_complete(
        self, input: dict[str, Any] | None = None, on_halt: OnHalt | None = None, execution_id: str | None = None
    ) -> ExecutionResult:
        """Run, and each time the execution halts resume it with what ``on_halt(halt)`` returns.

        The response is passed as ``approved`` when it is a boolean and as ``response`` otherwise.
        Without ``on_halt`` the first halt is returned.
        """
        result = await self.run(input=input, execution_id=execution_id)
        while result.status == Status.HALTED and on_halt is not None:
            assert result.halt is not None
            answer = on_halt(result.halt)
            if inspect.isawaitable(answer):
                answer = await answer
            if isinstance(answer, bool):
                result = await self.resume(result.execution_id, approved=answer)
            else:
                result = await self.resume(result.execution_id, response=answer)
        return result


Handler = Callable[[Event], Awaitable[None] | None]


class StreamRunner(SyncRunner):
    """A :class:`SyncRunner` that hands every event to its subscribers."""

    def subscribe(self, handler: Handler, events: Iterable[str] | None = None) -> StreamRunner:
        """Call ``handler`` (sync or async) with each event, or only those whose type is in ``events``."""
        wanted = None if events is None else frozenset(events)

        async def listener(event: Event) -> None:
            if wanted is None or event.type in wanted:
                result = handler(event)
                if inspect.isawaitable(result):
                    await result

        self.engine.subscribe(listener)
        return self
