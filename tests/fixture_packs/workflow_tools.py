"""A pack with a workflow-backed tool (``WorkflowTool``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

from packs.core import hookimpl
from packs.core.features import Feature
from packs.core.tools import WorkflowTool


def check(value: str) -> str:
    if value == "fail":
        raise RuntimeError("the check refused 'fail'")
    return value.upper()


class RunFlow(WorkflowTool, method="post", scope="collection", action="run"):
    """Run the echo flow."""

    workflow_id = "echo_flow"

    async def execute(self, *, user_id: UUID, workspace_id: UUID, value: str = "", **_: Any) -> dict[str, Any]:
        result = await self.run_workflow(input={"value": value, "user_id": str(user_id)})
        return {"data": result.output, "meta": {"execution_id": result.execution_id}}


@hookimpl
def register_features() -> Sequence[Feature]:
    return [Feature(namespace="probes", name="flows", tools=[RunFlow])]


@hookimpl
def register_services() -> Mapping[str, Callable[..., Any]]:
    return {"flows.check": check}


@hookimpl
def register_workflows() -> Sequence[Path]:
    return [Path(__file__).parent / "workflows" / "echo_flow.yml"]
