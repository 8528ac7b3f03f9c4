"""A tool backed by a workflow (docs/writing-a-pack.md, "7. Workflows, services and step types")."""

from __future__ import annotations

from typing import Any, ClassVar

from packs.core import workflow as wf
from packs.core.tools.base import Tool
from packs.core.tools.errors import ValidationError


class WorkflowTool(Tool):
    """A tool whose work is a workflow: ``execute`` calls :meth:`run_workflow` with the input it builds.

    Subclasses set ``workflow_id`` (a workflow a pack registers) and implement ``execute``, e.g.::

        class Import(WorkflowTool, method="post", scope="collection", action="import"):
            workflow_id = "bulk_import"

            async def execute(self, *, user_id, workspace_id, contacts=(), **_):
                result = await self.run_workflow(
                    input={"user_id": str(user_id), "workspace_id": str(workspace_id), "contacts": list(contacts)}
                )
                return {"data": result.output, "meta": {"execution_id": result.execution_id}}

    The workflow runs on the engine the app configured (its own transactions, one per step).
    """

    workflow_id: ClassVar[str] = ""

    async def run_workflow(
        self, input: dict[str, Any] | None = None, execution_id: str | None = None
    ) -> wf.ExecutionResult:
        """Run the workflow; a failed run raises :class:`ValidationError` with the error and the execution id."""
        definition = wf.registry.get(self.workflow_id)
        if definition is None:
            raise LookupError(
                f"{self.qualified_name()}: workflow {self.workflow_id!r} is not registered by an enabled pack"
            )
        result = await wf.Engine(definition).run(input=input, execution_id=execution_id)
        if result.status == wf.Status.FAILED:
            raise ValidationError(
                f"Workflow {self.workflow_id} failed",
                {"error": result.error, "execution_id": result.execution_id},
            )
        return result
