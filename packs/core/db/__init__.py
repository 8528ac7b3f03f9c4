"""Database access for tools: the unit of work opened by the caller."""

from packs.core.db.session import (
    NoUnitOfWorkError,
    bind_session,
    bind_session_factory,
    current_session,
    unit_of_work,
)

__all__ = ["NoUnitOfWorkError", "bind_session", "bind_session_factory", "current_session", "unit_of_work"]
