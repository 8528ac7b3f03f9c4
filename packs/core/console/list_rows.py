"""The rows of the executions table as HTML, written in Python: fifty rows with one call each instead of the
template's five calls and a macro per row (bench/console.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from markupsafe import Markup, escape

from packs.core.console.web import PREFIX, duration, when

if TYPE_CHECKING:
    from packs.core.console.executions import Row


def status_html(value: str) -> Markup:
    """A status in words with its colour dot (what the ``status`` macro of ``_status.html`` draws)."""
    return Markup(
        f'<span class="status status-{escape(value)}"><span class="dot" aria-hidden="true"></span>'
        f"{escape(str(value).capitalize())}</span>"
    )


def execution_row(row: Row, people: dict[str, str]) -> Markup:
    """One execution: workflow (a link to its page) and short id, status (and what it waits for), started,
    started by, duration (``running`` while it runs)."""
    execution = row.execution
    halt = execution.halt_data.get("type") if execution.halt_data else None
    waiting = f' <span class="muted">({escape(halt)})</span>' if halt else ""
    started_by = people.get(str(execution.created_by_id), execution.created_by_id or "")
    if row.duration_end is not None:
        took = duration(execution.created_at, row.duration_end)
    else:
        took = "running" if execution.status == "running" else ""
    return Markup(
        f'<tr>\n      <td><a href="{PREFIX}/executions/{escape(execution.id)}">{escape(execution.workflow_id)}</a>'
        f' <span class="muted id">{escape(execution.id[:8])}</span></td>\n'
        f"      <td>{status_html(str(execution.status))}{waiting}</td>\n"
        f"      <td>{escape(when(execution.created_at))}</td>\n"
        f"      <td>{escape(started_by)}</td>\n"
        f"      <td>{escape(took)}</td>\n    </tr>"
    )


__all__ = ["execution_row", "status_html"]
