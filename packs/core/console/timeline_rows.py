"""The rows of an execution's timeline as HTML, written in Python: a page of a thousand entries renders a group's
rows with one call instead of a Jinja macro and three template calls per entry (the macro's machinery was most
of the page's time; bench/console.py). Values repeated from row to row (step ids, types, actions, durations)
are escaped once; the rest with plain string replaces (markupsafe's escape makes a ``Markup`` object per value,
which costs more than the escaping)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import msgspec
from markupsafe import Markup

from packs.core.console.web import milliseconds, when
from packs.core.workflow import Entry


def pretty_json(value: Any) -> str:
    """``value`` as indented JSON (msgspec's encoder, as the templates' ``pretty`` filter)."""
    return msgspec.json.format(msgspec.json.encode(value), indent=2).decode()


def escaped(text: str) -> str:
    """``text`` escaped for HTML as markupsafe escapes it (``&``, ``<``, ``>``, ``"``, ``'``)."""
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;").replace("'", "&#39;")
    )


@lru_cache(maxsize=4096)
def _short(text: str) -> str:
    return escaped(text)


@lru_cache(maxsize=1024)
def _duration(value: int | None) -> str:
    return escaped(milliseconds(value))


def _details(entry: Entry) -> str:
    if entry.input is None and entry.output is None and not entry.error:
        return ""
    parts = ["<details>\n  <summary>Show</summary>\n  "]
    if entry.input is not None:
        parts.append(f"<h3>Input</h3><pre>{escaped(pretty_json(entry.input))}</pre>")
    if entry.output is not None:
        parts.append(f"<h3>Output</h3><pre>{escaped(pretty_json(entry.output))}</pre>")
    if entry.error:
        parts.append(f'<h3>Error</h3><pre class="error">{escaped(entry.error)}</pre>')
    parts.append("\n</details>")
    return "".join(parts)


def _row(entry: Entry, attempt: int | None, with_step: bool) -> str:
    action = _short(entry.action)
    step = f'<th scope="row">{_short(entry.step_id)}</th><td>{_short(entry.step_type)}</td>' if with_step else ""
    return (
        f'<tr class="action-{action}">{step}<td>{action}</td>'
        f'<td>{_duration(entry.duration_ms)}</td><td class="attempt">{"" if attempt is None else attempt}</td>'
        f"<td>{escaped(when(entry.timestamp))}</td>"
        f"<td>{_details(entry)}</td></tr>"
    )


def entry_details(entry: Entry) -> Markup:
    """The entry's input, output and error behind a ``Show`` disclosure (nothing when it has none)."""
    return Markup(_details(entry))


def entry_row(entry: Entry, attempt: int | None) -> Markup:
    """A top-level step's entry: step (the row's header), type, action, duration, attempt, time, details."""
    return Markup(_row(entry, attempt, True))


def child_row(entry: Entry, attempt: int | None) -> Markup:
    """A loop's or parallel branch's entry, under its step: action, duration, attempt, time, details."""
    return Markup(_row(entry, attempt, False))


def entry_rows(entries: Iterable[tuple[Entry, int | None]]) -> Markup:
    """:func:`entry_row` of each ``(entry, attempt)``, as one piece of HTML."""
    return Markup("\n".join(_row(entry, attempt, True) for entry, attempt in entries))


def child_rows(entries: Iterable[tuple[Entry, int | None]]) -> Markup:
    """:func:`child_row` of each ``(entry, attempt)``, as one piece of HTML."""
    return Markup("\n".join(_row(entry, attempt, False) for entry, attempt in entries))


__all__ = ["child_row", "child_rows", "entry_details", "entry_row", "entry_rows", "escaped", "pretty_json"]
