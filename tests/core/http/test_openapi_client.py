"""A client generated from the OpenAPI document by ``openapi-python-client`` types the resources API: its
answers are the generated model classes, not dicts. See docs/http-api.md, "OpenAPI"."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.support.harness import Harness, auth

pytestmark = pytest.mark.processes  # every test here starts real processes (tests/test_markers.py)

PACKAGE = "packflow_generated_client"


@pytest.fixture
async def generated(client: httpx.AsyncClient, tmp_path: Path) -> Iterator[ModuleType]:
    """The client package generated from the app's document, importable for the test."""
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps((await client.get("/schema/openapi.json")).json()), encoding="utf-8")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    command = [Path(sys.executable).parent / "openapi-python-client", "generate", "--path", str(document)]
    run = await asyncio.to_thread(
        subprocess.run,
        [*command, "--meta", "none", "--output-path", str(tmp_path / PACKAGE)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Warning" not in run.stdout + run.stderr, run.stdout + run.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def module(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


async def test_a_generated_client_gets_typed_resources(
    generated: ModuleType, client: httpx.AsyncClient, harness: Harness
) -> None:
    issued = await harness.user()
    api = "api.workspacescontacts"
    models = module(generated, "models")
    typed_client = module(generated, "client").AuthenticatedClient(
        base_url="http://testserver", token=issued.token, httpx_args={"transport": httpx.ASGITransport(app=harness.app)}
    )
    contact = models.Contact(first_name="Ada", last_name="Lovelace", email="ada@example.com", tags=["math"])
    body = models.WorkspacesContactsCreatePostBody(contact=contact)
    created = await module(generated, f"{api}.workspaces_contacts_create_post").asyncio(client=typed_client, body=body)
    assert isinstance(created, models.ContactItemAnswer), created
    assert isinstance(created.data, models.ContactItem)
    assert isinstance(created.data.data, models.Contact)
    assert created.data.data.first_name == "Ada"

    listed = await module(generated, f"{api}.workspaces_contacts_index_get").asyncio(client=typed_client)
    assert isinstance(listed, models.ContactItemList)
    assert isinstance(listed.meta, models.ListMeta)
    assert listed.meta.total == 1
    assert [item.data.last_name for item in listed.data] == ["Lovelace"]

    patch = models.WorkspacesContactsUpdatePatchBody(contact=models.ContactPatch(company="Analytical Engines"))
    updated = await module(generated, f"{api}.workspaces_contacts_update_patch").asyncio(
        created.data.id, client=typed_client, body=patch
    )
    assert isinstance(updated, models.ContactItemAnswer)
    assert (updated.data.data.first_name, updated.data.data.company) == ("Ada", "Analytical Engines")

    refused = await module(generated, f"{api}.workspaces_contacts_create_post").asyncio(
        client=typed_client,
        body=models.WorkspacesContactsCreatePostBody(contact=models.Contact(first_name="", last_name="x")),
    )
    assert isinstance(refused, models.ValidationError)
    assert refused.details.to_dict() == {"first_name": "is required"}
    assert (await client.get("/api/v1/workspaces/contacts", headers=auth(issued))).json()["meta"]["total"] == 1
