"""What every HTTP request meets before and after its route (docs/http-api.md, Parameters and Responses).

- A request id: each request gets one; every answer carries it as ``X-Request-Id``, a 500 repeats it
  in its body, and the log line of that 500 names it.
- Query values with NUL characters are refused with 422 naming each parameter, before any route runs.
- A path or query whose percent-escapes do not spell UTF-8 (``%FF``) is refused with 400: decoded leniently, two
  different names would read the same (each bad byte as U+FFFD).
- A request sending ``Authorization``, ``X-Workspace-Id``, ``Idempotency-Key`` or ``Content-Type`` twice is
  refused with 400: which one counts would be a guess.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

import msgspec
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from packs.core.http.params import query_problems

REQUEST_ID_HEADER = "X-Request-Id"
_STATE_KEY = "packflow.request_id"


def request_id(scope: Scope | dict[str, Any]) -> str:
    """The id of the request of ``scope``, made on first use and kept in the scope's state."""
    state: dict[str, Any] = scope.setdefault("state", {})
    found = state.get(_STATE_KEY)
    if not isinstance(found, str):
        found = uuid.uuid4().hex
        state[_STATE_KEY] = found
    return found


async def send_request_id(message: Message, scope: Scope) -> None:
    """A ``before_send`` hook: add ``X-Request-Id`` to the start of every HTTP answer."""
    if message["type"] == "http.response.start":
        headers = list(message.get("headers", []))
        headers.append((REQUEST_ID_HEADER.lower().encode(), request_id(scope).encode()))
        message["headers"] = headers


NOT_UTF8 = "the request's {part} is not UTF-8 once its percent-escapes are decoded"


def _nul_problems(query: bytes) -> dict[str, str]:
    """The query parameters (by name) whose names or values hold a NUL (``%00``)."""
    if b"%00" not in query and b"\x00" not in query:
        return {}
    return query_problems(
        parse_qsl(query.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="replace")
    )


def _is_utf8(raw: bytes) -> bool:
    """Whether ``raw`` (a path or a query string, percent-escaped) decodes to UTF-8."""
    try:
        unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


SINGLE_HEADERS = (b"authorization", b"x-workspace-id", b"idempotency-key", b"content-type")
"""Headers a request sends once: with two, which one the server would read is a guess (the first token, the last
key?), so such a request is refused."""


def _repeated_header(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The first of :data:`SINGLE_HEADERS` the request sends more than once, as it is usually written."""
    seen: set[bytes] = set()
    for name, _ in headers:
        lowered = name.lower()
        if lowered in SINGLE_HEADERS:
            if lowered in seen:
                return "-".join(part.capitalize() for part in lowered.decode("ascii").split("-"))
            seen.add(lowered)
    return None


class RequestTextMiddleware(ASGIMiddleware):
    """Answer 422 ``{"error", "details"}`` to a query whose names or values hold a NUL, and 400 ``{"error"}`` to a
    path or query holding bytes that are not UTF-8 or to a request sending one of :data:`SINGLE_HEADERS` twice,
    before any route runs."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        """Refuse the request when its query holds a NUL or its path or query is not UTF-8, else pass it on."""
        query: bytes = scope.get("query_string", b"")
        problems = _nul_problems(query)
        if problems:
            await _answer(send, 422, {"error": "Invalid parameters", "details": problems})
            return
        path: bytes | None = scope.get("raw_path")
        for part, raw in (("path", path or b""), ("query", query)):
            if (b"%" in raw or not raw.isascii()) and not _is_utf8(raw):
                await _answer(send, 400, {"error": NOT_UTF8.format(part=part)})
                return
        if (repeated := _repeated_header(scope.get("headers", []))) is not None:
            await _answer(send, 400, {"error": f"the {repeated} header is sent more than once: send it once"})
            return
        await next_app(scope, receive, send)


async def _answer(send: Send, status: int, body: dict[str, Any]) -> None:
    content = msgspec.json.encode(body)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content, "more_body": False})
