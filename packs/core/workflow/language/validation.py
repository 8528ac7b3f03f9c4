"""Whole-workflow checks: ids, targets, reachability, references, conditions, schemas.

See docs/workflow-language.md, section 7.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import jsonschema
import msgspec

from packs.core.workflow.language.approvals import approval_problems
from packs.core.workflow.language.conditions import check_condition
from packs.core.workflow.language.definition import FINISHED, StepDef, WorkflowDef
from packs.core.workflow.language.references import ALWAYS_AVAILABLE, REFERENCE, references_in, root_of, split_path
from packs.core.workflow.language.transforms import check_expression
from packs.core.workflow.language.waits import wait_problems
from packs.core.workflow.names import signal_name_problem
from packs.core.workflow.steps.configs import OutputSchema

NESTED_CONFIG = ("do", "branches")


def check_workflow(definition: WorkflowDef, references: bool = True) -> list[str]:
    """Every problem of a parsed workflow, in document order (references only when ``references`` is true)."""
    problems: list[str] = []
    problems.extend(_duplicate_ids(definition))
    problems.extend(_targets(definition))
    problems.extend(_unreachable(definition))
    for step in definition.walk():
        problems.extend(_conditions_and_expressions(step))
        problems.extend(_output_schema(step))
        problems.extend(wait_problems(step))
        problems.extend(_receive_signal(step))
        problems.extend(approval_problems(step))
    if references and not problems:
        problems.extend(_references(definition))
    return problems


def _receive_signal(step: StepDef) -> Iterator[str]:
    """A ``receive`` step's ``signal`` must be a name a sender can send (docs/http-api.md, Signals)."""
    name = step.config.get("signal") if step.type == "receive" else None
    if isinstance(name, str) and (problem := signal_name_problem(name)) is not None:
        yield f"step {step.id!r} field 'signal': the signal name {problem}: no sender could send it"


def targets_of(step: StepDef) -> list[tuple[str, str]]:
    """``(field, target)`` for every step id ``step`` may go to (``next``, ``on_error``, routes, ...)."""
    found: list[tuple[str, str]] = []
    if step.next:
        found.append(("next", step.next))
    if step.on_error:
        found.append(("on_error", step.on_error))
    found.extend((f"catch[{index}].next", catcher.next) for index, catcher in enumerate(step.catch))
    config = step.config
    if step.type == "router":
        for index, route in enumerate(config.get("routes") or []):
            if isinstance(route, dict) and isinstance(route.get("then"), str):
                found.append((f"routes[{index}].then", route["then"]))
    for key in ("default", "on_exhausted", "resume_step", "on_reject", "on_timeout"):
        if step.type in _TARGET_FIELDS.get(key, ()) and isinstance(config.get(key), str):
            found.append((key, config[key]))
    return found


_TARGET_FIELDS = {
    "default": ("router",),
    "on_exhausted": ("loop",),
    "resume_step": ("halt",),
    "on_reject": ("approval",),
    "on_timeout": ("approval", "receive"),
}


def _duplicate_ids(definition: WorkflowDef) -> Iterator[str]:
    seen: set[str] = set()
    for step in definition.walk():
        if step.id in seen:
            yield f"step {step.id!r} field 'id': duplicate step id (step ids must be unique in a workflow)"
        seen.add(step.id)


def _targets(definition: WorkflowDef) -> Iterator[str]:
    for step in definition.walk():
        for field, target in targets_of(step):
            if target != FINISHED and not definition.has_step(target):
                yield f"step {step.id!r} field {field!r}: no step {target!r} (use an existing step id or {FINISHED})"


def _unreachable(definition: WorkflowDef) -> Iterator[str]:
    reachable = {definition.first_step.id}
    frontier = [definition.first_step]
    while frontier:
        step = frontier.pop()
        for _, target in targets_of(step):
            if target not in reachable and definition.has_step(target):
                reachable.add(target)
                frontier.append(definition.step(target))
    for step in definition.steps:
        if step.id not in reachable:
            yield f"step {step.id!r}: unreachable (no next, route or other target leads to it from the first step)"


def _conditions_and_expressions(step: StepDef) -> Iterator[str]:
    label = f"step {step.id!r}"
    if step.type == "router":
        for index, route in enumerate(step.config.get("routes") or []):
            yield from check_condition(
                route.get("when") if isinstance(route, dict) else route, f"{label} routes[{index}].when"
            )
    if step.type == "loop":
        if "while" in step.config:
            yield from check_condition(step.config["while"], f"{label} while")
            if "over" in step.config:
                yield f"{label}: give either 'over' (foreach) or 'while', not both"
        elif "over" not in step.config:
            yield f"{label}: a loop needs 'over' (foreach) or 'while'"
    if step.type == "transform":
        yield from check_expression(step.config.get("expression"), f"{label} expression")


def _output_schema(step: StepDef) -> Iterator[str]:
    if step.type == "call" and isinstance(getattr(step.settings, "output", None), OutputSchema):
        try:
            jsonschema.Draft202012Validator.check_schema(step.settings.output.schema)
        except jsonschema.SchemaError as error:
            yield f"step {step.id!r} field 'output.schema': invalid JSON Schema: {error.message}"


def sets_of(step: StepDef) -> set[str]:
    """Context variables ``step`` (and its nested steps) may set."""
    names = direct_sets_of(step)
    for child in step.children:
        names.update(sets_of(child))
    if step.type == "loop" and step.settings is not None:
        names.difference_update((step.settings.as_, step.settings.index_as, "iteration"))
    return names


def loop_variables(step: StepDef) -> set[str]:
    """The variables a loop sets for its body only and removes after it (``as``/``index_as`` or ``iteration``),
    unless they were set before it: then they get back the value they had."""
    if step.type != "loop" or step.settings is None:
        return set()
    return {"iteration"} if step.settings.while_ is not None else {step.settings.as_, step.settings.index_as}


def direct_sets_of(step: StepDef) -> set[str]:
    """Context variables ``step`` itself may set (not counting its nested steps)."""
    names: set[str] = set()
    settings = step.settings
    if step.type == "start":
        names.add("input")
    elif step.type == "assign" and settings is not None:
        names.update(settings.set)
    elif step.type in ("halt", "approval"):
        names.update(("response", "approved"))
    output = getattr(settings, "output", None)
    if isinstance(output, OutputSchema):
        names.add(output.key)
    elif isinstance(output, str):
        names.add(output)
    return names


def _references(definition: WorkflowDef) -> list[str]:
    available_in = _available(definition)
    schemas = _output_schemas(definition)
    problems: list[str] = []
    for step in definition.steps:
        problems.extend(_check_step_references(step, available_in.get(step.id, set()), schemas))
    return problems


def _available(definition: WorkflowDef) -> dict[str, set[str]]:
    """For each top-level step, the variables some path from the first step may have set before it."""
    available: dict[str, set[str]] = {step.id: set() for step in definition.steps}
    changed = True
    while changed:
        changed = False
        for step in definition.steps:
            before = available[step.id]
            after = before | (sets_of(step) - loop_variables(step))  # a loop's variables give back what they hid
            for field, target in targets_of(step):
                if target == FINISHED or target not in available:
                    continue
                incoming = before | {"_last_error"} if field == "on_error" else after
                if field in (caught := _caught_errors(step)):
                    incoming = before | caught[field]
                if not incoming <= available[target]:
                    available[target] |= incoming
                    changed = True
    return available


def _caught_errors(step: StepDef) -> dict[str, set[str]]:
    """For each ``catch[i].next`` field of ``step``, the variable its catcher sets (its ``output``), if any."""
    return {
        f"catch[{index}].next": {catcher.output} if catcher.output else set()
        for index, catcher in enumerate(step.catch)
    }


def _output_schemas(definition: WorkflowDef) -> dict[str, dict[str, Any]]:
    schemas: dict[str, dict[str, Any]] = {}
    untyped: set[str] = set()
    for step in definition.walk():
        output = getattr(step.settings, "output", None)
        if isinstance(output, OutputSchema):
            schemas[output.key] = output.schema
        else:
            untyped.update(direct_sets_of(step))
    return {key: schema for key, schema in schemas.items() if key not in untyped}


def _check_step_references(step: StepDef, available: set[str], schemas: dict[str, dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    label = f"step {step.id!r}"
    scope = set(available) | ALWAYS_AVAILABLE
    if step.type == "assign" and step.settings is not None:
        for key, value in step.settings.set.items():
            problems.extend(_unknown(references_in(value), scope, f"{label} field 'set.{key}'", schemas))
            scope.add(key)
        return problems
    # A loop body runs again after itself: each body step, and a while condition, sees what any body step sets.
    looped = scope | loop_variables(step) | {name for child in step.children for name in sets_of(child)}
    for field, value in step.config.items():
        if (
            field in NESTED_CONFIG
            or (field == "output" and isinstance(getattr(step.settings, "output", None), OutputSchema))
            or (field == "form" and step.type == "approval")  # a JSON Schema, never resolved
        ):
            continue
        where = f"{label} field {field!r}"
        field_scope = looped if step.type == "loop" and field == "while" else scope
        problems.extend(_unknown(references_in(_without_patterns(value)), field_scope, where, schemas))
    for field, path in _condition_fields(step):
        problems.extend(
            _unknown([path], looped if field == "while.field" else scope, f"{label} field {field!r}", schemas)
        )
    name = getattr(step.settings, "input", None) if step.type == "transform" else None
    if isinstance(name, str) and REFERENCE.fullmatch(f"${name}") and "." not in name:
        problems.extend(_unknown([name], scope, f"{label} field 'input'", schemas))
    for child in step.children:
        inner = looped if step.type == "loop" else scope
        problems.extend(_check_step_references(child, inner - ALWAYS_AVAILABLE, schemas))
    return problems


def _without_patterns(value: Any) -> Any:
    """``value`` minus the ``value`` of ``matches`` conditions: a pattern is a literal, ``$`` included."""
    if isinstance(value, dict):
        is_pattern = value.get("op") == "matches"
        return {k: _without_patterns(v) for k, v in value.items() if not (is_pattern and k == "value")}
    if isinstance(value, list):
        return [_without_patterns(item) for item in value]
    return value


def _condition_fields(step: StepDef) -> Iterator[tuple[str, str]]:
    conditions: list[tuple[str, Any]] = []
    if step.type == "router" and step.settings is not None:
        conditions = [(f"routes[{i}].when.field", route.when) for i, route in enumerate(step.settings.routes)]
    elif step.type == "loop" and step.settings is not None and step.settings.while_ is not None:
        conditions = [("while.field", step.settings.while_)]
    for field, condition in conditions:
        path = msgspec.to_builtins(condition).get("field")
        if isinstance(path, str) and path:
            yield field, path


def _unknown(paths: Iterable[str], scope: set[str], where: str, schemas: dict[str, dict[str, Any]]) -> Iterator[str]:
    for path in paths:
        root = root_of(path)
        if root not in scope:
            known = ", ".join(sorted(scope - ALWAYS_AVAILABLE)) or "none"
            yield (
                f"{where}: references ${path}, but no step on any path before it sets {root!r} "
                f"(variables set before it: {known}; always available: {', '.join(sorted(ALWAYS_AVAILABLE))})"
            )
        elif root in schemas:
            yield from _schema_path(path, schemas[root], where)


def _schema_path(path: str, schema: dict[str, Any], where: str) -> Iterator[str]:
    segments = split_path(path)
    current: Any = schema
    for depth, segment in enumerate(segments[1:], start=1):
        if not isinstance(current, dict):
            return
        if segment.isdigit() and isinstance(current.get("items"), dict):
            current = current["items"]
            continue
        properties = current.get("properties")
        if not isinstance(properties, dict):
            return
        if segment not in properties:
            parent = ".".join(segments[:depth])
            yield (
                f"{where}: references ${path}, but the output schema of ${parent} has no property {segment!r} "
                f"(properties: {', '.join(properties) or 'none'})"
            )
            return
        current = properties[segment]
