"""The rows of the executions table as HTML, written in Python: fifty rows with one call instead of the
template's five calls and a macro per row (bench/console.py); values escaped as :func:`escaped` does."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from markupsafe import Markup

from packs.core.console.timeline_rows import escaped
from packs.core.console.web import PREFIX, duration, when

if TYPE_CHECKING:
    from packs.core.console.executions import Row


def _status(value: str) -> str:
    return (
        f'<span class="status status-{escaped(value)}"><span class="dot" aria-hidden="true"></span>'
        f"{escaped(value.capitalize())}</span>"
    )


def status_html(value: str) -> Markup:
    """A status in words with its colour dot (what the ``status`` macro of ``_status.html`` draws)."""
    return Markup(_status(str(value)))


def _row(row: Row, people: dict[str, str]) -> str:
    execution = row.execution
    halt = execution.halt_data.get("type") if execution.halt_data else None
    waiting = f' <span class="muted">({escaped(str(halt))})</span>' if halt else ""
    started_by = people.get(str(execution.created_by_id), execution.created_by_id or "")
    if row.duration_end is not None:
        took = duration(execution.created_at, row.duration_end)
    else:
        took = "running" if execution.status == "running" else ""
    key = escaped(str(execution.id))
    return (
        f'<tr>\n      <td><a href="{PREFIX}/executions/{key}">{escaped(execution.workflow_id)}</a>'
        f' <span class="muted id">{escaped(str(execution.id)[:8])}</span></td>\n'
        f"      <td>{_status(str(execution.status))}{waiting}</td>\n"
        f"      <td>{escaped(when(execution.created_at))}</td>\n"
        f"      <td>{escaped(str(started_by))}</td>\n"
        f"      <td>{escaped(took)}</td>\n    </tr>"
    )


def execution_row(row: Row, people: dict[str, str]) -> Markup:
    """One execution: workflow (a link to its page) and short id, status (and what it waits for), started,
    started by, duration (``running`` while it runs)."""
    return Markup(_row(row, people))


def execution_rows(rows: Iterable[Row], people: dict[str, str]) -> Markup:
    """:func:`execution_row` of each row, as one piece of HTML."""
    return Markup("\n    ".join(_row(row, people) for row in rows))


__all__ = ["execution_row", "execution_rows", "status_html"]
