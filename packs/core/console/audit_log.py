"""``/console/audit``: the workspace's audit log, newest first, by keyset pages (:mod:`packs.core.audit`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, get
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from packs.core.audit import AuditCursor, audit_page
from packs.core.console.sessions import ConsoleUser, emails_of
from packs.core.console.web import page
from packs.core.items import decode_cursor, encode_cursor

PER_PAGE = 50


class AuditController(Controller):
    """The audit log page."""

    path = "/audit"
    include_in_schema = False

    @get("/")
    async def index(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, user: ConsoleUser, cursor: str | None = None
    ) -> Template:
        """Who did what to which execution or schedule, when and from where."""
        after = None
        if cursor:
            decoded = decode_cursor(cursor)
            after = None if decoded is None else AuditCursor(decoded[0], decoded[1])
        try:
            entries = await audit_page(db_session, user.workspace_id, limit=PER_PAGE + 1, after=after)
            people = await emails_of(db_session, {entry.actor_id for entry in entries})
        finally:
            await db_session.close()
        shown = entries[:PER_PAGE]
        following = None
        if len(entries) > PER_PAGE:
            following = urlencode({"cursor": encode_cursor(shown[-1].created_at, shown[-1].id)})
        return await page(
            request, "audit.html", user, title="Audit log", entries=shown, people=people, next_query=following
        )
