"""The console as tests use it: sign in through its form (CSRF cookie and field), read a page's CSRF token."""

from __future__ import annotations

import re

import httpx

CONSOLE = "/console"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    found = CSRF_FIELD.search(html)
    assert found is not None, html[:2000]
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, token: str) -> httpx.Response:
    """Sign in with ``token`` through the form, as a browser does; the answer (a 303 on success)."""
    form = await client.get(f"{CONSOLE}/sign-in")
    assert form.status_code == 200, form.text
    return await client.post(f"{CONSOLE}/sign-in", data={"token": token, "csrf_token": csrf_of(form.text), "next": ""})


async def signed_in(client: httpx.AsyncClient, token: str) -> str:
    """Sign in; the session's CSRF token (read from the executions page)."""
    answer = await sign_in(client, token)
    assert answer.status_code == 303, answer.text
    page = await client.get(f"{CONSOLE}/executions")
    assert page.status_code == 200, page.text
    return csrf_of(page.text)
