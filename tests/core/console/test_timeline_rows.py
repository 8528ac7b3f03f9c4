"""The timeline's rows, written in Python (packs/core/console/timeline_rows.py): every value escaped, details only
when the entry has some."""

from __future__ import annotations

import datetime

from packs.core.console.timeline_rows import child_row, entry_row
from packs.core.workflow import Entry

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
    assert "<td>1.5 s</td><td>2</td><td>2026-01-01 12:00:00 UTC</td>" in row
    assert "<h3>Input</h3><pre>{\n  &#34;x&#34;: &#34;&lt;script&gt;&#34;\n}</pre>" in row
    assert '<h3>Error</h3><pre class="error">bad &amp; &lt;worse&gt;</pre>' in row
    assert "<h3>Output</h3>" not in row


def test_a_childs_row_has_no_step_cell_and_no_details_without_data() -> None:
    entry = Entry(execution_id="e", step_id="c", step_type="assign", action="started", timestamp=AT)
    assert str(child_row(entry, 1)) == (
        '<tr class="action-started"><td>started</td><td></td><td>1</td><td>2026-01-01 12:00:00 UTC</td><td></td></tr>'
    )
