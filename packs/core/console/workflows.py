"""``/console/workflows``: each loaded workflow (description, version, graph, inputs) and its ``Start`` form,
generated from its inputs; starting goes through :meth:`WorkflowService.start_as`, as the API's start does."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from packs.core.audit import record_action
from packs.core.console.forms import input_fields, parse, with_values
from packs.core.console.graph import render_graph
from packs.core.console.sessions import ConsoleUser
from packs.core.console.web import PREFIX, page, service_of
from packs.core.tools.errors import ValidationError


class WorkflowsController(Controller):
    """The workflows pages."""

    path = "/workflows"
    include_in_schema = False

    @get("/")
    async def index(self, request: Request[Any, Any, Any], user: ConsoleUser) -> Template:
        """Every loaded workflow."""
        definitions = service_of(request).definitions
        workflows = [definitions[key] for key in sorted(definitions)]
        return await page(request, "workflows.html", user, title="Workflows", workflows=workflows)

    @get("/{workflow_id:str}")
    async def show(self, request: Request[Any, Any, Any], user: ConsoleUser, workflow_id: str) -> Template:
        """One workflow: description, version, graph, inputs and the ``Start`` form."""
        definition = service_of(request).definition(workflow_id)
        return await page(
            request,
            "workflow.html",
            user,
            title=f"Workflow {definition.name}",
            definition=definition,
            graph=render_graph(definition),
            fields=input_fields(definition),
            form_error=None,
        )

    @post("/{workflow_id:str}/start", status_code=303)
    async def start(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, user: ConsoleUser, workflow_id: str
    ) -> Template | Redirect:
        """Start an execution from the form and open it; a value that does not fit shows the form again with the
        problem next to its field (422)."""
        service = service_of(request)
        definition = service.definition(workflow_id)
        form = dict((await request.form()).items())
        fields = input_fields(definition)
        submitted = parse(fields, form)
        error = None
        if not submitted.errors:
            try:
                started = await service.start_as(
                    workflow_id, submitted.values, workspace_id=str(user.workspace_id), user_id=str(user.user_id)
                )
                execution = started.execution
            except ValidationError as invalid:
                error = invalid.message
            else:
                await record_action(
                    db_session,
                    workspace_id=user.workspace_id,
                    actor_id=user.user_id,
                    action="start",
                    target_id=execution.id,
                    source="console",
                    details={"workflow_id": workflow_id},
                )
                await db_session.commit()
                await db_session.close()
                return Redirect(f"{PREFIX}/executions/{execution.id}", status_code=303)
        return await page(
            request,
            "workflow.html",
            user,
            status_code=422,
            title=f"Workflow {definition.name}",
            definition=definition,
            graph=render_graph(definition),
            fields=with_values(fields, form, submitted.errors),
            form_error=error or "Some values need fixing: see the fields marked below.",
        )
