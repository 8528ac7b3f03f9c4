"""Schemathesis over every operation of the OpenAPI document, against a real server on 127.0.0.1 with a valid
bearer token: no 500, and every answer conforms to the document (status code, content type, headers, body
schema). See docs/http-api.md, "OpenAPI".

Bounded for the suite: ``PACKFLOW_FUZZ_EXAMPLES`` cases per operation and generation mode (default 12);
raise it to fuzz harder, e.g. ``PACKFLOW_FUZZ_EXAMPLES=200 pytest tests/core/http/test_fuzz_openapi.py``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app import create_app
from packs.core.identity.accounts import IssuedToken
from tests.support.harness import harness_for, make_settings

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = int(os.environ.get("PACKFLOW_FUZZ_EXAMPLES", "12"))
SKIPPED = {"/api/v1/workflows/executions/{execution_id}/events"}
"""The server-sent events stream stays open while an execution runs; its own tests cover it."""


@dataclass
class Server:
    base_url: str
    token: IssuedToken


@dataclass
class Findings:
    operations: int = 0
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def issue_token(database_url: str) -> IssuedToken:
    """An emptied database with one user, one workspace and a token."""
    async with harness_for(make_settings(database_url)) as built:
        return await built.user("fuzz@example.com", "Fuzz")


@pytest.fixture
def server(database_url: str) -> Iterator[Server]:
    """The contacts app served by uvicorn on 127.0.0.1, in a thread, with a user's token."""
    token = asyncio.run(issue_token(database_url))
    port = free_port()
    app = create_app(make_settings(database_url))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not uvicorn_server.started:
        assert thread.is_alive(), "the server stopped while starting"
        assert time.monotonic() < deadline, "the server did not start within 20 s"
        time.sleep(0.05)
    try:
        yield Server(base_url, token)
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=20)


def aim_at_the_workspace(case: schemathesis.Case, token: IssuedToken) -> None:
    """A generated ``X-Workspace-Id`` that is a UUID becomes the user's workspace, so that valid requests reach
    the tools (a random UUID is only ever 403); malformed and empty ones are kept."""
    value = (case.headers or {}).get("X-Workspace-Id")
    if isinstance(value, str) and token.workspace_id is not None:
        try:
            uuid.UUID(value)
        except ValueError:
            return
        case.headers["X-Workspace-Id"] = str(token.workspace_id)


def fuzz_operation(operation: schemathesis.APIOperation, server: Server, findings: Findings) -> None:
    headers = {"Authorization": f"Bearer {server.token.token}"}
    strategy = st.one_of(operation.as_strategy(mode) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE))

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES * 2,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        findings.cases += 1
        aim_at_the_workspace(case, server.token)
        response = case.call(base_url=server.base_url, headers=headers, timeout=30)
        findings.statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    except Exception as error:
        findings.failures[operation.label] = f"{type(error).__name__}: {error}"[:3000]


def test_every_operation_answers_as_documented(server: Server) -> None:
    document = httpx.get(f"{server.base_url}/schema/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(document)
    findings = Findings()
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in SKIPPED:
            continue
        findings.operations += 1
        fuzz_operation(operation, server, findings)
    print(f"schemathesis: {findings.operations} operations, {findings.cases} cases, statuses {dict(findings.statuses)}")
    assert findings.operations >= 15
    assert not findings.failures, "\n\n".join(f"{label}:\n{text}" for label, text in findings.failures.items())
