"""The console in a real browser: Chromium (the distribution's) driven by Playwright against a real ``litestar run``
server on SQLite with the inline queue, so the app process is the worker that runs what is started.

Sign in and out; the executions list and its filters; a detail page updating itself live while the
execution runs; a workflow started from its form (a bad value shown next to its field); an approval decided
in the inbox (and its form's JSON Schema violation shown next to its field); cancel and retry; a schedule
paused; the audit log showing each of those actions (who, what, when, from where); a POST without the CSRF
token refused; another workspace's execution answering 404. With
``PACKFLOW_CONSOLE_SCREENSHOTS=1`` the pages' screenshots are written to ``docs/console/`` (README,
"The operations console").
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.browser import chromium, require_chromium
from tests.support.processes import REPO, environment, last_json_line, litestar, litestar_server

pytestmark = [pytest.mark.browser, pytest.mark.processes]  # a real server and a real browser (tests/test_markers.py)

SCREENSHOTS = REPO / "docs" / "console"
PACKS = "contacts_service,pftest_workflow_http"


@dataclass(frozen=True)
class Server:
    """A running app, its environment (for the CLI) and a signed-up user's token."""

    base: str
    env: dict[str, str]
    token: str

    def start(self, workflow_id: str, input: dict[str, Any] | None = None) -> str:
        """Start an execution through the API; its id."""
        answer = httpx.post(
            f"{self.base}/api/v1/workflows/{workflow_id}/executions",
            json={"input": input or {}},
            headers={"Authorization": f"Bearer {self.token}"},
        )
        assert answer.status_code == 202, answer.text
        execution_id: str = answer.json()["data"]["id"]
        return execution_id

    def schedule(self, workflow_id: str, cron: str, timezone: str) -> str:
        """Create a schedule through the API; its id."""
        created = httpx.post(
            f"{self.base}/api/v1/workflows/{workflow_id}/schedules",
            json={"cron": cron, "timezone": timezone},
            headers={"Authorization": f"Bearer {self.token}"},
        )
        assert created.status_code == 201, created.text
        schedule_id: str = created.json()["data"]["id"]
        return schedule_id


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fixture_packs: Path) -> Iterator[Server]:
    require_chromium()
    folder = tmp_path_factory.mktemp("console-browser")
    env = environment(
        f"sqlite+aiosqlite:///{folder / 'console.db'}",
        PACKFLOW_PACKS=PACKS,
        PYTHONPATH=os.pathsep.join([str(fixture_packs), str(REPO)]),
    )
    with litestar_server(env, folder / "server.log") as base:
        created = last_json_line(
            litestar(env, "users", "create", "--email", "ada@example.com", "--workspace", "Acme").stdout
        )
        yield Server(base, env, created["token"])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as opened:
        yield opened


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    context = browser.new_context(base_url=server.base, viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    try:
        yield opened
    finally:
        context.close()


def screenshot(page: Any, name: str, tmp_path: Path) -> None:
    """A full-page screenshot: in ``docs/console/`` when asked, else beside the test."""
    folder = SCREENSHOTS if os.environ.get("PACKFLOW_CONSOLE_SCREENSHOTS") == "1" else tmp_path
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def sign_in(page: Any, token: str) -> None:
    page.goto("/console/executions")
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/console/executions$"))


def test_sign_in_and_out(page: Any, server: Server, tmp_path: Path) -> None:
    page.goto("/console")
    assert page.get_by_role("heading", level=1).inner_text() == "Sign in"
    screenshot(page, "sign-in", tmp_path)
    page.get_by_label("Token").fill("pf_wrong")
    page.get_by_role("button", name="Sign in").click()
    assert "This token is not valid" in page.locator("#token-error").inner_text()
    sign_in(page, server.token)
    assert page.get_by_role("heading", level=1).inner_text() == "Executions"
    assert "ada@example.com" in page.locator("header").inner_text()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r".*/console/sign-in$"))
    page.goto("/console/executions")
    assert page.get_by_role("heading", level=1).inner_text() == "Sign in"


def test_the_executions_list_and_its_filters(page: Any, server: Server, tmp_path: Path) -> None:
    plain = [server.start("http_plain") for _ in range(3)]
    asking = server.start("http_ask")
    sign_in(page, server.token)
    page.wait_for_timeout(300)
    page.reload()
    table = page.locator("table.executions")
    headers = table.locator("thead th").all_inner_texts()
    assert headers == ["Workflow", "Status", "Started", "Started by", "Duration"]
    screenshot(page, "executions", tmp_path)
    page.get_by_label("Status", exact=True).select_option("halted")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r".*status=halted.*"))
    rows = table.locator("tbody tr")
    texts = rows.all_inner_texts()
    assert all("Halted" in text for text in texts), texts
    assert asking[:8] in " ".join(texts)
    assert not any(execution_id[:8] in " ".join(texts) for execution_id in plain)
    page.get_by_label("Workflow", exact=True).select_option("http_plain")
    page.get_by_label("Status", exact=True).select_option("completed")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r".*workflow=http_plain.*status=completed.*"))
    texts = table.locator("tbody tr").all_inner_texts()
    assert all(execution_id[:8] in " ".join(texts) for execution_id in plain)
    assert asking[:8] not in " ".join(texts)


def test_a_detail_page_updates_live_while_the_execution_runs(page: Any, server: Server, tmp_path: Path) -> None:
    sign_in(page, server.token)
    execution_id = server.start("http_slow", {"seconds": 3})
    page.goto(f"/console/executions/{execution_id}")
    status = page.locator("#execution-status")
    assert status.inner_text() in {"Pending", "Running"}
    assert page.locator("svg.graph g[data-step='nap']").count() == 1
    screenshot(page, "execution-running", tmp_path)
    page.wait_for_function(
        "document.querySelector('#execution-status').innerText.includes('Completed')", timeout=20_000
    )  # no reload: the page listened to the event stream
    assert page.locator("svg.graph g.visited[data-step='done']").count() == 1
    assert "nap" in page.locator("table.timeline").inner_text()
    screenshot(page, "execution", tmp_path)


def test_a_workflow_started_from_its_form(page: Any, server: Server, tmp_path: Path) -> None:
    sign_in(page, server.token)
    page.goto("/console/workflows")
    page.get_by_role("link", name="HTTP slow").click()
    assert page.get_by_role("heading", level=1).inner_text() == "HTTP slow"
    page.get_by_label("seconds").fill("soon")
    page.get_by_role("button", name="Start").click()
    assert page.locator("#field-seconds-error").inner_text() == "Enter a number."
    screenshot(page, "workflow-start", tmp_path)
    page.get_by_label("seconds").fill("0")
    page.get_by_role("button", name="Start").click()
    page.wait_for_url(re.compile(r".*/console/executions/[0-9a-f-]{36}$"))
    page.wait_for_function("document.querySelector('#execution-status').innerText.includes('Completed')")


def test_cancel_a_waiting_execution(page: Any, server: Server) -> None:
    execution_id = server.start("http_ask")
    sign_in(page, server.token)
    page.goto(f"/console/executions/{execution_id}")
    page.wait_for_function("document.querySelector('#execution-status').innerText.includes('Halted')")
    page.get_by_role("button", name="Cancel").click()
    page.wait_for_function("document.querySelector('#execution-status').innerText.includes('Cancelled')")
    assert page.get_by_role("button", name="Cancel").count() == 0
    page.goto("/console/audit")
    assert "cancel" in page.locator("table.audit").inner_text()


def test_an_approval_decided_in_the_inbox_by_an_approver_and_refused_to_others(
    browser: Any, server: Server, tmp_path: Path
) -> None:
    tokens = {}
    for email in ("bob@example.com", "eve@example.com"):
        created = litestar(server.env, "users", "create", "--email", email, "--workspace", "Acme").stdout
        tokens[email] = last_json_line(created)["token"]
    execution_id = server.start("http_rules", {"approver": "bob@example.com"})
    pages = []
    for _ in range(3):
        context = browser.new_context(base_url=server.base)
        pages.append(context.new_page())
        pages[-1].set_default_timeout(15_000)
    eve, bob, ada = pages
    sign_in(eve, tokens["eve@example.com"])
    eve.goto("/console/approvals")
    assert "Nothing waits for your decision." in eve.locator("main").inner_text()
    eve.goto(f"/console/executions/{execution_id}")
    assert "You may not decide: you are not an approver" in eve.locator("main").inner_text()
    assert eve.get_by_role("button", name="Approve").count() == 0
    sign_in(ada, server.token)
    ada.goto(f"/console/executions/{execution_id}")
    assert "You may not decide: you started this execution" in ada.locator("main").inner_text()
    sign_in(bob, tokens["bob@example.com"])
    assert bob.locator("#pending-count").inner_text() == "1"
    bob.get_by_role("link", name=re.compile("Approvals")).click()
    assert "Ship it?" in bob.locator("main").inner_text()
    screenshot(bob, "approvals", tmp_path)
    bob.get_by_role("button", name="Approve").click()
    assert bob.locator("#field-reason-error").inner_text() == "Required."  # next to its field
    bob.get_by_label("reason").fill("numbers checked")
    bob.get_by_label("Comment").fill("fine by me")
    bob.get_by_role("button", name="Approve").click()
    bob.wait_for_url(re.compile(r".*/console/approvals$"))
    assert "Nothing waits for your decision." in bob.locator("main").inner_text()
    bob.goto(f"/console/executions/{execution_id}")
    assert "Approved by bob@example.com: “fine by me”" in bob.locator("main").inner_text()
    assert "1 of 2 approvals" in bob.locator("main").inner_text()
    for opened in pages:
        opened.context.close()


def test_a_schedule_paused(page: Any, server: Server, tmp_path: Path) -> None:
    schedule_id = server.schedule("http_plain", "0 2 * * *", "Europe/Paris")
    sign_in(page, server.token)
    page.goto("/console/schedules")
    row = page.locator(f"tr[data-schedule='{schedule_id}']")
    assert "cron 0 2 * * *" in row.inner_text()
    assert "Active" in row.inner_text()
    screenshot(page, "schedules", tmp_path)
    row.get_by_role("button", name="Pause").click()
    page.wait_for_url(re.compile(r".*/console/schedules$"))
    row = page.locator(f"tr[data-schedule='{schedule_id}']")
    assert "Paused" in row.inner_text()
    assert row.get_by_role("button", name="Resume").count() == 1
    page.goto("/console/audit")
    assert "schedule_pause" in page.locator("table.audit").inner_text()


def member(server: Server, email: str, workspace: str) -> str:
    """A new token of ``email`` in ``workspace`` (both created when missing), through the CLI."""
    return str(
        last_json_line(litestar(server.env, "users", "create", "--email", email, "--workspace", workspace).stdout)[
            "token"
        ]
    )


def api_status(server: Server, token: str, execution_id: str) -> str:
    """The execution's status, as the JSON API answers it."""
    answer = httpx.get(
        f"{server.base}/api/v1/workflows/executions/{execution_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200, answer.text
    status: str = answer.json()["data"]["status"]
    return status


def wait_for_status(page: Any, status: str) -> None:
    """Until the execution's page shows ``status`` (its live part, or a reload for an ended one)."""
    page.wait_for_function(
        f"document.querySelector('#execution-status').innerText.includes({status!r})", timeout=20_000
    )


def test_retry_a_failed_execution_from_its_page(page: Any, server: Server, tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    execution_id = server.start("http_flaky", {"flag": str(flag)})
    sign_in(page, server.token)
    page.goto(f"/console/executions/{execution_id}")
    for _ in range(40):  # the worker fails it soon after the start
        if "Failed" in page.locator("#execution-status").inner_text():
            break
        page.wait_for_timeout(250)
        page.reload()
    assert "the flag file" in page.locator("main").inner_text()
    assert page.get_by_role("button", name="Cancel").count() == 0
    flag.write_text("now it exists")
    page.get_by_role("button", name="Retry").click()
    page.wait_for_url(re.compile(rf".*/console/executions/{execution_id}$"))
    wait_for_status(page, "Completed")
    assert page.get_by_role("button", name="Retry").count() == 0
    assert api_status(server, server.token, execution_id) == "completed"


def test_a_form_violation_of_the_approval_schema_shown_next_to_its_field(browser: Any, server: Server) -> None:
    approver = member(server, "ivan@example.com", "Acme")
    execution_id = server.start("http_rules", {"approver": "ivan@example.com"})
    context = browser.new_context(base_url=server.base)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in(page, approver)
        page.goto(f"/console/executions/{execution_id}")
        page.get_by_label("reason").fill("ok")  # the form asks for minLength 3
        page.get_by_role("button", name="Approve").click()
        error = page.locator("#field-reason-error")
        assert error.inner_text() == "'ok' is too short."
        assert page.get_by_label("reason").input_value() == "ok"  # what was typed stays
        assert api_status(server, server.token, execution_id) == "halted"
    finally:
        context.close()


def test_the_audit_log_shows_every_action_with_who_what_when_and_from_where(
    browser: Any, server: Server, tmp_path: Path
) -> None:
    grace = member(server, "grace@example.com", "Ledger")  # a workspace of its own: its log holds only this test
    heidi = member(server, "heidi@example.com", "Ledger")
    pages = []
    for token in (grace, heidi):
        context = browser.new_context(base_url=server.base)
        pages.append(context.new_page())
        pages[-1].set_default_timeout(15_000)
        sign_in(pages[-1], token)
    page, approver = pages
    ledger = Server(server.base, server.env, grace)
    try:
        page.goto("/console/workflows/http_anyone")
        page.get_by_role("button", name="Start").click()  # start, from the console
        page.wait_for_url(re.compile(r".*/console/executions/[0-9a-f-]{36}$"))
        approved = page.url.rsplit("/", 1)[1]
        approver.goto(f"/console/executions/{approved}")
        approver.get_by_label("Comment").fill("looks right")
        approver.get_by_role("button", name="Approve").click()  # a decision, by heidi
        approver.wait_for_url(re.compile(rf".*/console/executions/{approved}$"))
        cancelled = ledger.start("http_ask")  # start, from the API
        page.goto(f"/console/executions/{cancelled}")
        wait_for_status(page, "Halted")
        page.get_by_role("button", name="Cancel").click()
        wait_for_status(page, "Cancelled")
        retried = ledger.start("http_flaky", {"flag": str(tmp_path / "missing")})
        for _ in range(80):
            if api_status(server, grace, retried) == "failed":
                break
            page.wait_for_timeout(250)
        page.goto(f"/console/executions/{retried}")
        page.get_by_role("button", name="Retry").click()
        page.wait_for_url(re.compile(rf".*/console/executions/{retried}$"))
        signalled = ledger.start("http_receive")
        page.goto(f"/console/executions/{signalled}")
        wait_for_status(page, "Halted")
        page.get_by_label("Payload (JSON)").fill('{"amount": 12}')
        page.get_by_role("button", name="Send signal").click()
        wait_for_status(page, "Completed")
        schedule_id = ledger.schedule("http_plain", "0 3 * * *", "UTC")
        page.goto("/console/schedules")
        page.locator(f"tr[data-schedule='{schedule_id}']").get_by_role("button", name="Pause").click()
        page.wait_for_url(re.compile(r".*/console/schedules$"))

        page.goto("/console/audit")
        assert page.get_by_role("heading", level=1).inner_text() == "Audit log"
        headers = page.locator("table.audit thead th").all_inner_texts()
        assert headers == ["When", "Who", "What", "On", "From"]
        rows = [row.split("\t") for row in page.locator("table.audit tbody tr").all_inner_texts()]
        found = {(who, what.split(":")[0], on.split(" (")[0], source) for _, who, what, on, source in rows}
        expected = {
            ("grace@example.com", "start", f"execution {approved[:8]}", "console"),
            ("heidi@example.com", "approve", f"execution {approved[:8]}", "console"),
            ("grace@example.com", "start", f"execution {cancelled[:8]}", "api"),
            ("grace@example.com", "cancel", f"execution {cancelled[:8]}", "console"),
            ("grace@example.com", "retry", f"execution {retried[:8]}", "console"),
            ("grace@example.com", "signal", f"execution {signalled[:8]}", "console"),
            ("grace@example.com", "schedule_pause", f"schedule {schedule_id[:8]}", "console"),
        }
        assert expected <= found, rows
        assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", when) for when, *_ in rows), rows
        assert "looks right" in page.locator("table.audit").inner_text()
        assert not any("ada@example.com" in row for row in rows)  # another workspace's actions are not here
        screenshot(page, "audit", tmp_path)
    finally:
        for opened in pages:
            opened.context.close()


def test_a_post_without_the_csrf_token_is_refused(page: Any, server: Server) -> None:
    execution_id = server.start("http_ask")
    sign_in(page, server.token)  # the session cookie goes with page.request: only the token is missing
    page.goto(f"/console/executions/{execution_id}")
    wait_for_status(page, "Halted")
    for form in ({}, {"csrf_token": "forged"}):
        answer = page.request.post(f"/console/executions/{execution_id}/cancel", form=form, max_redirects=0)
        assert answer.status == 403, (form, answer.status)
        assert "CSRF check failed" in answer.text()
    assert api_status(server, server.token, execution_id) == "halted"
    page.reload()
    assert page.get_by_role("button", name="Cancel").count() == 1


def test_another_workspaces_execution_answers_404(browser: Any, server: Server) -> None:
    execution_id = server.start("http_ask")  # in Acme
    outsider = member(server, "mallory@example.com", "Elsewhere")
    context = browser.new_context(base_url=server.base)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in(page, outsider)
        csrf = page.locator("input[name='csrf_token']").first.get_attribute("value")  # this session's own token
        opened = page.goto(f"/console/executions/{execution_id}")
        assert opened is not None
        assert opened.status == 404
        assert page.get_by_role("heading", level=1).inner_text() == "Not found"
        assert "http_ask" not in page.locator("main").inner_text()
        for part in ("live", "events"):
            assert page.request.get(f"/console/executions/{execution_id}/{part}").status == 404
        answer = page.request.post(
            f"/console/executions/{execution_id}/cancel", form={"csrf_token": csrf or ""}, max_redirects=0
        )
        assert answer.status == 404
        assert api_status(server, server.token, execution_id) == "halted"
        page.goto("/console/executions")
        assert execution_id[:8] not in page.locator("table.executions").inner_text()
    finally:
        context.close()


PHONE = {"width": 390, "height": 844}
OVERFLOW = """() => [...document.querySelectorAll('body *')]
    .filter((element) => element.getBoundingClientRect().right > window.innerWidth + 1
        && !element.closest('.table-wrap, .graph-wrap, pre, .visually-hidden'))
    .map((element) => element.tagName + (element.id ? '#' + element.id : '') + '.' + element.className)
    .slice(0, 5)"""
SIDEWAYS = """() => [...document.querySelectorAll('.table-wrap table')]
    .filter((table) => table.tHead && getComputedStyle(table.tHead).display !== 'none'
        || table.parentElement.scrollWidth > table.parentElement.clientWidth + 1)
    .map((table) => table.className)"""


def test_every_main_page_reads_on_a_phone(browser: Any, server: Server, tmp_path: Path) -> None:
    """At 390 px wide nothing sticks out of the page, and no table needs scrolling sideways: they read as
    stacked rows (a wide graph scrolls in its own box)."""
    execution_id = server.start("http_rules", {"approver": "ada@example.com"})  # a long prompt, a form, a graph
    approver = member(server, "zoe@example.com", "Acme")
    context = browser.new_context(base_url=server.base, viewport=PHONE, device_scale_factor=1, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto("/console/sign-in")
        pages = {"sign-in": "/console/sign-in"}
        sign_in(page, approver)
        pages |= {
            "executions": "/console/executions",
            "execution": f"/console/executions/{execution_id}",
            "workflows": "/console/workflows",
            "workflow-start": "/console/workflows/http_rules",
            "approvals": "/console/approvals",
            "schedules": "/console/schedules",
            "audit": "/console/audit",
        }
        for name, url in pages.items():
            page.goto(url)
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], name
            assert page.evaluate(OVERFLOW) == [], name
            assert page.evaluate(SIDEWAYS) == [], name
            screenshot(page, f"phone-{name}", tmp_path)
    finally:
        context.close()
