"""The events stream of an execution, read with a real HTTP client from a real ``litestar run`` server.

The server runs the executions itself (inline queue): the stream is read while they run.
"""

from __future__ import annotations

import datetime
import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app.database import configure_engine
from packs.core.identity.accounts import IssuedToken, create_user
from packs.core.workflow import Action, Entry, Execution, Status
from packs.core.workflow.replay import EventReplay
from tests.support.harness import auth
from tests.support.processes import REPO, environment, litestar_server

PACKS = "contacts_service,pftest_workflow_http"


@pytest.fixture(scope="module")
def server(database_url: str, fixture_packs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``litestar run`` on a free port against the current backend's database, with the workflow_http pack."""
    env = environment(database_url, PACKFLOW_PACKS=PACKS, PYTHONPATH=os.pathsep.join([str(fixture_packs), str(REPO)]))
    with litestar_server(env, tmp_path_factory.mktemp("sse-server") / "server.log") as base:
        yield base


async def new_user(database_url: str, email: str) -> IssuedToken:
    """A user in a workspace of their own, written straight into the server's database."""
    engine = configure_engine(create_async_engine(database_url))
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            issued = await create_user(session, email, f"Workspace of {email}")
            await session.commit()
            return issued
    finally:
        await engine.dispose()


@pytest.fixture
async def user(database_url: str, request: pytest.FixtureRequest) -> IssuedToken:
    return await new_user(database_url, f"{request.node.name.split('[')[0][:40]}-{time.time_ns()}@example.com")


@pytest.fixture
async def client(server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server, timeout=30) as http:
        yield http


@dataclass
class Received:
    """One server-sent event and when it arrived (seconds since the stream opened)."""

    type: str
    data: dict[str, Any]
    at: float = field(default=0.0)


async def read_events(
    client: httpx.AsyncClient, issued: IssuedToken, execution_id: str, on_event: Any = None
) -> tuple[list[Received], float]:
    """Read the stream until the server ends it; the events and how long the stream stayed open."""
    opened = time.monotonic()
    events: list[Received] = []
    url = f"/api/v1/workflows/executions/{execution_id}/events"
    async with client.stream("GET", url, headers=auth(issued)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        kind: str | None = None
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                payload = json.loads(line.removeprefix("data: "))
                assert payload["type"] == kind
                event = Received(payload["type"], payload["data"], time.monotonic() - opened)
                events.append(event)
                if on_event is not None:
                    await on_event(event)
    return events, time.monotonic() - opened


async def start(client: httpx.AsyncClient, issued: IssuedToken, workflow_id: str, body: dict[str, Any]) -> str:
    response = await client.post(f"/api/v1/workflows/{workflow_id}/executions", json=body, headers=auth(issued))
    assert response.status_code in (200, 202), response.text
    execution_id: str = response.json()["data"]["id"]
    return execution_id


@pytest.mark.processes
async def test_the_stream_follows_a_running_execution_live_and_ends_with_it(
    client: httpx.AsyncClient, user: IssuedToken
) -> None:
    execution_id = await start(client, user, "http_slow", {"input": {"seconds": 1.5}})
    events, open_for = await read_events(client, user, execution_id)
    assert [(event.type, event.data.get("step_id")) for event in events] == [
        ("workflow.started", None),
        ("step.started", "start"),
        ("step.completed", "start"),
        ("step.started", "nap"),
        ("step.completed", "nap"),
        ("step.started", "done"),
        ("step.completed", "done"),
        ("workflow.completed", None),
    ]
    assert events[0].data == {"execution_id": execution_id, "workflow_id": "http_slow"}
    assert events[-1].data == {"execution_id": execution_id, "output": {"slept": 1.5}}
    nap_started, nap_completed = events[3], events[4]
    assert nap_completed.at - nap_started.at > 1.0, "the events arrived together: the stream was not live"
    assert open_for < 10
    shown = await client.get(f"/api/v1/workflows/executions/{execution_id}", headers=auth(user))
    assert shown.json()["data"]["status"] == "completed"


@pytest.mark.processes
async def test_the_stream_stays_open_while_halted_and_follows_the_resume(
    client: httpx.AsyncClient, user: IssuedToken
) -> None:
    people = [{"first_name": f"P{i}", "last_name": "Streamed"} for i in range(11)]
    execution_id = await start(client, user, "bulk_import", {"input": {"contacts": people}})

    async def approve_when_halted(event: Received) -> None:
        if event.type == "workflow.halted":
            assert event.data["halt"]["prompt"] == "Import 11 contacts?"
            resumed = await client.post(
                f"/api/v1/workflows/executions/{execution_id}/resume", json={"approved": True}, headers=auth(user)
            )
            assert resumed.status_code == 202, resumed.text

    events, _ = await read_events(client, user, execution_id, approve_when_halted)
    types = [event.type for event in events]
    assert types[0] == "workflow.started"
    halted_at = types.index("workflow.halted")
    assert types[halted_at - 1] == "step.halted"
    assert types[halted_at + 1] == "workflow.resumed"
    assert types[-1] == "workflow.completed"
    assert events[-1].data["output"]["status"] == "all_created"


@pytest.mark.processes
async def test_the_stream_of_a_finished_execution_replays_it_and_ends_at_once(
    client: httpx.AsyncClient, user: IssuedToken
) -> None:
    execution_id = await start(client, user, "http_echo", {"input": {"value": "done"}, "mode": "sync"})
    events, open_for = await read_events(client, user, execution_id)
    assert [event.type for event in events] == [
        "workflow.started",
        "step.started",
        "step.completed",
        "step.started",
        "step.completed",
        "workflow.completed",
    ]
    assert events[-1].data["output"]["input"]["value"] == "done"
    assert open_for < 2


@pytest.mark.processes
async def test_the_stream_of_another_workspaces_execution_is_404(
    client: httpx.AsyncClient, user: IssuedToken, database_url: str
) -> None:
    execution_id = await start(client, user, "http_echo", {"mode": "sync"})
    stranger = await new_user(database_url, f"stranger-{time.time_ns()}@example.com")
    response = await client.get(f"/api/v1/workflows/executions/{execution_id}/events", headers=auth(stranger))
    assert response.status_code == 404
    assert response.json() == {"error": f"no execution {execution_id}"}


def test_a_run_whose_status_still_reads_pending_but_has_entries_has_started() -> None:
    """The status is read before the entries: a first step recorded in between still starts the stream."""
    execution = Execution(id="e1", workflow_id="w", status=Status.PENDING)
    entry = Entry(execution_id="e1", step_id="start", step_type="start", action=Action.STARTED)
    replay = EventReplay("e1")
    assert [event.type for event in replay.advance(execution, [entry])] == ["workflow.started", "step.started"]
    execution.status = Status.RUNNING
    assert replay.advance(execution, [entry]) == []


def test_a_halt_whose_entry_is_read_before_its_status_is_still_announced() -> None:
    """Entries are read after the status: the halted entry can come one poll before the ``halted`` status."""
    execution = Execution(id="e1", workflow_id="w", status=Status.RUNNING)
    halted = Entry(execution_id="e1", step_id="ask", step_type="approval", action=Action.HALTED, output={"x": 1})
    replay = EventReplay("e1")
    assert [event.type for event in replay.advance(execution, [halted])] == ["workflow.started", "step.halted"]
    execution.status = Status.HALTED
    execution.halt_data = {"x": 1}
    announced = replay.advance(execution, [halted])
    assert [(event.type, event.data) for event in announced] == [
        ("workflow.halted", {"execution_id": "e1", "halt": {"x": 1}})
    ]
    assert replay.advance(execution, [halted]) == []
    execution.status = Status.RUNNING
    again = Entry(execution_id="e1", step_id="ask", step_type="approval", action=Action.STARTED)
    assert [event.type for event in replay.advance(execution, [halted, again])] == ["workflow.resumed", "step.started"]


def at(seconds: int) -> datetime.datetime:
    return datetime.datetime(2026, 1, 1, 12, 0, seconds, tzinfo=datetime.UTC)


def asked_and_halted() -> list[Entry]:
    """An approval ``ask`` started at 12:00:01 and halted at 12:00:02 with ``{"x": 1}``."""
    return [
        Entry(execution_id="e1", step_id="ask", step_type="approval", action=Action.STARTED, timestamp=at(1)),
        Entry(
            execution_id="e1",
            step_id="ask",
            step_type="approval",
            action=Action.HALTED,
            output={"x": 1},
            timestamp=at(2),
        ),
    ]


def test_the_replay_of_a_finished_execution_announces_its_past_halts_in_order_at_their_times() -> None:
    """Replayed once it has ended, the halt (whose status the watcher never saw) is announced from its entry,
    between its ``step.halted`` and the ``workflow.resumed``; ``workflow.started`` is at the first entry's time."""
    entries = [
        *asked_and_halted(),
        Entry(execution_id="e1", step_id="ask", step_type="approval", action=Action.STARTED, timestamp=at(30)),
        Entry(execution_id="e1", step_id="ask", step_type="approval", action=Action.COMPLETED, timestamp=at(31)),
    ]
    execution = Execution(id="e1", workflow_id="w", status=Status.COMPLETED, result={"ok": True}, updated_at=at(32))
    events = EventReplay("e1").advance(execution, entries)
    assert [(event.type, event.timestamp) for event in events] == [
        ("workflow.started", at(1).isoformat()),
        ("step.started", at(1).isoformat()),
        ("step.halted", at(2).isoformat()),
        ("workflow.halted", at(2).isoformat()),
        ("workflow.resumed", at(30).isoformat()),
        ("step.started", at(30).isoformat()),
        ("step.completed", at(31).isoformat()),
        ("workflow.completed", at(32).isoformat()),
    ]
    assert events[3].data == {"execution_id": "e1", "halt": {"x": 1}}


def test_an_execution_cancelled_while_halted_replays_its_halt_before_the_cancel() -> None:
    entries = asked_and_halted()
    execution = Execution(id="e1", workflow_id="w", status=Status.CANCELLED, error="Cancelled", updated_at=at(9))
    replay = EventReplay("e1")
    assert [event.type for event in replay.advance(execution, entries)] == [
        "workflow.started",
        "step.started",
        "step.halted",
        "workflow.halted",
        "workflow.cancelled",
    ]
    assert replay.advance(execution, entries) == []
