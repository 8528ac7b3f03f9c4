"""Which definition an execution runs under: the loaded one, or the snapshot it started with.

Every execution records its definition's ``version`` and content hash. A worker continuing an
execution uses the loaded definition when the hashes agree, and otherwise the snapshot the store
kept when the execution was queued, so that a deploy that changed a workflow does not change the
executions already under way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from packs.core.workflow import settings
from packs.core.workflow.errors import ConfigError
from packs.core.workflow.language.definition import WorkflowDef
from packs.core.workflow.language.loader import load
from packs.core.workflow.model import Execution
from packs.core.workflow.stores.protocol import QueueStore, keep_definition


class DefinitionCatalog:
    """Finds definitions by workflow id (``known``, then the registry) and by content hash (snapshots)."""

    def __init__(
        self,
        store: QueueStore,
        known: Mapping[str, WorkflowDef] | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.store = store
        self.known: dict[str, WorkflowDef] = dict(known or {})
        self.logger = logger or settings.defaults.logger
        self._by_hash: dict[str, WorkflowDef] = {}

    def add(self, definition: WorkflowDef) -> None:
        """Make ``definition`` the current one of its id."""
        self.known[definition.id] = definition

    def current(self, workflow_id: str) -> WorkflowDef | None:
        """The loaded definition of ``workflow_id`` (``known`` first, then the registry), or ``None``."""
        return self.known.get(workflow_id) or settings.registry.get(workflow_id)

    async def snapshot(self, definition: WorkflowDef) -> None:
        """Have the store keep ``definition`` (once per process and hash)."""
        await keep_definition(self.store, definition)

    async def for_execution(self, execution: Execution) -> WorkflowDef:
        """The definition ``execution`` started with; :class:`ConfigError` when neither it nor a loaded one exists."""
        current = self.current(execution.workflow_id)
        wanted = execution.definition_hash
        if current is not None and (wanted is None or wanted == current.content_hash):
            return current
        if wanted is not None:
            if wanted in self._by_hash:
                return self._by_hash[wanted]
            source = await self.store.definition_source(execution.workflow_id, wanted)
            if source is not None:
                definition = load(source)
                self._by_hash[wanted] = definition
                return definition
        if current is not None:
            self.logger.warning(
                "execution %s started with a definition of %s (hash %s) that was not kept; using the loaded one",
                execution.id,
                execution.workflow_id,
                wanted,
            )
            return current
        raise ConfigError(
            f"execution {execution.id}: workflow {execution.workflow_id!r} is not loaded and its definition "
            f"(hash {wanted}) was not kept"
        )
