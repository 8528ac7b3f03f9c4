"""Test helpers for pack authors: a pytest plugin, registered through the ``pytest11`` entry point.

Installing Packflow makes these fixtures available in every test suite. Loading the plugin needs
nothing beyond Packflow itself, so suites that do not use it are not affected; the fixtures that
start the app (``packflow_app`` and those built on it) need pytest-asyncio, and say so when used
without it (``pip install 'packflow-platform[test]'``). See docs/writing-a-pack.md, "Testing a pack".

- ``packflow_packs``: the packs to enable (default: the ``packflow_packs`` ini option, else none
  besides ``core``). Override it in your ``conftest.py``::

      @pytest.fixture
      def packflow_packs() -> tuple[str, ...]:
          return ("my_pack",)

- ``packflow_pack_settings``: each pack's settings section, by pack name (default: none, so every
  pack runs on its defaults). Override it to test a pack under other settings::

      @pytest.fixture
      def packflow_pack_settings() -> dict[str, dict[str, Any]]:
          return {"my_pack": {"currency": "EUR"}}

- ``packflow_settings``: settings for a fresh SQLite database in the test's temporary folder.
- ``packflow_app``: the app built from them, started (migrations applied) for the test.
- ``packflow_user``: a user, a workspace and a token (:class:`PackflowUser`).
- ``packflow_client``: an ``httpx.AsyncClient`` speaking to the app through ASGI, already sending
  that user's bearer token.
- ``packflow_run_workflow``: ``await packflow_run_workflow(workflow_id, input)`` runs a workflow of
  an enabled pack to its end (or first halt) and returns a :class:`WorkflowRun` with the result
  and the recorded entries; ``await packflow_run_workflow.resume(execution_id, approved=True)``
  continues a halted execution (:class:`WorkflowRunner`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

import pytest

try:
    import pytest_asyncio
except ImportError:  # the fixtures that need it say so when used (see the module docstring)
    pytest_asyncio = None  # type: ignore[assignment]

if TYPE_CHECKING:
    import httpx
    from litestar import Litestar

    from app.settings import Settings
    from packs.core import workflow as wf

MISSING_PYTEST_ASYNCIO = (
    "the Packflow fixture {name!r} needs pytest-asyncio, which is not installed: "
    "pip install 'packflow-platform[test]' (or pip install pytest-asyncio)"
)


F = TypeVar("F", bound=Callable[..., Any])


def async_fixture(function: F) -> F:
    """``pytest_asyncio.fixture``; without pytest-asyncio, a fixture of that name that fails the test using it,
    saying what to install (so that loading the plugin never fails)."""
    if pytest_asyncio is not None:
        return cast(F, pytest_asyncio.fixture(function))
    name = function.__name__

    def missing() -> None:
        pytest.fail(MISSING_PYTEST_ASYNCIO.format(name=name), pytrace=False)

    missing.__doc__ = function.__doc__
    return cast(F, pytest.fixture(name=name)(missing))


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


def pytest_configure(config: pytest.Config) -> None:
    """Keep Litestar's deprecation notices about Packflow's own route handlers out of pack authors' reports."""
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:litestar.*")


def pytest_addoption(parser: pytest.Parser) -> None:
    """The ``packflow_packs`` ini option: packs the fixtures enable unless ``packflow_packs`` is overridden."""
    parser.addini("packflow_packs", "packs the Packflow fixtures enable (besides core)", type="args", default=[])


@pytest.fixture
def packflow_packs(request: pytest.FixtureRequest) -> tuple[str, ...]:
    """The packs to enable (``core`` always is); override this fixture or set the ini option."""
    return tuple(request.config.getini("packflow_packs"))


@pytest.fixture
def packflow_pack_settings() -> dict[str, dict[str, Any]]:
    """Each pack's settings section by pack name, validated as the settings file's ``[packs.<name>]``."""
    return {}


@pytest.fixture
def packflow_settings(
    tmp_path: Path, packflow_packs: tuple[str, ...], packflow_pack_settings: dict[str, dict[str, Any]]
) -> Settings:
    """Settings for a new SQLite database in the test's folder, with the chosen packs, their settings and the
    inline queue."""
    from app.settings import Settings

    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'packflow.db'}",
        packs=packflow_packs,
        queue="inline",
        auto_migrate=True,
        pack_settings=packflow_pack_settings,
        pack_sources={
            pack: dict.fromkeys(section, f"packflow_pack_settings[{pack!r}]")
            for pack, section in packflow_pack_settings.items()
        },
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


@async_fixture
async def packflow_app(packflow_settings: Settings) -> AsyncIterator[Litestar]:
    """The app with the chosen packs, started on its own database (migrations applied)."""
    from app import create_app
    from app.plugin import PackflowPlugin

    app = create_app(packflow_settings)
    try:
        async with started(app):
            yield app
    finally:
        await app.plugins.get(PackflowPlugin).db.get_engine().dispose()


@async_fixture
async def packflow_user(packflow_app: Litestar) -> PackflowUser:
    """A new user in a new workspace, with a token."""
    from app.plugin import PackflowPlugin
    from packs.core.identity.accounts import create_user

    async with packflow_app.plugins.get(PackflowPlugin).db.create_session_maker()() as session:
        issued = await create_user(session, "author@example.com", "Pack authors")
        await session.commit()
    return PackflowUser(str(issued.user_id), str(issued.workspace_id), issued.token)


@async_fixture
async def packflow_client(packflow_app: Litestar, packflow_user: PackflowUser) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the app (through ASGI), sending ``packflow_user``'s token."""
    import httpx

    transport = httpx.ASGITransport(app=packflow_app)  # type: ignore[arg-type]  # Litestar is an ASGI app
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=packflow_user.headers
    ) as client:
        yield client


class WorkflowRunner:
    """Runs workflows of the test app's enabled packs in the test's own event loop, on the app's database.

    ``await runner(workflow_id, input)`` runs to the end or the first halt;
    ``await runner.resume(execution_id, approved=True)`` (or ``response=...``) continues a halted one.
    Both answer a :class:`WorkflowRun`. An execution whose input names a ``workspace_id`` (and
    ``user_id``) belongs to that workspace (started by that user), as one started over HTTP does, so
    ``packflow_client`` sees it: its page, its signals, its approvals (docs/writing-a-pack.md, 8. Tests).
    """

    def __init__(self, app: Litestar) -> None:
        self.runtime = app.state.workflows

    async def __call__(
        self, workflow_id: str, input: dict[str, Any] | None = None, execution_id: str | None = None
    ) -> WorkflowRun:
        """Run ``workflow_id`` with ``input`` (``execution_id`` is an idempotency key, as in the engine)."""
        given = input or {}
        result = await self.engine(workflow_id).run(
            given, execution_id, workspace_id=_owner(given, "workspace_id"), created_by_id=_owner(given, "user_id")
        )
        return WorkflowRun(result, await self.runtime.store.entries(result.execution_id))

    async def resume(self, execution_id: str, *, approved: bool | None = None, response: Any = None) -> WorkflowRun:
        """Resume the halted execution ``execution_id`` with an approval or a response."""
        from packs.core import workflow as wf

        execution = await self.runtime.store.load(execution_id)
        if execution is None:
            raise wf.ExecutionError(f"no execution {execution_id}")
        result = await self.engine(execution.workflow_id).resume(execution_id, response=response, approved=approved)
        return WorkflowRun(result, await self.runtime.store.entries(execution_id))

    def engine(self, workflow_id: str) -> wf.Engine:
        """An engine for ``workflow_id`` on the app's store and services."""
        from packs.core import workflow as wf

        return wf.Engine(self.runtime.service.definition(workflow_id), self.runtime.store, self.runtime.services)


def _owner(input: dict[str, Any], key: str) -> str | None:
    """The input's ``key`` when it is a UUID (a workspace or user id), else None (the run checks its input)."""
    value = input.get(key)
    try:
        return str(UUID(value)) if isinstance(value, str) else None
    except ValueError:
        return None


RunWorkflow = WorkflowRunner
"""The type of ``packflow_run_workflow`` (kept under its first name)."""


@pytest.fixture
def packflow_run_workflow(packflow_app: Litestar) -> WorkflowRunner:
    """``await packflow_run_workflow(workflow_id, input)``: run to the end or first halt; ``.resume(...)`` goes on."""
    return WorkflowRunner(packflow_app)
