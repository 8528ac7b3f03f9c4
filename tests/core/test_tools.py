"""The tool base: declarations, class-level execute, typed parameters, errors.

See docs/writing-a-pack.md, "6. A feature and its tools".
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest

from app.packs import load_packs
from packs.contacts_service.schemas import Contact
from packs.contacts_service.tools import Create, Update
from packs.core.db import NoUnitOfWorkError, current_session
from packs.core.schemas import UnknownSchemaError
from packs.core.schemas import registry as schemas
from packs.core.serializers import ItemSerializer
from packs.core.tools import Base, ForbiddenError, NotFoundError, Route, Tool, ValidationError


class Greet(Tool, method="get", scope="member", action="greet", schema="contact"):
    """Say hello."""

    async def execute(self, *, user_id: UUID, workspace_id: UUID, name: str = "world", times: int = 1) -> str:
        return " ".join([f"hello {name}"] * times)


class SyncTool(Tool, method="post"):
    def execute(self, **params: Any) -> dict[str, Any]:
        return {"got": sorted(params)}


def test_declarations_are_recorded_at_class_level() -> None:
    assert Greet.route_spec == Route(methods=("get",), scope="member", action="greet", status=200)
    assert Greet.schema_slug == "contact"
    assert Greet.slug == "greet"
    assert Create.route_spec == Route(methods=("post",), scope="collection", action=None, status=201)
    assert Update.route_spec is not None
    assert Update.route_spec.methods == ("put", "patch")
    assert Create.serializer_class is ItemSerializer
    assert Base is Tool


def test_declarations_also_work_as_class_methods() -> None:
    class Later(Tool):
        def execute(self, **_: Any) -> None:
            return None

    Later.route("delete", scope="member")
    Later.schema("contact")
    Later.serializer(ItemSerializer)
    assert Later.route_spec == Route(methods=("delete",), scope="member")
    assert (Later.schema_slug, Later.serializer_class) == ("contact", ItemSerializer)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "fetch"}, "route method 'fetch' is not one of get, post, put, patch, delete"),
        (
            {"method": "get", "scope": "everything"},
            "route scope 'everything' is not one of collection, member",
        ),
        ({"method": "get", "action": "Do-It"}, "route action 'Do-It' must match [a-z_]+"),
        ({"method": "get", "status": 404}, "route status 404 is not a 2xx status"),
        ({"method": []}, "route needs at least one method"),
    ],
)
def test_bad_route_declarations_are_refused_naming_the_tool(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=r"BadTool: route") as raised:
        type("BadTool", (Tool,), {}, **kwargs)
    assert message in str(raised.value)
    assert "BadTool" in str(raised.value)


async def test_class_level_execute_builds_an_instance_and_awaits_it() -> None:
    result = await Greet.execute(user_id=uuid4(), workspace_id=uuid4(), name="Ada", times="2")
    assert result == "hello Ada hello Ada"
    assert await SyncTool.execute(b=1, a=2) == {"got": ["a", "b"]}


async def test_instance_execute_is_the_instance_method() -> None:
    assert await Greet().execute(user_id=uuid4(), workspace_id=uuid4()) == "hello world"


async def test_base_execute_raises_not_implemented_naming_the_class() -> None:
    class Empty(Tool):
        pass

    with pytest.raises(NotImplementedError, match=r"^Empty#execute must be implemented$"):
        await Empty.execute()
    with pytest.raises(NotImplementedError, match="Tool#execute must be implemented"):
        Tool().execute()


async def test_typed_parameters_are_checked_before_the_tool_runs() -> None:
    with pytest.raises(ValidationError) as raised:
        await Greet.execute(user_id=uuid4(), workspace_id=uuid4(), times="often", extra=1)
    assert raised.value.message == "Invalid parameters"
    assert raised.value.details == {"times": "Expected `int`, got `str`", "extra": "is not a known parameter"}


def test_errors_carry_message_and_details() -> None:
    error = ValidationError("Validation failed", {"first_name": "is required"})
    assert (str(error), error.message, error.details) == (
        "Validation failed",
        "Validation failed",
        {"first_name": "is required"},
    )
    assert ValidationError("x").details == {}
    assert NotFoundError("gone").status_code == 404
    assert ForbiddenError("no").status_code == 403


def test_schema_class_resolves_through_the_registry() -> None:
    schemas.clear()
    with pytest.raises(UnknownSchemaError, match="no schema 'contact' is registered"):
        Greet.schema_class()
    schemas.register(Contact, pack="contacts_service")
    try:
        assert Greet.schema_class() is Contact
    finally:
        schemas.clear()


async def test_tools_reach_the_database_only_inside_a_unit_of_work() -> None:
    with pytest.raises(NoUnitOfWorkError, match="no unit of work is open"):
        current_session()
    load_packs(["contacts_service"])
    with pytest.raises(NoUnitOfWorkError):
        await Create.execute(user_id=uuid4(), workspace_id=uuid4(), contact={"first_name": "A", "last_name": "B"})


def test_qualified_name_is_the_dotted_path_workflows_use() -> None:
    assert Create.qualified_name() == "packs.contacts_service.tools.create.Create"
