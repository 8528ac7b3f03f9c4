"""Tools use the unit of work their caller opened: committed when the block succeeds, rolled back when not."""

from __future__ import annotations

import pytest

from app.packs import load_packs
from packs.contacts_service.tools import Create, Index
from packs.core.db import unit_of_work
from tests.support.harness import Harness

CONTACT = {"first_name": "Grace", "last_name": "Hopper"}


async def test_a_tool_called_directly_commits_with_its_caller(harness: Harness) -> None:
    issued = await harness.user()
    load_packs(["contacts_service"])
    session_maker = harness.plugin.db.create_session_maker()
    async with unit_of_work(session_maker):
        created = await Create.execute(user_id=issued.user_id, workspace_id=issued.workspace_id, contact=CONTACT)
    assert created["meta"] == {"created": True}
    assert await harness.count("items") == 1
    async with unit_of_work(session_maker):
        listed = await Index.execute(user_id=issued.user_id, workspace_id=issued.workspace_id)
    assert [item["id"] for item in listed["data"]] == [created["data"]["id"]]


async def test_a_failure_after_the_tool_rolls_its_writes_back(harness: Harness) -> None:
    issued = await harness.user()
    load_packs(["contacts_service"])

    async def create_then_fail() -> None:
        async with unit_of_work(harness.plugin.db.create_session_maker()):
            await Create.execute(user_id=issued.user_id, workspace_id=issued.workspace_id, contact=CONTACT)
            raise RuntimeError("after the tool")

    with pytest.raises(RuntimeError, match="after the tool"):
        await create_then_fail()
    assert await harness.count("items") == 0
