"""OpenAPI operations for every registered tool and workflow, merged into Litestar's generated document.

The resources controller answers every feature through three catch-all routes, which tell a client
nothing; this module documents each tool as its own operation instead: its concrete path, method,
parameters, request body (the tool's schema; partial for PATCH), statuses, the success body (the item
envelope with the feature's schema inside) and error bodies. Each loaded workflow gets its own start
operation with its declared inputs. See docs/http-api.md, "OpenAPI".
"""

from __future__ import annotations

import copy
import inspect
import logging
from collections.abc import Mapping
from typing import Any

import msgspec
from litestar import Request
from litestar.enums import MediaType
from litestar.openapi.plugins import OpenAPIRenderPlugin

from packs.core.features import Feature, FeatureRegistry
from packs.core.http import API_PREFIX
from packs.core.http.openapi_ui import OfflineSwaggerUI
from packs.core.schemas import Schema, SchemaRegistry
from packs.core.schemas.base import describe
from packs.core.serializers import ItemSerializer
from packs.core.tools import Tool
from packs.core.tools.parameters import IDENTITY_PARAMETERS, Parameter
from packs.core.workflow import WorkflowDef, input_schema

logger = logging.getLogger("packflow.openapi")

BODY_METHODS = frozenset({"post", "put", "patch"})
HIDDEN_PARAMETERS = IDENTITY_PARAMETERS | {"id", "http_method"}
REF = "#/components/schemas/{name}"
WORKFLOW_START_PATH = f"{API_PREFIX}/workflows/{{workflow_id}}/executions"
UUID_SCHEMA = {"type": "string", "format": "uuid"}
TIMESTAMP = {"type": "string", "format": "date-time"}

ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "string"}},
    "required": ["error"],
}
VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {"type": "string"},
        "details": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "required": ["error", "details"],
}
LIST_META_SCHEMA = {
    "type": "object",
    "description": "By page: {page, per_page, total}; by cursor: {per_page, cursor} (docs/http-api.md, Lists).",
    "properties": {
        "page": {"type": "integer"},
        "per_page": {"type": "integer"},
        "total": {"type": "integer"},
        "cursor": {"type": ["string", "null"]},
    },
    "required": ["per_page"],
}
ERROR_RESPONSES = {
    "400": "Bad request: invalid JSON body, a malformed or empty X-Workspace-Id, or several workspaces and none chosen",
    "401": "Missing, malformed, unknown or revoked bearer token",
    "403": "Not a member of the workspace, or the tool forbids it",
    "404": "No such record in this workspace",
    "413": "Request body over the configured limit",
}


def tool_operations(features: FeatureRegistry, schemas: SchemaRegistry) -> dict[str, Any]:
    """``{"paths": ..., "components": {"schemas": ..., "securitySchemes": ...}}`` for every tool."""
    paths: dict[str, dict[str, Any]] = {}
    component_types: set[Any] = set(schemas.all())
    for feature in features.all():
        for tool in feature.tools:
            for parameter in _documented_parameters(tool):
                component_types.add(parameter.annotation)
    component_list = sorted(component_types, key=repr)
    refs, components = msgspec.json.schema_components(component_list, ref_template=REF)
    ref_of = dict(zip(component_list, refs, strict=True))
    for schema in schemas.all():
        component = components.get(schema.__name__)
        if component is not None:
            describe(schema, component)
            components.update(_item_components(schema, component))
    for feature in features.all():
        for tool in feature.tools:
            spec = tool.route_spec
            assert spec is not None
            path = _path(feature, tool)
            for method in spec.methods:
                paths.setdefault(path, {})[method] = _operation(feature, tool, method, ref_of, schemas)
    components["Error"] = ERROR_SCHEMA
    components["ValidationError"] = VALIDATION_ERROR_SCHEMA
    components["ListMeta"] = LIST_META_SCHEMA
    return {
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }


def merge_into(document: dict[str, Any], operations: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``document`` with the tool operations added."""
    merged = copy.deepcopy(document)
    merged.setdefault("paths", {}).update(operations["paths"])
    components = merged.setdefault("components", {})
    for section, entries in operations["components"].items():
        components.setdefault(section, {}).update(entries)
    return merged


def workflow_start_operations(document: dict[str, Any], definitions: Mapping[str, WorkflowDef]) -> None:
    """Add to ``document`` a start operation per loaded workflow beside the generic one, whose body names
    the workflow's inputs (required ones required; ``user_id`` / ``workspace_id`` come from the token and
    are not asked for)."""
    generic = document.get("paths", {}).get(WORKFLOW_START_PATH)
    if generic is None or "post" not in generic:
        return
    template = generic["post"]
    for key in sorted(definitions):
        definition = definitions[key]
        operation = copy.deepcopy(template)
        operation["operationId"] = f"workflows_{definition.id}_start"
        operation["summary"] = f"Start {definition.name}"
        if definition.description:
            operation["description"] = f"{definition.description}\n\n{template.get('description', '')}".strip()
        operation["parameters"] = [p for p in operation.get("parameters", []) if p.get("name") != "workflow_id"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        body["properties"]["input"], required = _workflow_input_schema(definition)
        body["additionalProperties"] = False
        if required:
            body["required"] = ["input"]
            operation["requestBody"]["required"] = True
        document["paths"][f"{API_PREFIX}/workflows/{definition.id}/executions"] = {"post": operation}


def complete_headers(document: dict[str, Any]) -> None:
    """Give every response header of ``document`` without ``schema`` or ``content`` a string schema
    (OpenAPI 3.1 requires one of them; Litestar's ``ResponseHeader`` documents neither)."""
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            for response in operation.get("responses", {}).values():
                for header in response.get("headers", {}).values():
                    if "schema" not in header and "content" not in header:
                        header["schema"] = {"type": "string"}


class ToolDocs:
    """The app's OpenAPI document with the tool and workflow operations merged in, built once per app."""

    def __init__(
        self,
        features: FeatureRegistry,
        schemas: SchemaRegistry,
        workflows: Mapping[str, WorkflowDef] | None = None,
    ) -> None:
        self.features = features
        self.schemas = schemas
        self.workflows = workflows if workflows is not None else {}
        self._document: dict[str, Any] | None = None

    def document(self, openapi_schema: dict[str, Any]) -> dict[str, Any]:
        """``openapi_schema`` (Litestar's) plus every tool's and workflow's operation; a failure is logged
        with its traceback (and answered 500), never silent."""
        if self._document is None:
            try:
                document = merge_into(openapi_schema, tool_operations(self.features, self.schemas))
                workflow_start_operations(document, self.workflows)
                complete_headers(document)
                msgspec.json.encode(document)
            except Exception:
                logger.exception("the OpenAPI document could not be built")
                raise
            self._document = document
        return self._document


class ToolsOpenAPIJSON(OpenAPIRenderPlugin):
    """Serves ``/schema/openapi.json``: the document with one operation per registered tool."""

    def __init__(self, docs: ToolDocs) -> None:
        super().__init__(path="/openapi.json", media_type=MediaType.JSON)
        self.docs = docs

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        """The merged document as JSON."""
        return self.render_json(request, self.docs.document(openapi_schema))


class ToolsSwaggerUI(OfflineSwaggerUI):
    """The interactive page (Swagger UI, assets served by the app) on the merged document."""

    def __init__(self, docs: ToolDocs, path: str | list[str]) -> None:
        super().__init__(path=path)
        self.docs = docs

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        """The Swagger UI page embedding the merged document."""
        return super().render(request, self.docs.document(openapi_schema))


def openapi_render_plugins(
    features: FeatureRegistry, schemas: SchemaRegistry, workflows: Mapping[str, WorkflowDef] | None = None
) -> list[OpenAPIRenderPlugin]:
    """The render plugins of the app: Swagger UI at ``/schema`` and the JSON document."""
    docs = ToolDocs(features, schemas, workflows)
    return [ToolsSwaggerUI(docs, path=["/", "/swagger"]), ToolsOpenAPIJSON(docs)]


def _path(feature: Feature, tool: type[Tool]) -> str:
    spec = tool.route_spec
    assert spec is not None
    path = f"{API_PREFIX}/{feature.namespace}/{feature.name}"
    if spec.scope == "member":
        path += "/{id}"
    if spec.action:
        path += f"/{spec.action}"
    return path


def _documented_parameters(tool: type[Tool]) -> list[Parameter]:
    return [p for name, p in tool.parameters().parameters.items() if name not in HIDDEN_PARAMETERS]


def _item_components(schema: type[Schema], component: dict[str, Any]) -> dict[str, Any]:
    """The PATCH variant of a schema (no field required) and its item, answer and list envelopes."""
    name = schema.__name__
    patch = {key: value for key, value in component.items() if key != "required"}
    patch["title"] = f"{name}Patch"
    patch["description"] = "PATCH: only the fields sent are changed; none is required."
    item = {
        "type": "object",
        "description": f"A stored {name} record.",
        "properties": {
            "id": UUID_SCHEMA,
            "schema_slug": {"type": "string"},
            "tool_slug": {"type": "string"},
            "data": {"$ref": REF.format(name=name)},
            "workspace_id": UUID_SCHEMA,
            "created_by_id": UUID_SCHEMA,
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
            "deleted_at": {"anyOf": [TIMESTAMP, {"type": "null"}]},
        },
        "required": [
            "id",
            "schema_slug",
            "tool_slug",
            "data",
            "workspace_id",
            "created_by_id",
            "created_at",
            "updated_at",
        ],
    }
    answer = {
        "type": "object",
        "description": f'One {name} record: `{{"data": item, "meta": {{...}}}}`.',
        "properties": {"data": {"$ref": REF.format(name=f"{name}Item")}, "meta": {"type": "object"}},
        "required": ["data", "meta"],
    }
    listing = {
        "type": "object",
        "description": f'A page of {name} records: `{{"data": [item, ...], "meta": ListMeta}}`.',
        "properties": {
            "data": {"type": "array", "items": {"$ref": REF.format(name=f"{name}Item")}},
            "meta": {"$ref": REF.format(name="ListMeta")},
        },
        "required": ["data", "meta"],
    }
    return {f"{name}Patch": patch, f"{name}Item": item, f"{name}ItemAnswer": answer, f"{name}ItemList": listing}


def _success_schema(tool: type[Tool], method: str, schemas: SchemaRegistry) -> dict[str, Any]:
    """The item envelope for the CRUD routes of a tool rendering items of a registered schema; a list
    for ``GET`` on the collection; any JSON object for actions and tools rendering something else."""
    spec = tool.route_spec
    assert spec is not None
    serializer = tool.serializer_class
    schema = schemas.find(tool.schema_slug) if tool.schema_slug else None
    if spec.action is not None or schema is None or serializer is None or not issubclass(serializer, ItemSerializer):
        return {"type": "object"}
    if method == "get" and spec.scope == "collection":
        return {"$ref": REF.format(name=f"{schema.__name__}ItemList")}
    return {"$ref": REF.format(name=f"{schema.__name__}ItemAnswer")}


def _operation(
    feature: Feature, tool: type[Tool], method: str, ref_of: dict[Any, Any], schemas: SchemaRegistry
) -> dict[str, Any]:
    spec = tool.route_spec
    assert spec is not None
    doc = inspect.getdoc(tool) or tool.__name__
    summary, _, description = doc.partition("\n")
    parameters: list[dict[str, Any]] = [
        {
            "name": "X-Workspace-Id",
            "in": "header",
            "required": False,
            "description": "The workspace to act in; optional when the user belongs to exactly one.",
            "schema": UUID_SCHEMA,
        }
    ]
    if spec.scope == "member":
        parameters.append({"name": "id", "in": "path", "required": True, "schema": UUID_SCHEMA})
    operation: dict[str, Any] = {
        "operationId": f"{feature.namespace}_{feature.name}_{tool.slug}_{method}",
        "summary": summary.strip(),
        "tags": [feature.slug],
        "security": [{"bearerAuth": []}],
    }
    if description.strip():
        operation["description"] = description.strip()
    documented = _documented_parameters(tool)
    if method in BODY_METHODS:
        partial = method == "patch"
        properties = {p.name: _parameter_schema(tool, p, ref_of, schemas, partial=partial) for p in documented}
        body_schema: dict[str, Any] = {"type": "object", "properties": properties}
        required = [p.name for p in documented if p.required]
        if required:
            body_schema["required"] = required
        operation["requestBody"] = {
            "required": bool(required),
            "content": {"application/json": {"schema": body_schema}},
        }
    else:
        parameters.extend(
            {
                "name": p.name,
                "in": "query",
                "required": p.required,
                "schema": _parameter_schema(tool, p, ref_of, schemas),
            }
            for p in documented
        )
    operation["parameters"] = parameters
    responses: dict[str, Any] = {
        str(spec.status): {
            "description": 'Success: the tool\'s answer, `{"data": ..., "meta": {...}}`',
            "content": {"application/json": {"schema": _success_schema(tool, method, schemas)}},
        },
        "422": {
            "description": "Validation failed: one message per failing field",
            "content": {"application/json": {"schema": {"$ref": REF.format(name="ValidationError")}}},
        },
    }
    for status, text in ERROR_RESPONSES.items():
        responses[status] = {
            "description": text,
            "content": {"application/json": {"schema": {"$ref": REF.format(name="Error")}}},
        }
    operation["responses"] = responses
    return operation


def _parameter_schema(
    tool: type[Tool],
    parameter: Parameter,
    ref_of: dict[Any, Any],
    schemas: SchemaRegistry,
    *,
    partial: bool = False,
) -> dict[str, Any]:
    """The parameter's JSON schema; the parameter named after the tool's schema slug documents that schema
    (its partial variant for PATCH)."""
    if parameter.name == tool.schema_slug and (schema := schemas.find(parameter.name)) is not None:
        if partial:
            return {"$ref": REF.format(name=f"{schema.__name__}Patch")}
        schema_ref: dict[str, Any] = ref_of[schema]
        return schema_ref
    parameter_schema: dict[str, Any] = dict(ref_of[parameter.annotation])
    if not parameter.required and parameter.default is not None:
        parameter_schema["default"] = parameter.default
    return parameter_schema


def _workflow_input_schema(definition: WorkflowDef) -> tuple[dict[str, Any], list[str]]:
    """The JSON schema of a workflow's ``input`` object and the names of its required inputs."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, declared in definition.inputs.items():
        if name in IDENTITY_PARAMETERS:
            continue
        schema = input_schema(declared)
        if declared.description:
            schema["description"] = declared.description
        if declared.default is not None:
            schema["default"] = declared.default
        properties[name] = schema
        if declared.required and declared.default is None:
            required.append(name)
    document: dict[str, Any] = {
        "type": "object",
        "description": "The workflow's inputs (user_id and workspace_id come from the token).",
        "properties": properties,
    }
    if required:
        document["required"] = required
    return document, required
