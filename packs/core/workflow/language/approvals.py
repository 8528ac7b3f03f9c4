"""Load-time checks of ``approval`` steps: the approvers syntax, the quorum and the ``form`` schema.

See docs/workflow-language.md, step type ``approval``; the problems are listed with every other
problem of the file.
"""

from __future__ import annotations

from collections.abc import Iterator

import jsonschema

from packs.core.workflow.decisions import approver_problem, unreachable_quorum
from packs.core.workflow.language.definition import StepDef


def approval_problems(step: StepDef) -> Iterator[str]:
    """Every problem of an ``approval`` step's ``approvers``, ``quorum`` and ``form`` (nothing for other steps)."""
    if step.type != "approval":
        return
    label = f"step {step.id!r}"
    approvers = step.config.get("approvers")
    if isinstance(approvers, list):
        for index, entry in enumerate(approvers):
            if (problem := approver_problem(entry)) is not None:
                yield f"{label} field 'approvers[{index}]': {problem}"
        quorum = step.config.get("quorum", 1)
        counted = isinstance(quorum, int) and not isinstance(quorum, bool) and bool(approvers)
        if counted and (problem := unreachable_quorum(approvers, quorum)) is not None:
            yield f"{label} field 'quorum': {problem}"
    form = step.config.get("form")
    if isinstance(form, dict):
        try:
            jsonschema.Draft202012Validator.check_schema(form)
        except jsonschema.SchemaError as error:
            pointer = "".join(f"/{part}" for part in error.absolute_path)
            yield f"{label} field 'form': invalid JSON Schema at {pointer or '/'}: {error.message}"
