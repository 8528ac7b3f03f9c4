"""Parsed workflow documents: ``WorkflowDef``, ``StepDef`` and ``InputDef``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from packs.core.workflow.language.references import references_in, root_of
from packs.core.workflow.language.retry import Catcher, Retrier

FINISHED = "__FINISHED__"
"""A target meaning: stop here."""


@dataclass(frozen=True)
class InputDef:
    """One declared input: its JSON Schema (``type`` and any further keywords), whether required, its default."""

    name: str
    type: str | None = None
    required: bool = True
    default: Any = None
    description: str | None = None
    schema: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepDef:
    """One step: ``id``, ``type``, its type's ``config``, ``next`` and ``on_error``.

    ``config`` holds the type's configuration as written (nested steps of ``loop.do`` and
    ``parallel.branches`` already parsed into ``StepDef``); ``settings`` holds it converted to the
    type's config struct, when the type declares one.
    """

    id: str
    type: str
    config: dict[str, Any] = field(default_factory=dict)
    next: str | None = None
    on_error: str | None = None
    settings: Any = None
    path: str = ""
    retry: tuple[Retrier, ...] = ()
    """The step's retriers, in order (``retry``, or a ``call``'s ``retries`` shorthand)."""
    catch: tuple[Catcher, ...] = ()
    """The step's catchers, in order."""

    @property
    def children(self) -> list[StepDef]:
        """Nested steps (loop body or parallel branches), in order."""
        nested = self.config.get("do") if self.type == "loop" else self.config.get("branches")
        return [child for child in nested or [] if isinstance(child, StepDef)]


@dataclass(frozen=True)
class WorkflowDef:
    """A loaded, validated workflow."""

    id: str
    name: str
    steps: tuple[StepDef, ...]
    version: str = "1.0"
    description: str | None = None
    timeout: float | None = None
    inputs: dict[str, InputDef] = field(default_factory=dict)
    source: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {step.id: step for step in self.steps})

    @property
    def content_hash(self) -> str:
        """SHA-256 of the document as written (canonical JSON): what an execution records to find it again."""
        cached: str | None = self.__dict__.get("_content_hash")
        if cached is None:
            cached = content_hash(self.raw)
            object.__setattr__(self, "_content_hash", cached)
        return cached

    @property
    def uses_history(self) -> bool:
        """Whether any step may read ``$history`` (found in the document, once): only then does a resumed
        or recovered run load the entries recorded so far (docs/workflow-language.md, section 3)."""
        cached: bool | None = self.__dict__.get("_uses_history")
        if cached is None:
            cached = any(mentions_history(step.config) for step in self.walk())
            object.__setattr__(self, "_uses_history", cached)
        return cached

    def step(self, step_id: str) -> StepDef:
        """The top-level step ``step_id``; ``KeyError`` when there is none."""
        by_id: dict[str, StepDef] = object.__getattribute__(self, "_by_id")
        return by_id[step_id]

    def has_step(self, step_id: str) -> bool:
        """Whether a top-level step ``step_id`` exists."""
        by_id: dict[str, StepDef] = object.__getattribute__(self, "_by_id")
        return step_id in by_id

    @property
    def first_step(self) -> StepDef:
        """The entry point: the first step of the document."""
        return self.steps[0]

    def walk(self) -> Iterator[StepDef]:
        """Every step, nested ones included, depth first."""
        stack = list(reversed(self.steps))
        while stack:
            step = stack.pop()
            yield step
            stack.extend(reversed(step.children))


HISTORY = "history"
"""The root of ``$history``, the entries recorded so far."""


def mentions_history(value: Any) -> bool:
    """Whether ``value`` (a step's config as written; nested steps are skipped, :meth:`WorkflowDef.walk` visits
    them) may reach ``$history``: a ``$history`` reference in a string, or a string that is a path from
    ``history`` (a condition's ``field``). Erring on the side of yes: a false yes only costs a read."""
    if isinstance(value, str):
        if HISTORY not in value:
            return False
        if value == HISTORY or value.startswith(f"{HISTORY}."):
            return True
        return any(root_of(path) == HISTORY for path in references_in(value))
    if isinstance(value, Mapping):
        return any(mentions_history(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(mentions_history(item) for item in value)
    return False


def content_hash(document: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of ``document`` as canonical JSON (sorted keys)."""
    encoded = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(encoded).hexdigest()
