"""The SVG graph of a workflow definition, drawn on the server from its steps: the path an execution took and
its current step highlighted (README, "The operations console").

Steps are laid out top to bottom in layers (a step's layer is its distance from the first step), each
step a box naming its id and type; an arrow for every target a step may go to (``next``, ``on_error``,
routes, ...). A loop's or a parallel step's nested steps are listed inside its box.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from html import escape
from itertools import pairwise

from packs.core.workflow import WorkflowDef
from packs.core.workflow.language.validation import targets_of

BOX_WIDTH = 168
BOX_HEIGHT = 46
GAP_X = 28
GAP_Y = 44
LINE = 13


@dataclass(frozen=True)
class Placed:
    """A step's box."""

    id: str
    type: str
    x: int
    y: int
    height: int
    children: tuple[str, ...]


def _layers(definition: WorkflowDef) -> dict[str, int]:
    """Each top-level step's distance from the first step (unreachable steps after the last layer)."""
    depth = {definition.first_step.id: 0}
    queue = deque([definition.first_step.id])
    while queue:
        step_id = queue.popleft()
        for _, target in targets_of(definition.step(step_id)):
            if definition.has_step(target) and target not in depth:
                depth[target] = depth[step_id] + 1
                queue.append(target)
    last = max(depth.values(), default=0)
    for step in definition.steps:
        depth.setdefault(step.id, last + 1)
    return depth


def layout(definition: WorkflowDef) -> tuple[list[Placed], int, int]:
    """The boxes of the top-level steps and the drawing's width and height."""
    depth = _layers(definition)
    rows: dict[int, list[str]] = {}
    for step in definition.steps:
        rows.setdefault(depth[step.id], []).append(step.id)
    widest = max(len(row) for row in rows.values())
    width = widest * (BOX_WIDTH + GAP_X) + GAP_X
    placed: list[Placed] = []
    y = GAP_Y // 2
    for layer in sorted(rows):
        row = rows[layer]
        offset = (width - len(row) * (BOX_WIDTH + GAP_X) + GAP_X) // 2
        tallest = BOX_HEIGHT
        for index, step_id in enumerate(row):
            step = definition.step(step_id)
            children = tuple(child.id for child in step.children)
            height = BOX_HEIGHT + LINE * len(children)
            tallest = max(tallest, height)
            placed.append(Placed(step_id, step.type, offset + index * (BOX_WIDTH + GAP_X), y, height, children))
        y += tallest + GAP_Y
    return placed, width, y - GAP_Y // 2


def _clip(text: str, size: int = 22) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def _state(step_id: str, visited: Collection[str], current: str | None, failed: Collection[str]) -> str:
    """What the box says besides its type (in words, not only in colour)."""
    if step_id == current:
        return "current"
    if step_id in failed:
        return "failed"
    return "ran" if step_id in visited else ""


def render_graph(
    definition: WorkflowDef,
    *,
    visited: Collection[str] = (),
    path: Sequence[str] = (),
    current: str | None = None,
    failed: Collection[str] = (),
) -> str:
    """The SVG of ``definition``: ``visited`` steps filled, the transitions of ``path`` (the steps in the order
    the execution ran them) drawn bold, ``current`` outlined, ``failed`` steps marked."""
    placed, width, height = layout(definition)
    boxes = {box.id: box for box in placed}
    taken = {(a, b) for a, b in pairwise(path) if a != b}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-labelledby="graph-title-{escape(definition.id)}">',
        f'<title id="graph-title-{escape(definition.id)}">Steps of workflow {escape(definition.name)}'
        + (f", current step {escape(current)}" if current else "")
        + "</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="currentColor"/></marker></defs>',
    ]
    for box in placed:
        for field, target in targets_of(definition.step(box.id)):
            if target not in boxes:
                continue
            end = boxes[target]
            x1, y1 = box.x + BOX_WIDTH // 2, box.y + box.height
            x2, y2 = end.x + BOX_WIDTH // 2, end.y
            if end.y <= box.y:  # a way back up: around the right side
                x1, y1, x2, y2 = box.x + BOX_WIDTH, box.y + box.height // 2, end.x + BOX_WIDTH, end.y + end.height // 2
                shape = f"M {x1} {y1} C {x1 + 40} {y1}, {x2 + 40} {y2}, {x2} {y2}"
            else:
                shape = f"M {x1} {y1} C {x1} {(y1 + y2) // 2}, {x2} {(y1 + y2) // 2}, {x2} {y2}"
            kind = "edge taken" if (box.id, target) in taken else "edge"
            if field == "on_error":
                kind += " error"
            parts.append(
                f'<path class="{kind}" d="{shape}" marker-end="url(#arrow)"><title>{escape(box.id)} → '
                f"{escape(target)} ({escape(field)})</title></path>"
            )
    for box in placed:
        classes = ["step"]
        if box.id in visited:
            classes.append("visited")
        if box.id in failed:
            classes.append("failed")
        if box.id == current:
            classes.append("current")
        state = _state(box.id, visited, current, failed)
        parts.append(
            f'<g class="{" ".join(classes)}" data-step="{escape(box.id)}"><rect x="{box.x}" y="{box.y}" '
            f'width="{BOX_WIDTH}" height="{box.height}" rx="6"/>'
            f'<text x="{box.x + 10}" y="{box.y + 19}" class="name">{escape(_clip(box.id))}</text>'
            f'<text x="{box.x + 10}" y="{box.y + 36}" class="type">{escape(box.type)}'
            + (f" · {state}" if state else "")
            + "</text>"
        )
        for index, child in enumerate(box.children):
            parts.append(
                f'<text x="{box.x + 18}" y="{box.y + 36 + LINE * (index + 1)}" class="child">'
                f"↳ {escape(_clip(child, 20))}</text>"
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


__all__ = ["layout", "render_graph"]
