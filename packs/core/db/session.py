"""The unit of work: the database session opened by a tool's caller, reachable by the tool.

The caller (the resources controller per request, the workflow engine per step) opens a session,
binds it with :func:`bind_session` or :func:`unit_of_work`, calls the tool and commits or rolls
back. The tool reads the session with :func:`current_session` and never commits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from contextvars import ContextVar

from sqlalchemy.ext.asyncio import AsyncSession


class _LazySession:
    """A session made on first use by ``factory`` (so a unit whose code never asks costs nothing)."""

    __slots__ = ("factory", "session")

    def __init__(self, factory: Callable[[], AsyncSession]) -> None:
        self.factory = factory
        self.session: AsyncSession | None = None

    def get(self) -> AsyncSession:
        if self.session is None:
            self.session = self.factory()
        return self.session


_current: ContextVar[AsyncSession | _LazySession | None] = ContextVar("packflow_session", default=None)


class NoUnitOfWorkError(RuntimeError):
    """A tool asked for the database outside a unit of work opened by its caller."""


def current_session() -> AsyncSession:
    """The session of the unit of work the caller opened; raises :class:`NoUnitOfWorkError` outside one."""
    session = _current.get()
    if session is None:
        raise NoUnitOfWorkError(
            "no unit of work is open: call the tool through the API, a workflow, or inside "
            "packs.core.db.unit_of_work(...)"
        )
    return session.get() if isinstance(session, _LazySession) else session


@contextmanager
def bind_session(session: AsyncSession) -> Iterator[AsyncSession]:
    """Make ``session`` the current one for the code inside the block (the caller commits)."""
    token = _current.set(session)
    try:
        yield session
    finally:
        _current.reset(token)


class _LazyBinding:
    """The context manager of :func:`bind_session_factory` (a class: it runs at every workflow step)."""

    __slots__ = ("lazy", "token")

    def __init__(self, factory: Callable[[], AsyncSession]) -> None:
        self.lazy = _LazySession(factory)

    def __enter__(self) -> None:
        self.token = _current.set(self.lazy)

    def __exit__(self, *_: object) -> None:
        _current.reset(self.token)


def bind_session_factory(factory: Callable[[], AsyncSession]) -> AbstractContextManager[None]:
    """Like :func:`bind_session`, with the session made by ``factory`` only if the block asks for one."""
    return _LazyBinding(factory)


@asynccontextmanager
async def unit_of_work(session_maker: Callable[[], AsyncSession]) -> AsyncIterator[AsyncSession]:
    """Open a session, bind it, commit when the block succeeds and roll back when it raises."""
    async with session_maker() as session:
        with bind_session(session):
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            await session.commit()
