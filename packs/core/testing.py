"""Test helpers for pack authors: a pytest plugin, registered through the ``pytest11`` entry point.

Installing Packflow makes these fixtures available in every test suite (pytest-asyncio needed):

- ``packflow_packs``: the packs to enable (default: the ``packflow_packs`` ini option, else none
  besides ``core``). Override it in your ``conftest.py``::

      @pytest.fixture
      def packflow_packs() -> tuple[str, ...]:
          return ("my_pack",)

- ``packflow_settings``: settings for a fresh SQLite database in the test's temporary folder.
- ``packflow_app``: the app built from them, started (migrations applied) for the test.
- ``packflow_user``: a user, a workspace and a token (:class:`PackflowUser`).
- ``packflow_client``: an ``httpx.AsyncClient`` speaking to the app through ASGI, already sending
  that user's bearer token.
- ``packflow_run_workflow``: ``await packflow_run_workflow(workflow_id, input)`` runs a workflow of
  an enabled pack to its end (or first halt) and returns a :class:`WorkflowRun` with the result
  and the recorded entries.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import pytest_asyncio

from packs.core import workflow as wf

if TYPE_CHECKING:
    from litestar import Litestar

    from app.settings import Settings


@dataclass(frozen=True)
class PackflowUser:
    """A user of the test app: ids and a bearer token."""

    user_id: str
    workspace_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        """``Authorization`` (and ``X-Workspace-Id``) headers for requests as this user."""
        return {"Authorization": f"Bearer {self.token}", "X-Workspace-Id": self.workspace_id}


@dataclass(frozen=True)
class WorkflowRun:
    """What :func:`packflow_run_workflow` answers: the result and every entry, oldest first."""

    result: wf.ExecutionResult
    entries: list[wf.Entry]

    @property
    def steps(self) -> list[tuple[str, str]]:
        """``(step_id, action)`` of every entry: handy in assertions."""
        return [(entry.step_id, str(entry.action)) for entry in self.entries]


RunWorkflow = Callable[..., Awaitable[WorkflowRun]]


def pytest_addoption(parser: pytest.Parser) -> None:
    """The ``packflow_packs`` ini option: packs the fixtures enable unless ``packflow_packs`` is overridden."""
    parser.addini("packflow_packs", "packs the Packflow fixtures enable (besides core)", type="args", default=[])


@pytest.fixture
def packflow_packs(request: pytest.FixtureRequest) -> tuple[str, ...]:
    """The packs to enable (``core`` always is); override this fixture or set the ini option."""
    return tuple(request.config.getini("packflow_packs"))


@pytest.fixture
def packflow_settings(tmp_path: Path, packflow_packs: tuple[str, ...]) -> Settings:
    """Settings for a new SQLite database in the test's folder, with the chosen packs and the inline queue."""
    from app.settings import Settings

    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'packflow.db'}",
        packs=packflow_packs,
        queue="inline",
        auto_migrate=True,
    )


@asynccontextmanager
async def started(app: Litestar) -> AsyncIterator[Litestar]:
    """Run ``app``'s startup and shutdown around the block (in a task of their own, as a server would)."""
    ready, stop = asyncio.Event(), asyncio.Event()

    async def lifespan() -> None:
        async with app.lifespan():
            ready.set()
            await stop.wait()

    task = asyncio.create_task(lifespan())
    waiting = asyncio.create_task(ready.wait())
    await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiting.cancel()
        task.result()
    try:
        yield app
    finally:
        stop.set()
        await task


@pytest_asyncio.fixture
async def packflow_app(packflow_settings: Settings) -> AsyncIterator[Litestar]:
    """The app with the chosen packs, started on its own database (migrations applied)."""
    from app import create_app
    from app.server import PackflowPlugin

    app = create_app(packflow_settings)
    try:
        async with started(app):
            yield app
    finally:
        await app.plugins.get(PackflowPlugin).db.get_engine().dispose()


@pytest_asyncio.fixture
async def packflow_user(packflow_app: Litestar) -> PackflowUser:
    """A new user in a new workspace, with a token."""
    from app.server import PackflowPlugin
    from packs.core.identity.accounts import create_user

    async with packflow_app.plugins.get(PackflowPlugin).db.create_session_maker()() as session:
        issued = await create_user(session, "author@example.com", "Pack authors")
        await session.commit()
    return PackflowUser(str(issued.user_id), str(issued.workspace_id), issued.token)


@pytest_asyncio.fixture
async def packflow_client(packflow_app: Litestar, packflow_user: PackflowUser) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the app (through ASGI), sending ``packflow_user``'s token."""
    transport = httpx.ASGITransport(app=packflow_app)  # type: ignore[arg-type]  # Litestar is an ASGI app
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=packflow_user.headers
    ) as client:
        yield client


@pytest.fixture
def packflow_run_workflow(packflow_app: Litestar) -> RunWorkflow:
    """``await packflow_run_workflow(workflow_id, input=None, execution_id=None)``: run to the end or first halt."""

    async def run(
        workflow_id: str, input: dict[str, Any] | None = None, execution_id: str | None = None
    ) -> WorkflowRun:
        runtime = packflow_app.state.workflows
        definition = runtime.service.definition(workflow_id)
        result = await wf.Engine(definition, runtime.store, runtime.services).run(input or {}, execution_id)
        return WorkflowRun(result, await runtime.store.entries(result.execution_id))

    return run
