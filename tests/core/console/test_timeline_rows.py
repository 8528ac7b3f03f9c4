"""The timeline's and the executions table's rows, written in Python (timeline_rows.py, list_rows.py): every
value escaped, details only when the entry has some."""

from __future__ import annotations

import datetime

from packs.core.console.executions import Row, timeline
from packs.core.console.list_rows import execution_row
from packs.core.console.timeline_rows import child_row, entry_row
from packs.core.console.web import when
from packs.core.workflow import Entry, Execution

AT = datetime.datetime(2026, 1, 1, 12, tzinfo=datetime.UTC)


def test_a_row_escapes_its_values_and_shows_input_output_and_error() -> None:
    entry = Entry(
        execution_id="e",
        step_id="<b>s</b>",
        step_type="call",
        action="failed",
        duration_ms=1500,
        input={"x": "<script>"},
        error="bad & <worse>",
        timestamp=AT,
    )
    row = str(entry_row(entry, 2))
    assert row.startswith('<tr class="action-failed"><th scope="row">&lt;b&gt;s&lt;/b&gt;</th><td>call</td>')
    assert '<td>1.5 s</td><td class="attempt">2</td><td>2026-01-01 12:00:00 UTC</td>' in row
    assert "<h3>Input</h3><pre>{\n  &#34;x&#34;: &#34;&lt;script&gt;&#34;\n}</pre>" in row
    assert '<h3>Error</h3><pre class="error">bad &amp; &lt;worse&gt;</pre>' in row
    assert "<h3>Output</h3>" not in row


def test_a_childs_row_has_no_step_cell_and_no_details_without_data() -> None:
    entry = Entry(execution_id="e", step_id="c", step_type="assign", action="started", timestamp=AT)
    assert str(child_row(entry, 1)) == (
        '<tr class="action-started"><td>started</td><td></td><td class="attempt">1</td>'
        "<td>2026-01-01 12:00:00 UTC</td><td></td></tr>"
    )


def test_the_timeline_shows_the_attempt_an_entry_records_and_none_for_a_resumed_step() -> None:
    """An approval started again on its resume is no retry: its entries record no attempt, as the API shows."""
    entries = [
        Entry(execution_id="e", step_id="ask", step_type="approval", action=action, timestamp=AT)
        for action in ("started", "halted", "started", "completed")
    ] + [
        Entry(execution_id="e", step_id="pay", step_type="call", action=action, attempt=attempt, timestamp=AT)
        for action, attempt in (("started", 1), ("failed", 1), ("started", 2), ("completed", 2))
    ]
    groups = timeline(None, entries)
    assert [[attempt for _, attempt in group.entries] for group in groups] == [[None] * 4, [1, 1, 2, 2]]
    assert '<td class="attempt"></td>' in str(entry_row(entries[2], None))


def test_an_executions_row_escapes_and_names_status_waiting_and_duration() -> None:
    running = Execution(id="abcdef0123", workflow_id="<w>", status="halted", halt_data={"type": "approval"})
    html = str(execution_row(Row(running, None), {}))
    assert '<a href="/console/executions/abcdef0123">&lt;w&gt;</a> <span class="muted id">abcdef01</span>' in html
    assert 'status-halted"><span class="dot" aria-hidden="true"></span>Halted</span>' in html
    assert '<span class="muted">(approval)</span>' in html
    done = Execution(id="e2", workflow_id="w", status="completed", created_by_id="u1", created_at=AT)
    html = str(execution_row(Row(done, AT + datetime.timedelta(seconds=2)), {"u1": "ada@example.com"}))
    assert "<td>ada@example.com</td>" in html
    assert "<td>2.0 s</td>" in html


def test_times_the_approvals_api_answers_as_text_are_shown_as_every_other_time() -> None:
    assert when("2026-12-03T10:50:36.206718+00:00") == "2026-12-03 10:50:36 UTC"
    assert when("2026-12-03T11:50:36+01:00") == "2026-12-03 10:50:36 UTC"
    assert when(AT) == "2026-01-01 12:00:00 UTC"
    assert when("soon") == "soon"
    assert when(None) == ""
