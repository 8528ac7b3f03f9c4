"""Bad input to the routes added with approvals, signals, schedules and the console answers 4xx saying what was
wrong, never 500, and writes nothing (docs/http-api.md, Parameters, Signals, Schedules; README, "The operations
console"). Each case here answered 500 before its fix, on SQLite or on PostgreSQL (which cannot store a NUL).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest

from packs.core.identity.accounts import IssuedToken
from packs.core.schedules.calendar import checked_cron
from packs.core.workflow.errors import StepError
from packs.core.workflow.steps.wait import parse_until
from tests.support.console import CONSOLE, signed_in
from tests.support.harness import Harness, auth, harness_for, make_settings
from tests.support.workflow_http import API, EXECUTIONS, PACKS, started, wait_for

FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    async with harness_for(make_settings(database_url, packs=PACKS)) as built:
        yield built


@pytest.fixture
async def ada(harness: Harness) -> IssuedToken:
    return await harness.user("ada@example.com", "Acme")


@pytest.fixture
async def web(harness: Harness, client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping client of the started app (``client`` runs its lifespan)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=harness.app), base_url="http://testserver") as s:
        yield s


async def waiting_for_a_signal(client: httpx.AsyncClient, ada: IssuedToken) -> str:
    execution_id = await started(client, ada, "http_receive")
    await wait_for(client, ada, execution_id, {"halted"})
    return execution_id


# --- schedules ----------------------------------------------------------------------------------------------

NOT_PAGE_NUMBERS = ["\u00b2", "\u2460", "\u0661", "\U0001d7d9", "9" * 5000, "+1", " 1", "1_0"]
"""Page numbers Python's ``str.isdigit`` or ``int`` would take (superscript two, circled one, Arabic-Indic and
mathematical digits, beyond ``int``'s 4300-digit limit, a sign, a space, an underscore): none is a page."""


@pytest.mark.parametrize("raw", NOT_PAGE_NUMBERS)
@pytest.mark.parametrize("name", ["page", "per_page"])
async def test_a_schedules_page_number_that_is_not_ascii_digits_is_a_422(
    client: httpx.AsyncClient, ada: IssuedToken, name: str, raw: str
) -> None:
    response = await client.get(f"{API}/schedules", params={name: raw}, headers=auth(ada))
    assert response.status_code == 422, response.text
    assert set(response.json()["details"]) == {name}


@pytest.mark.parametrize("raw", NOT_PAGE_NUMBERS)
async def test_an_audit_per_page_that_is_not_ascii_digits_is_a_422(
    client: httpx.AsyncClient, ada: IssuedToken, raw: str
) -> None:
    response = await client.get(f"{API}/audit", params={"per_page": raw}, headers=auth(ada))
    assert response.status_code == 422, response.text
    assert set(response.json()["details"]) == {"per_page"}


async def test_the_audit_log_filter_takes_any_spelling_of_an_execution_id_and_refuses_anything_else(
    client: httpx.AsyncClient, ada: IssuedToken
) -> None:
    execution_id = await started(client, ada, "http_echo", {})
    for spelling in (execution_id, execution_id.upper(), execution_id.replace("-", ""), f"{{{execution_id}}}"):
        response = await client.get(f"{API}/audit", params={"execution_id": spelling}, headers=auth(ada))
        assert response.status_code == 200, response.text
        assert [entry["target_id"] for entry in response.json()["data"]] == [execution_id], spelling
    for bad in ("nope", "x" * 5000):
        response = await client.get(f"{API}/audit", params={"execution_id": bad}, headers=auth(ada))
        assert response.status_code == 422, response.text
        assert "must be an execution id (a UUID)" in response.json()["details"]["execution_id"]
        assert len(response.text) < 500


@pytest.mark.parametrize(
    ("cron", "words"),
    [
        ("0 0 31 2 *", "never matches a date"),
        ("0 0 30 2 *", "never matches a date"),
        # croniter draws ``R`` again each time it reads the expression: the stored tick, ``next_runs`` and the
        # firing would each disagree.
        ("R * * * *", "uses R, a random value"),
        ("0 r * * *", "uses R, a random value"),
        ("R(0-30) 2 * * *", "uses R, a random value"),
        ("0 0 * * R", "uses R, a random value"),
    ],
)
async def test_a_cron_that_never_matches_a_date_or_draws_a_random_value_is_a_422_on_create_and_change(
    client: httpx.AsyncClient, harness: Harness, ada: IssuedToken, cron: str, words: str
) -> None:
    created = await client.post(f"{API}/http_echo/schedules", json={"cron": cron}, headers=auth(ada))
    assert created.status_code == 422, created.text
    assert words in created.json()["details"]["cron"]
    assert await harness.count("workflow_schedules") == 0
    schedule = await client.post(f"{API}/http_echo/schedules", json={"every": 60}, headers=auth(ada))
    changed = await client.patch(schedule.json()["data"]["url"], json={"cron": cron}, headers=auth(ada))
    assert changed.status_code == 422, changed.text
    assert words in changed.json()["details"]["cron"]
    shown = await client.get(schedule.json()["data"]["url"], headers=auth(ada))
    assert (shown.json()["data"]["every"], shown.json()["data"]["cron"]) == (60, None)


@pytest.mark.parametrize("cron", ["0 9 * MAR-APR FRI", "0 0 * * SAT,SUN", "0 0 L * *", "0 0 * OCT *"])
def test_month_and_day_names_holding_an_r_are_not_random_values(cron: str) -> None:
    assert checked_cron(cron) == cron


async def test_a_timezone_name_too_long_for_a_file_name_is_an_unknown_timezone(
    client: httpx.AsyncClient, harness: Harness, ada: IssuedToken
) -> None:
    body = {"every": 60, "timezone": "x" * 10_000}
    answer = await client.post(f"{API}/http_echo/schedules", json=body, headers=auth(ada))
    assert answer.status_code == 422, answer.text
    assert answer.json()["details"]["timezone"].startswith("unknown timezone 'xxx")
    assert await harness.count("workflow_schedules") == 0


# --- signals ------------------------------------------------------------------------------------------------


async def test_a_signal_name_with_a_nul_is_a_422_and_nothing_is_kept(
    client: httpx.AsyncClient, harness: Harness, ada: IssuedToken
) -> None:
    execution_id = await waiting_for_a_signal(client, ada)
    answer = await client.post(f"{EXECUTIONS}/{execution_id}/signals/a%00b", json={"payload": 1}, headers=auth(ada))
    assert answer.status_code == 422, answer.text
    assert answer.json()["details"] == {"name": "must not contain NUL characters"}
    assert await harness.count("workflow_signals") == 0


@pytest.mark.parametrize("name", ["%FF", "%C0%AF", "a%E2%80"])
async def test_a_signal_name_that_is_not_utf8_is_a_400_and_nothing_is_kept(
    client: httpx.AsyncClient, harness: Harness, ada: IssuedToken, name: str
) -> None:
    """Decoded leniently, every such name would read as the same U+FFFD."""
    execution_id = await waiting_for_a_signal(client, ada)
    answer = await client.post(f"{EXECUTIONS}/{execution_id}/signals/{name}", json={"payload": 1}, headers=auth(ada))
    assert answer.status_code == 400, answer.text
    assert answer.json() == {"error": "the request's path is not UTF-8 once its percent-escapes are decoded"}
    assert answer.headers["x-request-id"]
    listed = await client.get("/api/v1/workspaces/contacts?q=%FF", headers=auth(ada))
    assert listed.status_code == 400, listed.text
    assert listed.json() == {"error": "the request's query is not UTF-8 once its percent-escapes are decoded"}
    assert await harness.count("workflow_signals") == 0


async def test_a_signal_key_is_read_as_utf8(client: httpx.AsyncClient, harness: Harness, ada: IssuedToken) -> None:
    """ASGI hands a header over as Latin-1 characters: 128 "é" are 256 of them, yet a key of 128 characters."""
    execution_id = await waiting_for_a_signal(client, ada)
    url = f"{EXECUTIONS}/{execution_id}/signals/refund"
    key = "\u00e9" * 128
    first = await client.post(url, json={"payload": 1}, headers={**auth(ada), "Idempotency-Key": key.encode()})
    assert first.status_code == 202, first.text
    assert await harness.count("workflow_signals", f"idempotency_key = '{key}'") == 1
    again = await client.post(url, json={"payload": 1}, headers={**auth(ada), "Idempotency-Key": key.encode()})
    assert again.json()["data"]["repeated"] is True
    bad = await client.post(url, json={"payload": 1}, headers={**auth(ada), "Idempotency-Key": b"k\xff"})
    assert bad.status_code == 422, bad.text
    assert bad.json()["details"] == {"Idempotency-Key": "must be UTF-8 text"}
    assert await harness.count("workflow_signals") == 1


@pytest.mark.parametrize(
    ("name", "second"),
    [
        ("Idempotency-Key", "k2"),
        ("Authorization", "Bearer pf_other"),
        ("X-Workspace-Id", "00000000-0000-0000-0000-000000000000"),
    ],
)
async def test_a_header_sent_twice_is_a_400_and_nothing_runs(
    client: httpx.AsyncClient, harness: Harness, ada: IssuedToken, name: str, second: str
) -> None:
    """With two, which one counts would be a guess (the first token? the last key?)."""
    first = {"Idempotency-Key": "k1", "Authorization": f"Bearer {ada.token}", "X-Workspace-Id": str(ada.workspace_id)}
    headers = [("Authorization", f"Bearer {ada.token}"), (name, first[name]), (name, second)]
    if name == "Authorization":
        headers = headers[1:]
    execution_id = await waiting_for_a_signal(client, ada)
    answer = await client.post(f"{EXECUTIONS}/{execution_id}/signals/refund", json={"payload": 1}, headers=headers)
    assert answer.status_code == 400, answer.text
    assert answer.json() == {"error": f"the {name} header is sent more than once: send it once"}
    assert answer.headers["x-request-id"]
    assert await harness.count("workflow_signals") == 0
    once = await client.post(f"{EXECUTIONS}/{execution_id}/signals/refund", json={"payload": 1}, headers=headers[:-1])
    assert once.status_code == 202, once.text


# --- the console --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("%0A", "must not be empty or only whitespace"),
        ("%20%09", "must not be empty or only whitespace"),
        ("pay%0Dment", "must not contain control characters (line breaks, tabs, ...)"),
        ("pay%7Fment", "must not contain control characters (line breaks, tabs, ...)"),
        ("pay%E2%80%A8ment", "must not contain control characters (line breaks, tabs, ...)"),  # line separator
        ("pay%E2%80%A9ment", "must not contain control characters (line breaks, tabs, ...)"),  # paragraph separator
    ],
)
async def test_a_signal_name_blank_or_with_control_characters_is_a_422_saying_which(
    client: httpx.AsyncClient, harness: Harness, ada: IssuedToken, name: str, problem: str
) -> None:
    execution_id = await waiting_for_a_signal(client, ada)
    answer = await client.post(f"{EXECUTIONS}/{execution_id}/signals/{name}", json={"payload": 1}, headers=auth(ada))
    assert answer.status_code == 422, answer.text
    assert answer.json()["details"] == {"name": problem}
    assert await harness.count("workflow_signals") == 0


async def assert_a_file_is_refused(web: httpx.AsyncClient, url: str, fields: dict[str, str], field: str) -> None:
    """POST the console form ``url`` with ``fields`` and a file for ``field``: a 422 saying the form takes text."""
    answer = await web.post(url, data=fields, files={field: ("f.txt", b"text", "application/octet-stream")})
    assert answer.status_code == 422, answer.text[:500]
    assert f"The form sent a file for {field}: it takes text." in answer.text


async def test_a_console_signal_form_with_a_file_for_its_name_is_a_422(
    harness: Harness, client: httpx.AsyncClient, web: httpx.AsyncClient, ada: IssuedToken
) -> None:
    execution_id = await waiting_for_a_signal(client, ada)
    csrf = await signed_in(web, ada.token)
    fields = {"csrf_token": csrf, "payload": "1"}
    await assert_a_file_is_refused(web, f"{CONSOLE}/executions/{execution_id}/signal", fields, "name")
    assert await harness.count("workflow_signals") == 0


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ('"\\u0000"', "without NUL characters"),
        ("[" * 10_000 + "]" * 10_000, "nested at most 64 levels"),
        ('"\\ud800"', "Enter JSON"),
        ("NaN", "Enter JSON"),
        ("1" * 5000, "Enter JSON"),
    ],
    ids=["nul-escape", "deep", "lone-surrogate", "nan", "huge-integer"],
)
async def test_the_console_signal_form_refuses_a_payload_the_api_would_refuse(
    harness: Harness, client: httpx.AsyncClient, web: httpx.AsyncClient, ada: IssuedToken, payload: str, problem: str
) -> None:
    execution_id = await waiting_for_a_signal(client, ada)
    csrf = await signed_in(web, ada.token)
    form = {"csrf_token": csrf, "name": "refund", "payload": payload}
    answer = await web.post(f"{CONSOLE}/executions/{execution_id}/signal", data=form)
    assert answer.status_code == 422, answer.text[:500]
    assert problem in answer.text
    assert await harness.count("workflow_signals") == 0


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("workflows/http_echo/start", {"value": "a\x00b"}),
        ("executions/{execution_id}/signal", {"name": "a\x00b", "payload": "1"}),
        ("executions/{execution_id}/signal", {"name": "refund", "payload": '"a\x00b"'}),
    ],
    ids=["start-input", "signal-name", "signal-payload"],
)
async def test_a_console_form_field_holding_a_nul_is_a_422_naming_it(
    harness: Harness,
    client: httpx.AsyncClient,
    web: httpx.AsyncClient,
    ada: IssuedToken,
    path: str,
    fields: dict[str, str],
) -> None:
    execution_id = await waiting_for_a_signal(client, ada)
    csrf = await signed_in(web, ada.token)
    before = await harness.count("workflow_executions")
    answer = await web.post(f"{CONSOLE}/{path.format(execution_id=execution_id)}", data={"csrf_token": csrf, **fields})
    assert answer.status_code == 422, answer.text[:500]
    assert "must not contain NUL characters" in answer.text
    assert next(name for name, value in fields.items() if "\x00" in value) in answer.text
    assert await harness.count("workflow_executions") == before
    assert await harness.count("workflow_signals") == 0


async def bob_signed_in_to_decide(
    harness: Harness, client: httpx.AsyncClient, web: httpx.AsyncClient, ada: IssuedToken
) -> tuple[IssuedToken, str, str]:
    """Bob, an execution Ada started that halts for his approval, and the CSRF token of his console session."""
    bob = await harness.user("bob@example.com", "Acme")
    execution_id = await started(client, ada, "http_rules", {"approver": "bob@example.com"})
    await wait_for(client, ada, execution_id, {"halted"})
    return bob, execution_id, await signed_in(web, bob.token)


async def test_a_console_decision_with_a_nul_in_its_response_or_comment_records_nothing(
    harness: Harness, client: httpx.AsyncClient, web: httpx.AsyncClient, ada: IssuedToken
) -> None:
    _, execution_id, csrf = await bob_signed_in_to_decide(harness, client, web, ada)
    for fields in ({"reason": "a\x00bc"}, {"reason": "abc", "comment": "a\x00"}):
        body = urlencode({"csrf_token": csrf, "decision": "approve", **fields})
        answer = await web.post(f"{CONSOLE}/approvals/{execution_id}", content=body, headers=FORM)
        assert answer.status_code == 422, answer.text[:500]
        assert "must not contain NUL characters" in answer.text
    shown = await client.get(f"{EXECUTIONS}/{execution_id}", headers=auth(ada))
    assert shown.json()["data"]["halt"]["data"]["decisions"] == []
    assert await harness.count("workflow_decisions") == 0
    assert await harness.count("audit_log", "action = 'approve'") == 0


async def test_a_console_decision_with_a_comment_the_api_refuses_records_nothing(
    harness: Harness, client: httpx.AsyncClient, web: httpx.AsyncClient, ada: IssuedToken
) -> None:
    bob, execution_id, csrf = await bob_signed_in_to_decide(harness, client, web, ada)
    body = urlencode({"csrf_token": csrf, "decision": "approve", "reason": "abc", "comment": "x" * 10_001})
    answer = await web.post(f"{CONSOLE}/approvals/{execution_id}", content=body, headers=FORM)
    assert answer.status_code == 422, answer.text[:500]
    assert "The comment must be at most 10000 characters (it has 10,001)." in answer.text
    assert await harness.count("workflow_decisions") == 0
    assert await harness.count("audit_log", "action = 'approve'") == 0
    api = await client.post(
        f"{EXECUTIONS}/{execution_id}/decisions", json={"approved": True, "comment": "x" * 10_001}, headers=auth(bob)
    )
    assert api.status_code == 422, api.text  # the API's answer to the same decision
    assert api.json()["details"]["comment"] == "must be at most 10000 characters"


async def test_console_forms_refuse_a_file_for_any_field_and_record_nothing(
    harness: Harness, client: httpx.AsyncClient, web: httpx.AsyncClient, ada: IssuedToken
) -> None:
    """No console form takes a file: a comment sent as one was kept as the text "a.txt - text/plain"."""
    _, execution_id, csrf = await bob_signed_in_to_decide(harness, client, web, ada)
    decision = {"csrf_token": csrf, "decision": "reject"}
    await assert_a_file_is_refused(web, f"{CONSOLE}/approvals/{execution_id}", decision, "comment")
    assert await harness.count("workflow_decisions") == 0
    assert await harness.count("audit_log", "action = 'reject'") == 0
    begun = await harness.count("workflow_executions")
    await assert_a_file_is_refused(web, f"{CONSOLE}/workflows/http_echo/start", {"csrf_token": csrf}, "value")
    assert await harness.count("workflow_executions") == begun


@pytest.mark.parametrize(
    ("seconds", "problem"),
    [("nan", "Enter a number."), ("inf", "Enter a number."), ("-inf", "Enter a number."), ("1e999", "Enter a finite")],
)
async def test_a_console_number_field_takes_only_finite_numbers(
    harness: Harness, client: httpx.AsyncClient, web: httpx.AsyncClient, ada: IssuedToken, seconds: str, problem: str
) -> None:
    csrf = await signed_in(web, ada.token)
    answer = await web.post(f"{CONSOLE}/workflows/http_wait/start", data={"csrf_token": csrf, "seconds": seconds})
    assert answer.status_code == 422, answer.text[:500]
    assert problem in answer.text
    assert await harness.count("workflow_executions") == 0


@pytest.mark.parametrize(
    "query",
    [
        "from=0001-01-01T00:00:00%2B05:00",
        "to=0001-01-01T00:00:00%2B05:00",
        "from=9999-12-31T23:59:00-05:00",
        "to=9999-12-31T23:59:00-05:00",
    ],
)
async def test_a_console_time_filter_out_of_the_utc_range_is_a_422(
    client: httpx.AsyncClient, web: httpx.AsyncClient, ada: IssuedToken, query: str
) -> None:
    await signed_in(web, ada.token)
    answer = await web.get(f"{CONSOLE}/executions?{query}")
    assert answer.status_code == 422, answer.text[:500]
    assert "enter a date and time" in answer.text


# --- waits --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [1e300, 10**30])
async def test_a_wait_longer_than_a_century_fails_its_execution_saying_so(
    client: httpx.AsyncClient, ada: IssuedToken, seconds: float
) -> None:
    execution_id = await started(client, ada, "http_wait", {"seconds": seconds})
    failed = await wait_for(client, ada, execution_id, {"failed"})
    assert "step 'pause' field 'seconds': at most 3162240000 seconds (a century)" in failed["error"]


@pytest.mark.parametrize("until", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:00-05:00"])
def test_a_wait_until_outside_the_utc_years_is_a_step_error(until: str) -> None:
    with pytest.raises(StepError, match="outside the years 1 to 9999 in UTC"):
        parse_until(until, "step 'pause' field 'until'")
