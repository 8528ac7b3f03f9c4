"""The console over HTTP through the ASGI app: sign-in sessions (cookie, expiry, sign-out, revoked tokens), CSRF
on every form, workspaces, the executions list and detail, Start forms, cancel and retry, the audit log
(README, "The operations console")."""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from packs.core.audit import record_action
from packs.core.console import executions as console_executions
from packs.core.console.inbox import PENDING_CAP
from packs.core.identity.accounts import revoke_token
from packs.core.workflow import Execution, ExecutionFilter
from packs.core.workflow.decisions import approval_rule
from packs.core.workflow.timers import Timer
from packs.core.workflow_api.approvals import ApprovalDesk, Decider
from tests.support.console import CONSOLE, csrf_of, sign_in, signed_in
from tests.support.harness import Harness, auth, harness_for, http_client, make_settings
from tests.support.workflow_http import PACKS, show, started, wait_for

EXECUTIONS = f"{CONSOLE}/executions"


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    async with harness_for(make_settings(database_url, packs=PACKS)) as built:
        yield built


def browser(harness: Harness) -> httpx.AsyncClient:
    """A client that keeps cookies and does not follow redirects (what a test of each answer needs)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=harness.app), base_url="http://testserver")


@pytest.fixture
async def web(harness: Harness, client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping client of the started app (``client`` runs its lifespan)."""
    async with browser(harness) as session:
        yield session


# --- signing in and out -------------------------------------------------------------------------------------


async def test_pages_need_a_session_and_the_sign_in_form_names_token_and_sign_in(web: httpx.AsyncClient) -> None:
    answer = await web.get(f"{EXECUTIONS}?status=failed")
    assert answer.status_code in {302, 303, 307}
    assert answer.headers["location"] == f"{CONSOLE}/sign-in?next=%2Fconsole%2Fexecutions%3Fstatus%3Dfailed"
    form = await web.get(f"{CONSOLE}/sign-in")
    assert form.status_code == 200
    assert re.search(r'<label for="token">Token</label>', form.text)
    assert re.search(r'<button type="submit">Sign in</button>', form.text)
    assert form.text.count("<h1>") == 1
    assert 'name="viewport"' in form.text


async def test_a_valid_token_starts_a_session_with_a_safe_cookie(harness: Harness, web: httpx.AsyncClient) -> None:
    issued = await harness.user()
    answer = await sign_in(web, issued.token)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == EXECUTIONS
    cookie = next(value for value in answer.headers.get_list("set-cookie") if value.startswith("packflow_console="))
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "samesite", "max-age", "expires", "path"} <= attributes
    assert "samesite=lax" in cookie.lower()
    # Both lifetimes end when the session does (PACKFLOW_CONSOLE_SESSION_HOURS, 12 by default), within a minute.
    fields = {part.strip().split("=", 1)[0].lower(): part.strip().partition("=")[2] for part in cookie.split(";")}
    expires = email.utils.parsedate_to_datetime(fields["expires"])
    assert abs((expires - datetime.datetime.now(datetime.UTC)).total_seconds() - 12 * 3600) < 60
    assert abs(int(fields["max-age"]) - 12 * 3600) < 60
    assert issued.token not in cookie  # the cookie holds a session key, never the API token
    assert await harness.count("console_sessions") == 1
    page = await web.get(EXECUTIONS)
    assert page.status_code == 200
    assert "ada@example.com" in page.text
    assert "<h1>Executions</h1>" in page.text


@pytest.mark.parametrize("token", ["pf_nope", "", "   "])
async def test_a_wrong_token_is_refused_on_the_form(harness: Harness, web: httpx.AsyncClient, token: str) -> None:
    answer = await sign_in(web, token)
    assert answer.status_code == 401
    assert "This token is not valid" in answer.text
    assert await harness.count("console_sessions") == 0


async def test_a_sign_in_without_its_csrf_cookie_is_refused(harness: Harness, web: httpx.AsyncClient) -> None:
    issued = await harness.user()
    answer = await web.post(f"{CONSOLE}/sign-in", data={"token": issued.token, "csrf_token": "forged"})
    assert answer.status_code == 403
    assert await harness.count("console_sessions") == 0


async def test_a_sign_in_with_a_field_sent_twice_shows_the_page_again(harness: Harness, web: httpx.AsyncClient) -> None:
    """Litestar answered its JSON 400 ("Expected str, got array"); a field sent twice reads as not sent."""
    issued = await harness.user()
    csrf = csrf_of((await web.get(f"{CONSOLE}/sign-in")).text)
    twice = await web.post(f"{CONSOLE}/sign-in", data={"token": [issued.token, issued.token], "csrf_token": csrf})
    assert twice.status_code == 401, twice.text[:300]
    assert "<form" in twice.text
    forged = await web.post(f"{CONSOLE}/sign-in", data={"token": issued.token, "csrf_token": [csrf, csrf]})
    assert forged.status_code == 403
    assert "The form expired" in forged.text
    assert await harness.count("console_sessions") == 0


async def test_sign_out_ends_the_session(harness: Harness, web: httpx.AsyncClient) -> None:
    issued = await harness.user()
    csrf = await signed_in(web, issued.token)
    cookie = web.cookies.get("packflow_console")
    answer = await web.post(f"{CONSOLE}/sign-out", data={"csrf_token": csrf})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{CONSOLE}/sign-in"
    assert await harness.count("console_sessions") == 0
    async with browser(harness) as replay:  # the old cookie is worth nothing now
        replay.cookies.set("packflow_console", cookie or "")
        assert (await replay.get(EXECUTIONS)).status_code in {302, 303, 307}


async def test_a_revoked_token_ends_its_sessions(harness: Harness, web: httpx.AsyncClient) -> None:
    issued = await harness.user()
    await signed_in(web, issued.token)
    async with harness.plugin.db.create_session_maker()() as session:
        await revoke_token(session, issued.token)
        await session.commit()
    answer = await web.get(EXECUTIONS)
    assert answer.status_code in {302, 303, 307}
    assert (await sign_in(web, issued.token)).status_code == 401


async def test_a_session_expires(database_url: str) -> None:
    settings = make_settings(database_url, packs=PACKS, console_session_hours=2 / 3600)
    async with harness_for(settings) as harness, http_client(harness.app), browser(harness) as web:
        issued = await harness.user()
        assert (await sign_in(web, issued.token)).status_code == 303
        for _ in range(60):  # a loaded machine may take a while to answer: poll for the end, generously
            if (await web.get(EXECUTIONS)).status_code in {302, 303, 307}:
                break
            await asyncio.sleep(0.5)
        else:
            raise AssertionError("the two-second session was still live after 30 s")


async def test_the_console_can_be_turned_off(database_url: str) -> None:
    settings = make_settings(database_url, packs=PACKS, console=False)
    async with harness_for(settings) as harness, http_client(harness.app) as client:
        assert (await client.get(EXECUTIONS)).status_code == 404
        assert (await client.get(f"{CONSOLE}/sign-in")).status_code == 404


async def test_the_assets_ship_with_the_app(web: httpx.AsyncClient) -> None:
    for name, marker in (("htmx.min.js", "htmx"), ("console.css", ":root"), ("console.js", "EventSource")):
        answer = await web.get(f"{CONSOLE}/static/{name}")
        assert answer.status_code == 200, name
        assert marker in answer.text
    page = (await web.get(f"{CONSOLE}/sign-in")).text
    assert "http://" not in page.replace("http://www.w3.org", "")
    assert "https://" not in page


# --- CSRF and workspaces ------------------------------------------------------------------------------------


async def test_every_form_post_needs_the_sessions_csrf_token(
    harness: Harness, client: httpx.AsyncClient, web: httpx.AsyncClient
) -> None:
    issued = await harness.user()
    execution_id = await started(client, issued, "http_ask")
    await wait_for(client, issued, execution_id, {"halted"})
    csrf = await signed_in(web, issued.token)
    posts = [
        f"{EXECUTIONS}/{execution_id}/cancel",
        f"{EXECUTIONS}/{execution_id}/retry",
        f"{CONSOLE}/workflows/http_plain/start",
        f"{CONSOLE}/sign-out",
        f"{CONSOLE}/workspace",
    ]
    for url in posts:
        for data in ({}, {"csrf_token": "forged"}, {"csrf_token": csrf[:-1]}):
            refused = await web.post(url, data=data)
            assert refused.status_code == 403, (url, data, refused.text)
            assert "CSRF" in refused.text
    assert (await wait_for(client, issued, execution_id, {"halted"}))["status"] == "halted"
    assert await harness.count("workflow_executions") == 1
    assert await harness.count("console_sessions") == 1
    assert await harness.count("audit_log", "source = 'console'") == 0
    cancelled = await web.post(f"{EXECUTIONS}/{execution_id}/cancel", data={"csrf_token": csrf})
    assert cancelled.status_code == 303
    assert (await wait_for(client, issued, execution_id, {"cancelled"}))["status"] == "cancelled"


async def test_another_workspaces_execution_is_not_found(
    harness: Harness, client: httpx.AsyncClient, web: httpx.AsyncClient
) -> None:
    owner = await harness.user("owner@example.com", "Owner Inc")
    execution_id = await started(client, owner, "http_ask")
    await wait_for(client, owner, execution_id, {"halted"})
    stranger = await harness.user("eve@example.com", "Elsewhere")
    csrf = await signed_in(web, stranger.token)
    for url in (
        f"{EXECUTIONS}/{execution_id}",
        f"{EXECUTIONS}/{execution_id}/live",
        f"{EXECUTIONS}/{execution_id}/events",
    ):
        answer = await web.get(url)
        assert answer.status_code == 404, url
    for action in ("cancel", "retry"):
        answer = await web.post(f"{EXECUTIONS}/{execution_id}/{action}", data={"csrf_token": csrf})
        assert answer.status_code == 404, action
    listed = await web.get(EXECUTIONS)
    assert execution_id not in listed.text
    assert (await wait_for(client, owner, execution_id, {"halted"}))["status"] == "halted"
    assert (await web.get(f"{EXECUTIONS}/not-a-uuid")).status_code in {404, 422}


async def test_a_user_of_several_workspaces_switches_between_them(
    harness: Harness, client: httpx.AsyncClient, web: httpx.AsyncClient
) -> None:
    first = await harness.user("ada@example.com", "Alpha")
    second = await harness.user("ada@example.com", "Beta")
    runs = {}
    for issued in (first, second):
        answer = await client.post(
            "/api/v1/workflows/http_plain/executions", json={}, headers=auth(issued, issued.workspace_id)
        )
        assert answer.status_code == 202, answer.text
        runs[issued.workspace_id] = answer.json()["data"]["id"]
    csrf = await signed_in(web, second.token)
    page = await web.get(EXECUTIONS)
    assert 'id="workspace-switch"' in page.text
    assert ">Alpha</option>" in page.text
    assert ">Beta</option>" in page.text
    for chosen, other in ((second, first), (first, second)):
        switched = await web.post(
            f"{CONSOLE}/workspace",
            data={"csrf_token": csrf, "workspace_id": str(chosen.workspace_id), "next": EXECUTIONS},
        )
        assert switched.status_code == 303
        assert switched.headers["location"] == EXECUTIONS
        page = await web.get(EXECUTIONS)
        assert runs[chosen.workspace_id] in page.text
        assert runs[other.workspace_id] not in page.text
        detail = await web.get(f"{EXECUTIONS}/{runs[other.workspace_id]}")
        assert detail.status_code == 404  # the other workspace's execution, from this one
    refused = await web.post(f"{CONSOLE}/workspace", data={"csrf_token": csrf, "workspace_id": str(uuid.uuid4())})
    assert refused.status_code == 403


# --- executions ---------------------------------------------------------------------------------------------


async def add_executions(harness: Harness, workspace_id: object, count: int, **fields: object) -> list[str]:
    """``count`` executions straight in the store, one second apart (newest last)."""
    store = harness.plugin.workflows.store
    base = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    ids = []
    for index in range(count):
        execution = Execution(
            id=str(uuid.uuid4()),
            workflow_id=str(fields.get("workflow_id", "http_plain")),
            status=str(fields.get("status", "completed")),
            workspace_id=str(workspace_id),
            created_at=base + datetime.timedelta(seconds=index),
            updated_at=base + datetime.timedelta(seconds=index, milliseconds=1500),
        )
        await store.add(execution)
        ids.append(execution.id)
    return ids


async def test_the_list_shows_its_columns_counts_filters_and_pages_by_keyset(
    harness: Harness, client: httpx.AsyncClient, web: httpx.AsyncClient
) -> None:
    issued = await harness.user()
    completed = await add_executions(harness, issued.workspace_id, 60)
    failed = await add_executions(harness, issued.workspace_id, 3, status="failed", workflow_id="http_echo")
    await signed_in(web, issued.token)
    page = await web.get(EXECUTIONS)
    for header in ("Workflow", "Status", "Started", "Started by", "Duration"):
        assert f'<th scope="col">{header}</th>' in page.text
    assert page.text.count("<tr>") == 51  # the header row and 50 executions
    assert "1.5 s" in page.text
    assert re.search(r"Completed</span> <strong>60</strong>", page.text)
    assert re.search(r"Failed</span> <strong>3</strong>", page.text)
    older = re.search(r'href="\?([^"]+)" rel="next"', page.text)
    assert older is not None
    second = await web.get(f"{EXECUTIONS}?{older.group(1).replace('&amp;', '&')}")
    assert second.status_code == 200
    assert second.text.count("<tr>") == 1 + 13
    assert completed[0] in second.text
    assert completed[-1] not in second.text
    assert 'rel="next"' not in second.text
    only_failed = await web.get(f"{EXECUTIONS}?status=failed")
    assert all(execution_id in only_failed.text for execution_id in failed)
    assert completed[-1] not in only_failed.text
    assert 'value="failed" selected' in only_failed.text  # the filter stays in the URL and the form
    by_workflow = await web.get(f"{EXECUTIONS}?workflow=http_echo")
    assert failed[0] in by_workflow.text
    assert completed[0] not in by_workflow.text
    window = await web.get(f"{EXECUTIONS}?from=2026-01-01T00:00:10&to=2026-01-01T00:00:20")
    rows = window.text.count("<tr>") - 1
    assert rows == 10, window.text
    assert completed[10] in window.text
    assert completed[20] not in window.text
    assert completed[9] not in window.text
    for bad in ("status=nope", "waiting_for=nope", "from=yesterday", "cursor=zzz"):
        answer = await web.get(f"{EXECUTIONS}?{bad}")
        assert answer.status_code == 422, bad


async def test_the_counts_by_status_follow_the_lists_filters(
    harness: Harness, client: httpx.AsyncClient, web: httpx.AsyncClient
) -> None:
    issued = await harness.user()
    await add_executions(harness, issued.workspace_id, 30)
    await add_executions(harness, issued.workspace_id, 4, status="failed", workflow_id="http_echo")
    await signed_in(web, issued.token)
    window = await web.get(f"{EXECUTIONS}?from=2026-01-01T00:00:10&to=2026-01-01T00:00:20")
    assert re.search(r"Completed</span> <strong>10</strong>", window.text), window.text
    assert re.search(r"Failed</span> <strong>0</strong>", window.text)
    echo = await web.get(f"{EXECUTIONS}?workflow=http_echo&to=2026-01-01T00:00:02")
    assert re.search(r"Completed</span> <strong>0</strong>", echo.text)
    assert re.search(r"Failed</span> <strong>2</strong>", echo.text)
    waiting = await web.get(f"{EXECUTIONS}?waiting_for=approval")
    assert re.search(r"Completed</span> <strong>0</strong>", waiting.text)


async def test_the_counts_by_status_stop_at_their_cap(
    harness: Harness, client: httpx.AsyncClient, web: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each status is counted up to a cap (an index range each, not a scan of every execution): over it the
    store answers ``cap + 1`` and the page shows ``cap+``."""
    issued = await harness.user()
    await add_executions(harness, issued.workspace_id, 8)
    await add_executions(harness, issued.workspace_id, 2, status="failed")
    where = ExecutionFilter(workspace_id=str(issued.workspace_id))
    store = harness.plugin.workflows.store
    assert await store.count_by_status(where, cap=5) == {"completed": 6, "failed": 2}
    assert await store.count_by_status(where) == {"completed": 8, "failed": 2}
    monkeypatch.setattr(console_executions, "COUNT_CAP", 5)
    await signed_in(web, issued.token)
    page = await web.get(EXECUTIONS)
    assert re.search(r"Completed</span> <strong>5\+</strong>", page.text), page.text
    assert re.search(r"Failed</span> <strong>2</strong>", page.text)


async def test_the_pending_count_stops_at_99(
    harness: Harness, client: httpx.AsyncClient, web: httpx.AsyncClient
) -> None:
    """Every page shows how many approvals the user may decide, up to 99: it reads no more candidates than that."""
    issued = await harness.user()
    requester = str(uuid.uuid4())
    for _ in range(PENDING_CAP + 1):
        requested = datetime.datetime.now(datetime.UTC).isoformat()
        halt = {
            "type": "approval",
            "step_id": "approve",
            "rule": approval_rule(None, allow_requester=False, requester_id=requester),
            "requested_at": requested,
            "halt_id": str(uuid.uuid4()),
        }
        await harness.plugin.workflows.store.add(
            Execution(
                id=str(uuid.uuid4()),
                workflow_id="http_anyone",
                status="halted",
                workspace_id=str(issued.workspace_id),
                current_step="approve",
                halt_data=halt,
            )
        )
    await signed_in(web, issued.token)
    page = await web.get(EXECUTIONS)
    assert 'aria-label="99+ pending approvals">99+</span>' in page.text
    desk = ApprovalDesk(harness.app.state.workflow_service)
    decider = Decider(str(issued.user_id), "", "member")
    assert await desk.pending_count(str(issued.workspace_id), decider, cap=3) == 3
    assert len(await desk.inbox(str(issued.workspace_id), decider)) == PENDING_CAP + 1


async def test_the_detail_page_shows_header_graph_timeline_and_the_actions_that_apply(
    harness: Harness, client: httpx.AsyncClient, web: httpx.AsyncClient, tmp_path: object
) -> None:
    issued = await harness.user()
    flag = f"{tmp_path}/flag"
    execution_id = await started(client, issued, "http_flaky", {"flag": flag})
    await wait_for(client, issued, execution_id, {"failed"})
    csrf = await signed_in(web, issued.token)
    page = await web.get(f"{EXECUTIONS}/{execution_id}")
    assert page.status_code == 200
    assert page.text.count("<h1>") == 1
    assert "<h1>Execution of http_flaky</h1>" in page.text
    assert "<svg" in page.text
    assert 'data-step="check"' in page.text
    assert re.search(r'class="step visited failed" data-step="check"', page.text)
    assert "ada@example.com" in page.text  # started by, in words
    assert ">Failed</span>" in page.text
    assert "Retry</button>" in page.text
    assert "Cancel</button>" not in page.text
    assert "the flag file" in page.text  # the error, in the timeline's details
    assert "data-live" not in page.text  # it ended: nothing to watch
    retried = await web.post(f"{EXECUTIONS}/{execution_id}/retry", data={"csrf_token": csrf})
    assert retried.status_code == 303
    again = await wait_for(client, issued, execution_id, {"failed"})
    assert again["status"] == "failed"
    again_page = await web.get(f"{EXECUTIONS}/{execution_id}")
    assert "retry by ada@example.com (console)" in again_page.text
    ended = await web.post(f"{EXECUTIONS}/{execution_id}/cancel", data={"csrf_token": csrf})
    assert ended.status_code == 409  # failed is final: as the API's cancel, nothing changes
    assert (await wait_for(client, issued, execution_id, {"failed"}))["status"] == "failed"


def shown(moment: str) -> str:
    """An ISO time as the console shows it."""
    return datetime.datetime.fromisoformat(moment).astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def due_rows(text: str) -> list[tuple[str, str, str]]:
    """The rows of the page's Due times table: what, step, due."""
    table = re.search(r'<table class="due[^"]*".*?</table>', text, re.S)
    assert table is not None, text
    return re.findall(r'<tr><th scope="row">([^<]*)</th><td>([^<]*)</td><td><time[^>]*>([^<]*)</time>', table.group(0))


async def test_the_detail_page_shows_the_due_times_of_waits_retries_deadlines_and_signal_timeouts(
    harness: Harness, client: httpx.AsyncClient, web: httpx.AsyncClient, tmp_path: object
) -> None:
    issued = await harness.user()
    waiting = await started(client, issued, "http_wait", {"seconds": 3600})
    receiving = await started(client, issued, "http_receive")
    retrying = await started(client, issued, "http_retry_later", {"flag": f"{tmp_path}/never"})
    approving = await started(client, issued, "http_approve")
    for execution_id in (waiting, receiving, retrying, approving):
        await wait_for(client, issued, execution_id, {"halted"})
    deadline = datetime.datetime.now(datetime.UTC).replace(microsecond=0) + datetime.timedelta(hours=2)
    await harness.plugin.workflows.store.add_timer(
        Timer(kind="approval_deadline", due_at=deadline, execution_id=approving, payload={"step_id": "approve"})
    )
    await signed_in(web, issued.token)
    expected = {
        waiting: ("Wait ends", "pause"),
        receiving: ("Signal timeout", "await_payment"),
        retrying: ("Next retry", "check"),
        approving: ("Approval deadline", "approve"),
    }
    for execution_id, (what, step) in expected.items():
        [timer] = (await show(client, issued, execution_id))["timers"]
        page = await web.get(f"{EXECUTIONS}/{execution_id}")
        assert page.status_code == 200
        assert due_rows(page.text) == [(what, step, shown(timer["due_at"]))], execution_id
    plain = await started(client, issued, "http_plain")
    await wait_for(client, issued, plain, {"completed"})
    assert "Due times" not in (await web.get(f"{EXECUTIONS}/{plain}")).text


async def test_a_running_execution_page_listens_to_its_events(
    harness: Harness, client: httpx.AsyncClient, web: httpx.AsyncClient
) -> None:
    issued = await harness.user()
    execution_id = await started(client, issued, "http_ask")
    await wait_for(client, issued, execution_id, {"halted"})
    await signed_in(web, issued.token)
    page = await web.get(f"{EXECUTIONS}/{execution_id}")
    assert f'data-events="{EXECUTIONS}/{execution_id}/events"' in page.text
    assert "Cancel</button>" in page.text
    assert "Retry</button>" not in page.text
    assert "Waiting for input: need a name" in page.text or "Waiting for" in page.text
    finished = await started(client, issued, "http_plain")
    await wait_for(client, issued, finished, {"completed"})
    events = await web.get(f"{EXECUTIONS}/{finished}/events")  # an ended execution's stream ends
    assert events.status_code == 200
    assert events.headers["content-type"].startswith("text/event-stream")
    types = [line.removeprefix("event: ") for line in events.text.splitlines() if line.startswith("event: ")]
    assert types[0] == "workflow.started"
    assert types[-1] == "workflow.completed"


# --- workflows and their Start forms ------------------------------------------------------------------------


async def test_a_workflow_is_started_from_its_form_and_opened(
    harness: Harness, client: httpx.AsyncClient, web: httpx.AsyncClient
) -> None:
    issued = await harness.user()
    csrf = await signed_in(web, issued.token)
    listing = await web.get(f"{CONSOLE}/workflows")
    assert "HTTP echo" in listing.text
    assert "2.1" in listing.text
    form = await web.get(f"{CONSOLE}/workflows/http_slow")
    assert '<label for="field-seconds">seconds</label>' in form.text
    assert 'name="seconds" value="1"' in form.text  # the default fills the form
    assert 'name="user_id"' not in (await web.get(f"{CONSOLE}/workflows/http_echo")).text
    invalid = await web.post(f"{CONSOLE}/workflows/http_slow/start", data={"csrf_token": csrf, "seconds": "soon"})
    assert invalid.status_code == 422
    assert re.search(r'id="field-seconds-error">Enter a number.</p>', invalid.text)
    assert 'value="soon"' in invalid.text
    assert await harness.count("workflow_executions") == 0
    # Python's float() reads these (Arabic-Indic and fullwidth digits, ...); the API's JSON does not.
    for lenient in ("\u0661\u0660", "\uff11\uff10", "1_0", "nan", "0x10"):
        refused = await web.post(f"{CONSOLE}/workflows/http_slow/start", data={"csrf_token": csrf, "seconds": lenient})
        assert refused.status_code == 422, lenient
        assert re.search(r'id="field-seconds-error">Enter a number.</p>', refused.text), lenient
    assert await harness.count("workflow_executions") == 0
    too_long = await web.post(f"{CONSOLE}/workflows/http_echo/start", data={"csrf_token": csrf, "value": "x" * 30})
    assert too_long.status_code == 422  # the workflow's own input check, as the API's
    assert await harness.count("workflow_executions") == 0
    started_answer = await web.post(f"{CONSOLE}/workflows/http_slow/start", data={"csrf_token": csrf, "seconds": "0"})
    assert started_answer.status_code == 303
    location = started_answer.headers["location"]
    execution_id = location.rsplit("/", 1)[-1]
    done = await wait_for(client, issued, execution_id, {"completed"})
    assert done["input"] == {"seconds": 0.0}
    assert done["created_by_id"] == str(issued.user_id)
    assert (await web.get(f"{CONSOLE}/workflows/no_such")).status_code == 404


# --- the audit log ------------------------------------------------------------------------------------------


async def test_the_audit_log_records_api_and_console_actions(
    harness: Harness, client: httpx.AsyncClient, web: httpx.AsyncClient
) -> None:
    issued = await harness.user()
    api_run = await started(client, issued, "http_ask")
    await wait_for(client, issued, api_run, {"halted"})
    assert (
        await client.post(f"/api/v1/workflows/executions/{api_run}/cancel", headers=auth(issued))
    ).status_code == 200
    csrf = await signed_in(web, issued.token)
    console_start = await web.post(f"{CONSOLE}/workflows/http_plain/start", data={"csrf_token": csrf})
    console_run = console_start.headers["location"].rsplit("/", 1)[-1]
    answer = await client.get("/api/v1/workflows/audit", headers=auth(issued))
    assert answer.status_code == 200, answer.text
    entries = answer.json()["data"]
    assert [(e["action"], e["source"], e["target_id"]) for e in entries] == [
        ("start", "console", console_run),
        ("cancel", "api", api_run),
        ("start", "api", api_run),
    ]
    assert all(e["actor_id"] == str(issued.user_id) for e in entries)
    assert entries[0]["details"] == {"workflow_id": "http_plain"}
    paged = await client.get("/api/v1/workflows/audit?per_page=2", headers=auth(issued))
    assert len(paged.json()["data"]) == 2
    rest = await client.get(f"/api/v1/workflows/audit?cursor={paged.json()['meta']['cursor']}", headers=auth(issued))
    assert [e["target_id"] for e in rest.json()["data"]] == [api_run]
    assert rest.json()["meta"]["cursor"] is None
    only = await client.get(f"/api/v1/workflows/audit?execution_id={api_run}", headers=auth(issued))
    assert len(only.json()["data"]) == 2
    for bad in ("per_page=0", "per_page=x", "cursor=nope"):
        assert (await client.get(f"/api/v1/workflows/audit?{bad}", headers=auth(issued))).status_code == 422, bad
    assert (await client.get("/api/v1/workflows/audit")).status_code == 401
    stranger = await harness.user("eve@example.com", "Elsewhere")
    assert (await client.get("/api/v1/workflows/audit", headers=auth(stranger))).json()["data"] == []
    page = await web.get(f"{CONSOLE}/audit")
    assert "<h1>Audit log</h1>" in page.text
    for header in ("When", "Who", "What", "On", "From"):
        assert f'<th scope="col">{header}</th>' in page.text
    assert page.text.count("ada@example.com") >= 3
    assert ">console</td>" in page.text
    assert ">api</td>" in page.text
    # An operator's action from the command line has no user: the page says operator, as the README does.
    async with harness.plugin.db.create_session_maker()() as session:
        await record_action(
            session,
            workspace_id=issued.workspace_id,
            actor_id=None,
            action="approve",
            target_id=api_run,
            source="cli",
        )
        await session.commit()
    page = await web.get(f"{CONSOLE}/audit")
    assert "<td>operator</td>" in page.text
    assert "unknown" not in page.text
