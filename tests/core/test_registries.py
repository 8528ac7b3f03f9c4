"""The features and schema registries."""

from __future__ import annotations

import msgspec
import pytest

from packs.contacts_service.schemas import Contact
from packs.contacts_service.tools import Create, Destroy, Index, Show, Update
from packs.core.features import DuplicateFeatureError, Feature, FeatureRegistry
from packs.core.schemas import DuplicateSchemaError, Schema, SchemaRegistry, UnknownSchemaError
from tests.fixture_packs.probe import Echo, Write


def contacts() -> Feature:
    return Feature(
        namespace="workspaces",
        name="contacts",
        schema="contact",
        tools=[Index, Show, Create, Update, Destroy],
    )


def test_feature_registry_finds_features_and_tools() -> None:
    registry = FeatureRegistry()
    feature = contacts()
    registry.register(feature, pack="contacts_service")
    assert registry.find("workspaces", "contacts") is feature
    assert registry.find("workspaces", "deals") is None
    assert registry.find_tool("workspaces", "contacts", http_method="post", scope="collection") is Create
    assert registry.find_tool("workspaces", "contacts", http_method="GET", scope="collection") is Index
    assert registry.find_tool("workspaces", "contacts", http_method="get", scope="member") is Show
    assert registry.find_tool("workspaces", "contacts", http_method="patch", scope="member") is Update
    assert registry.find_tool("workspaces", "contacts", http_method="put", scope="member") is Update
    assert registry.find_tool("workspaces", "contacts", http_method="delete", scope="member") is Destroy
    assert registry.find_tool("workspaces", "contacts", http_method="delete", scope="collection") is None
    assert registry.find_tool("workspaces", "contacts", http_method="get", scope="collection", action="export") is None
    assert registry.find_tool("nope", "contacts", http_method="get", scope="collection") is None
    assert registry.tools_for("workspaces", "contacts") == [Index, Show, Create, Update, Destroy]
    assert registry.tools_for("nope", "nope") == []
    assert registry.all() == [feature]
    assert registry.owner("workspaces", "contacts") == "contacts_service"


def test_feature_registry_refuses_a_second_feature_with_the_same_slug() -> None:
    registry = FeatureRegistry()
    registry.register(contacts(), pack="contacts_service")
    with pytest.raises(DuplicateFeatureError, match="registered by pack 'contacts_service' and by pack 'crm'"):
        registry.register(contacts(), pack="crm")


def test_a_feature_refuses_two_tools_answering_the_same_route() -> None:
    with pytest.raises(DuplicateFeatureError, match=r"tools .*Create and .*Write both answer POST collection"):
        Feature(namespace="workspaces", name="contacts", tools=[Create, Write])


def test_a_feature_refuses_tools_without_route_and_non_tools() -> None:
    from packs.core.tools import Tool

    class Routeless(Tool):
        pass

    with pytest.raises(ValueError, match="declares no route"):
        Feature(namespace="a", name="b", tools=[Routeless])
    with pytest.raises(TypeError, match=r"is not a packs\.core\.tools\.Tool subclass"):
        Feature(namespace="a", name="b", tools=[object])  # type: ignore[list-item]
    assert Feature(namespace="a", name="b", tools=[Echo]).find_tool("put", "collection", "echo") is Echo


def test_the_workflows_namespace_is_reserved_for_the_workflow_api() -> None:
    with pytest.raises(ValueError, match=r"namespace 'workflows' is reserved \(/api/v1/workflows is the core pack's"):
        Feature(namespace="workflows", name="runs", tools=[Echo])
    assert Feature(namespace="workflow", name="runs", tools=[Echo]).namespace == "workflow"


def test_schema_registry_find_get_slugs_and_duplicates() -> None:
    registry = SchemaRegistry()
    registry.register(Contact, pack="contacts_service")
    assert registry.find("contact") is Contact
    assert registry.find("deal") is None
    assert registry.get("contact") is Contact
    with pytest.raises(UnknownSchemaError, match=r"no schema 'deal' is registered \(registered: contact\)"):
        registry.get("deal")
    assert registry.slugs() == ["contact"]
    assert registry.all() == [Contact]

    class Impostor(Schema):
        slug = "contact"

    with pytest.raises(DuplicateSchemaError, match=r"by pack 'contacts_service' .* and by pack 'crm'"):
        registry.register(Impostor, pack="crm")
    with pytest.raises(TypeError, match=r"is not a packs\.core\.schemas\.Schema"):
        registry.register(dict, pack="crm")  # type: ignore[arg-type]


class NotAType:
    """A plain class: msgspec can neither validate nor describe it."""


def test_a_schema_with_a_field_msgspec_cannot_describe_is_refused_naming_it() -> None:
    """Registered, such a schema failed every request of its feature and the OpenAPI document of the whole app."""

    class Unresolved(Schema):
        slug = "unresolved"
        count: integerz  # type: ignore[name-defined]  # noqa: F821 (the mistake this test is about)

    class Custom(Schema):
        slug = "custom"
        thing: NotAType

    registry = SchemaRegistry()
    with pytest.raises(
        TypeError, match=r"schema 'unresolved' \(.*Unresolved\) of pack 'notes' has a field .* NameError"
    ):
        registry.register(Unresolved, pack="notes")
    with pytest.raises(TypeError, match=r"schema 'custom' .* TypeError: type <class .*NotAType'> is not supported\."):
        registry.register(Custom, pack="notes")
    assert registry.slugs() == []
    registry.register(Contact, pack="contacts_service")
    assert registry.slugs() == ["contact"]


def test_schemas_are_structs_with_slug_title_description() -> None:
    assert issubclass(Contact, msgspec.Struct)
    assert (Contact.slug, Contact.title) == ("contact", "Contact")
    assert Contact.description
    contact = msgspec.convert({"first_name": "A", "last_name": "B"}, Contact)
    assert contact.tags == []
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.convert({"first_name": "A", "last_name": "B", "x": 1}, Contact)


def test_json_schema_export() -> None:
    registry = SchemaRegistry()
    registry.register(Contact)
    document = registry.json_schema("contact")
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["title"] == "Contact"
    assert document["description"] == Contact.description
    assert document["type"] == "object"
    assert document["required"] == ["first_name", "last_name"]
    assert document["properties"]["first_name"] == {"type": "string", "maxLength": 255}
    assert document["properties"]["email"]["anyOf"][0]["format"] == "email"
    assert document["properties"]["tags"]["type"] == "array"
    assert document["additionalProperties"] is False
