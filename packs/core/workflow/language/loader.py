"""Loading workflow documents: YAML text, a file, or a dict, parsed and validated
(docs/workflow-language.md, section 7).

Every problem is collected and reported together in one :class:`ValidationError`, each message
naming the step and the field.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import yaml

from packs.core.workflow.errors import ValidationError
from packs.core.workflow.language.definition import InputDef, StepDef, WorkflowDef
from packs.core.workflow.language.retry import parse_catch, parse_retry, shorthand_retry
from packs.core.workflow.language.validation import check_workflow
from packs.core.workflow.language.yaml_text import read_yaml
from packs.core.workflow.steps.registry import step_types

TOP_LEVEL_KEYS = ("id", "name", "version", "description", "timeout", "inputs", "steps")
STEP_KEYS = ("id", "type", "next", "on_error", "retry", "catch")
INPUT_TYPES = ("string", "integer", "number", "boolean", "array", "object")
NESTED_FIELD = {"loop": "do", "parallel": "branches"}
NOT_NESTABLE = ("start", "end", "router", "halt", "approval", "receive", "wait")

BeforeParse = Callable[[dict[str, Any]], dict[str, Any] | None]
AfterParse = Callable[[WorkflowDef, dict[str, Any]], WorkflowDef | None]
ConfigTransform = Callable[[dict[str, Any]], dict[str, Any]]

_before_parse: list[BeforeParse] = []
_after_parse: list[AfterParse] = []
_config_transforms: dict[str, list[ConfigTransform]] = {}


def before_parse(hook: BeforeParse) -> BeforeParse:
    """Run ``hook(raw)`` on every document before parsing; a returned dict replaces the document."""
    _before_parse.append(hook)
    return hook


def after_parse(hook: AfterParse) -> AfterParse:
    """Run ``hook(definition, raw)`` after parsing (``raw``: the document as written); a result replaces it."""
    _after_parse.append(hook)
    return hook


def transform_config(type_name: str, hook: ConfigTransform) -> ConfigTransform:
    """Rewrite the configuration of every step of ``type_name`` with ``hook(raw_config)`` before it is checked."""
    _config_transforms.setdefault(type_name, []).append(hook)
    return hook


def clear_parser_hooks() -> None:
    """Remove every parser hook."""
    _before_parse.clear()
    _after_parse.clear()
    _config_transforms.clear()


def load(source: str | Path | dict[str, Any]) -> WorkflowDef:
    """Parse and validate a workflow from YAML text, a file path or a dict; raise :class:`ValidationError`."""
    raw, origin = _read(source)
    original = copy.deepcopy(raw)
    for hook in _before_parse if isinstance(raw, dict) else ():
        replaced = hook(raw)
        if replaced is not None:
            raw = replaced
    problems: list[str] = []
    definition = _parse(raw, origin, problems)
    if definition is not None:
        # The graph checks run even after parse problems (all problems are reported together); the reference
        # checks need every step's settings, so they wait until the rest is clean.
        problems.extend(check_workflow(definition, references=not problems))
    if problems or definition is None:
        raise ValidationError(problems or ["the document could not be parsed"], origin)
    for after in _after_parse:
        replaced_definition = after(definition, original)
        if replaced_definition is not None:
            definition = replaced_definition
    return definition


def _read(source: str | Path | dict[str, Any]) -> tuple[Any, str | None]:
    if isinstance(source, dict):
        return copy.deepcopy(source), None
    if not isinstance(source, str | Path):
        return source, None
    origin: str | None = None
    if isinstance(source, Path) or ("\n" not in source and source.strip().endswith((".yml", ".yaml"))):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise ValidationError([f"cannot read {path}: {error.strerror or error}"], str(path)) from None
        origin = str(path)
    else:
        text = source
    try:
        return read_yaml(text, origin), origin
    except yaml.YAMLError as error:
        raise ValidationError([f"YAML syntax error: {error}"], origin) from None


def _parse(raw: Any, origin: str | None, problems: list[str]) -> WorkflowDef | None:
    if not isinstance(raw, dict):
        problems.append(f"the document must be a mapping with id, name and steps, got {_kind(raw)}")
        return None
    for key in raw:
        if key not in TOP_LEVEL_KEYS:
            problems.append(f"unknown top-level key {key!r} (allowed: {', '.join(TOP_LEVEL_KEYS)})")
    workflow_id = _required_text(raw, "id", "workflow", problems)
    name = _required_text(raw, "name", "workflow", problems)
    version = raw.get("version", "1.0")
    if not isinstance(version, str | int | float) or isinstance(version, bool):
        problems.append(f"workflow field 'version' must be a string, got {_kind(version)}")
    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        problems.append(f"workflow field 'description' must be a string, got {_kind(description)}")
    timeout = raw.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0):
        problems.append(f"workflow field 'timeout' must be a positive number of seconds, got {timeout!r}")
    inputs = _inputs(raw.get("inputs"), problems)
    steps_raw = raw.get("steps")
    steps: list[StepDef] = []
    if not isinstance(steps_raw, list) or not steps_raw:
        problems.append("workflow field 'steps' must be a non-empty list of steps")
    else:
        for index, step_raw in enumerate(steps_raw):
            step = _step(step_raw, f"steps[{index}]", problems, parent=None)
            if step is not None:
                steps.append(step)
    if not isinstance(steps_raw, list) or not steps or len(steps) < len(steps_raw):
        return None
    return WorkflowDef(
        id=workflow_id,
        name=name,
        version=str(version),
        description=description,
        timeout=float(timeout) if timeout is not None else None,
        inputs=inputs,
        steps=tuple(steps),
        source=origin,
        raw=raw,
    )


def _inputs(raw: Any, problems: list[str]) -> dict[str, InputDef]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(f"workflow field 'inputs' must be a mapping of input names, got {_kind(raw)}")
        return {}
    inputs: dict[str, InputDef] = {}
    for name, spec in raw.items():
        where = f"input {name!r}"
        if spec is None:
            spec = {}
        if not isinstance(spec, dict):
            problems.append(f"{where} must be a mapping (type, required, default, description, ...), got {_kind(spec)}")
            continue
        schema = {k: v for k, v in spec.items() if k not in ("required", "default", "description", "type")}
        input_type = spec.get("type")
        if input_type is not None and input_type not in INPUT_TYPES:
            problems.append(f"{where} field 'type' must be one of {', '.join(INPUT_TYPES)}, got {input_type!r}")
            continue
        required = spec.get("required", True)
        if not isinstance(required, bool):
            problems.append(f"{where} field 'required' must be true or false, got {required!r}")
            continue
        try:
            jsonschema.Draft202012Validator.check_schema({**schema, **({"type": input_type} if input_type else {})})
        except jsonschema.SchemaError as error:
            problems.append(f"{where}: invalid JSON Schema keyword: {error.message}")
            continue
        inputs[str(name)] = InputDef(
            name=str(name),
            type=input_type,
            required=required,
            default=spec.get("default"),
            description=spec.get("description"),
            schema=schema,
        )
    return inputs


def _step(raw: Any, where: str, problems: list[str], parent: StepDef | None) -> StepDef | None:
    if not isinstance(raw, dict):
        problems.append(f"{where} must be a mapping with id and type, got {_kind(raw)}")
        return None
    step_id = raw.get("id")
    if not isinstance(step_id, str) or not step_id:
        problems.append(f"{where} field 'id' is required and must be a non-empty string")
        return None
    label = f"step {step_id!r}"
    step_type = raw.get("type")
    known = step_types.get(step_type) if isinstance(step_type, str) else None
    if not isinstance(step_type, str):
        problems.append(f"{label} field 'type' is required and must be a string")
        step_type = ""
    elif known is None:
        problems.append(
            f"{label} field 'type': unknown step type {step_type!r} (known: {', '.join(step_types.names())})"
        )
    if parent is not None:
        where_in = "a loop body" if parent.type == "loop" else "a parallel branch"
        if step_type in NOT_NESTABLE:
            article = "an" if step_type[0] in "aeiou" else "a"
            problems.append(f"{label}: {article} {step_type} step cannot be inside {where_in} (step {parent.id!r})")
        for key in ("next", "on_error", "retry", "catch"):
            if key in raw:
                problems.append(f"{label} field {key!r}: steps inside {where_in} run in order; {key} is not allowed")
    targets: dict[str, str | None] = {}
    for key in ("next", "on_error"):
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            problems.append(f"{label} field {key!r} must be a step id, got {_kind(value)}")
            value = None
        targets[key] = value
    config = {key: value for key, value in raw.items() if key not in STEP_KEYS}
    for hook in _config_transforms.get(step_type, []):
        config = hook(config)
    settings = None
    if known is not None and known.config_struct is not None:
        settings = _settings(known.config_struct, config, label, problems)
    retry = parse_retry(raw.get("retry"), label, problems) if parent is None else ()
    shorthand = shorthand_retry(step_type, settings)
    if "retry" in raw and shorthand:
        problems.append(f"{label}: give either 'retry' or the shorthand 'retries', not both")
    elif parent is None and not retry:
        retry = shorthand
    nested_field = NESTED_FIELD.get(step_type)
    step = StepDef(
        id=step_id,
        type=step_type,
        config=config,
        next=targets["next"],
        on_error=targets["on_error"],
        settings=settings,
        path=step_id if parent is None else f"{parent.path}:{step_id}",
        retry=retry,
        catch=parse_catch(raw.get("catch"), label, problems) if parent is None else (),
    )
    if nested_field and isinstance(config.get(nested_field), list):
        children = [
            _step(child, f"{label} {nested_field}[{index}]", problems, parent=step)
            for index, child in enumerate(config[nested_field])
        ]
        if not children:
            problems.append(f"{label} field {nested_field!r} must list at least one step")
        config[nested_field] = [child for child in children if child is not None]
    return step


def _settings(struct: type[Any], config: dict[str, Any], label: str, problems: list[str]) -> Any:
    """``config`` converted to ``struct``, with one problem per unknown key, missing key or bad value."""
    fields = {field.encode_name: field for field in msgspec.structs.fields(struct)}
    found = len(problems)
    for key in config:
        if key not in fields:
            allowed = ", ".join([*STEP_KEYS, *fields])
            problems.append(f"{label}: unknown key {key!r} (allowed: {allowed})")
    for name, field in fields.items():
        if name not in config:
            if field.required:
                problems.append(f"{label} field {name!r} is required")
            continue
        try:
            msgspec.convert(config[name], type=field.type)
        except msgspec.ValidationError as error:
            problems.append(f"{label} field {name!r}: {_conversion_message(error)}")
    if len(problems) > found:
        return None
    return msgspec.convert(config, type=struct)


def _conversion_message(error: msgspec.ValidationError) -> str:
    message = str(error)
    marker = " - at `$"
    if marker in message:
        message, _, path = message.partition(marker)
        path = path.rstrip("`")
        if path:
            message = f"{message} (at {path})"
    return message


def _required_text(raw: dict[str, Any], key: str, owner: str, problems: list[str]) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{owner} field {key!r} is required and must be a non-empty string")
        return ""
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    return type(value).__name__
