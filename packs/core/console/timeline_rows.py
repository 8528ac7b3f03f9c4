"""The rows of an execution's timeline as HTML, written in Python: a page of a thousand entries renders each row
with one call instead of a Jinja macro and three template calls per entry (the macro's machinery was most of
the page's time; bench/console.py)."""

from __future__ import annotations

from typing import Any

import msgspec
from markupsafe import Markup, escape

from packs.core.console.web import milliseconds, when
from packs.core.workflow import Entry


def pretty_json(value: Any) -> str:
    """``value`` as indented JSON (msgspec's encoder, as the templates' ``pretty`` filter)."""
    return msgspec.json.format(msgspec.json.encode(value), indent=2).decode()


def entry_details(entry: Entry) -> Markup:
    """The entry's input, output and error behind a ``Show`` disclosure (nothing when it has none)."""
    if entry.input is None and entry.output is None and not entry.error:
        return Markup("")
    parts = ["<details>\n  <summary>Show</summary>\n  "]
    if entry.input is not None:
        parts.append(f"<h3>Input</h3><pre>{escape(pretty_json(entry.input))}</pre>")
    if entry.output is not None:
        parts.append(f"<h3>Output</h3><pre>{escape(pretty_json(entry.output))}</pre>")
    if entry.error:
        parts.append(f'<h3>Error</h3><pre class="error">{escape(entry.error)}</pre>')
    parts.append("\n</details>")
    return Markup("".join(parts))


def entry_row(entry: Entry, attempt: int) -> Markup:
    """A top-level step's entry: step (the row's header), type, action, duration, attempt, time, details."""
    return Markup(
        f'<tr class="action-{escape(entry.action)}">'
        f'<th scope="row">{escape(entry.step_id)}</th><td>{escape(entry.step_type)}</td><td>{escape(entry.action)}</td>'
        f"<td>{escape(milliseconds(entry.duration_ms))}</td><td>{attempt}</td><td>{escape(when(entry.timestamp))}</td>"
        f"<td>{entry_details(entry)}</td></tr>"
    )


def child_row(entry: Entry, attempt: int) -> Markup:
    """A loop's or parallel branch's entry, under its step: action, duration, attempt, time, details."""
    return Markup(
        f'<tr class="action-{escape(entry.action)}"><td>{escape(entry.action)}</td>'
        f"<td>{escape(milliseconds(entry.duration_ms))}</td><td>{attempt}</td><td>{escape(when(entry.timestamp))}</td>"
        f"<td>{entry_details(entry)}</td></tr>"
    )


__all__ = ["child_row", "entry_details", "entry_row"]
