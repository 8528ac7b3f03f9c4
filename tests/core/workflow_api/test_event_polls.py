"""An event stream reads its execution's entries only when the execution changed, and slows its polls while
nothing does (packs/core/workflow_api/service.py, ``WorkflowService.events``): 200 streams open on a halted
execution kept a core busy reading all its entries five times a second each."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from packs.core.workflow_api.service import WorkflowService
from tests.support.harness import Harness, auth, harness_for, make_settings
from tests.support.workflow_http import PACKS, started, wait_for


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    async with harness_for(make_settings(database_url, packs=PACKS)) as built:
        yield built


async def test_a_stream_on_a_halted_execution_reads_its_entries_once_and_polls_ever_slower(
    client: httpx.AsyncClient, harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada = await harness.user()
    execution_id = await started(client, ada, "http_ask")
    await wait_for(client, ada, execution_id, {"halted"})
    service: WorkflowService = harness.app.state.workflow_service
    reads = {"entries": 0, "load": 0}
    entries, load = service.store.entries, service.store.load

    async def counted_entries(*args: Any, **kwargs: Any) -> Any:
        reads["entries"] += 1
        return await entries(*args, **kwargs)

    async def counted_load(*args: Any, **kwargs: Any) -> Any:
        reads["load"] += 1
        return await load(*args, **kwargs)

    monkeypatch.setattr(service.store, "entries", counted_entries)
    monkeypatch.setattr(service.store, "load", counted_load)
    seen: list[str] = []

    async def watch() -> None:
        async for event in service.events(execution_id, str(ada.workspace_id)):
            seen.append(event.type)

    watching = asyncio.create_task(watch())
    await asyncio.sleep(4.0)
    watching.cancel()
    assert "workflow.halted" in seen
    assert reads["entries"] == 1, reads  # the execution did not change after the first read
    # Pauses of 0.2 s, then 1.5 times longer each up to MAX_POLL_SECONDS (0.2, 0.3, 0.45, 0.68, 1.01, 1.52, 2):
    # 6 or 7 reads of the row in 4 s, where a poll every 0.2 s made 20 (and read every entry each time).
    assert reads["load"] <= 8, reads


def sent(text: str) -> list[tuple[int, str]]:
    """``(id, event type)`` of each server-sent event in ``text``."""
    found = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        found.append((int(fields["id"]), fields["event"]))
    return found


async def test_each_event_has_an_id_and_a_reconnecting_stream_goes_on_after_the_last_one_received(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    ada = await harness.user()
    execution_id = await started(client, ada, "http_echo", {"value": "done"})
    await wait_for(client, ada, execution_id, {"completed"})
    url = f"/api/v1/workflows/executions/{execution_id}/events"
    whole = await client.get(url, headers=auth(ada))
    assert whole.status_code == 200, whole.text
    events = sent(whole.text)
    assert [event_id for event_id, _ in events] == list(range(len(events)))
    assert (events[0][1], events[-1][1]) == ("workflow.started", "workflow.completed")
    rest = await client.get(url, headers={**auth(ada), "Last-Event-ID": "2"})
    assert sent(rest.text) == events[3:]
    assert (await client.get(url, headers={**auth(ada), "Last-Event-ID": ""})).text == whole.text
    for bad in ("abc", "-1", "1" * 30):
        refused = await client.get(url, headers={**auth(ada), "Last-Event-ID": bad})
        assert refused.status_code == 422, refused.text
        assert "must be the id of an event this stream sent" in refused.json()["details"]["Last-Event-ID"]
