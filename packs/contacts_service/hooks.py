"""The contacts_service pack's hook implementations."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from packs.contacts_service.schemas import Contact
from packs.contacts_service.services import import_one
from packs.contacts_service.tools import Create, Destroy, Index, Show, Update
from packs.core import hookimpl
from packs.core.features import Feature
from packs.core.schemas import Schema


@hookimpl
def register_schemas() -> Sequence[type[Schema]]:
    """The ``contact`` schema."""
    return [Contact]


@hookimpl
def register_features() -> Sequence[Feature]:
    """Feature ``workspaces/contacts`` with its five tools."""
    return [
        Feature(
            namespace="workspaces",
            name="contacts",
            schema="contact",
            tools=[Index, Show, Create, Update, Destroy],
            description="Contacts in the workspace's address book.",
        )
    ]


@hookimpl
def register_workflows() -> Sequence[Path]:
    """``create_contact`` and ``bulk_import``."""
    return [Path(__file__).parent / "workflows"]


@hookimpl
def register_services() -> Mapping[str, Callable[..., Any]]:
    """``contacts.import_one``: create a contact, reporting a validation failure instead of raising."""
    return {"contacts.import_one": import_one}
