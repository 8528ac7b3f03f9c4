"""OpenAPI operations for every registered tool, merged into Litestar's generated document.

The resources controller answers every feature through three catch-all routes, which tell a client
nothing; this module documents each tool as its own operation instead: its concrete path, method,
parameters, request body (the tool's schema), statuses and error bodies.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

import msgspec
from litestar import Request
from litestar.enums import MediaType
from litestar.openapi.plugins import OpenAPIRenderPlugin, SwaggerRenderPlugin

from packs.core.features import Feature, FeatureRegistry
from packs.core.http import API_PREFIX
from packs.core.schemas import SchemaRegistry
from packs.core.tools import Tool
from packs.core.tools.parameters import IDENTITY_PARAMETERS, Parameter

BODY_METHODS = frozenset({"post", "put", "patch"})
HIDDEN_PARAMETERS = IDENTITY_PARAMETERS | {"id", "http_method"}
REF = "#/components/schemas/{name}"

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
ERROR_RESPONSES = {
    "400": "Bad request: invalid JSON body, or several workspaces and no X-Workspace-Id",
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
            component["title"] = schema.title or schema.__name__
            if schema.description:
                component["description"] = schema.description
    for feature in features.all():
        for tool in feature.tools:
            spec = tool.route_spec
            assert spec is not None
            path = _path(feature, tool)
            for method in spec.methods:
                paths.setdefault(path, {})[method] = _operation(feature, tool, method, ref_of, schemas)
    components["Error"] = ERROR_SCHEMA
    components["ValidationError"] = VALIDATION_ERROR_SCHEMA
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


class ToolDocs:
    """The app's OpenAPI document with the tool operations merged in, built once per app."""

    def __init__(self, features: FeatureRegistry, schemas: SchemaRegistry) -> None:
        self.features = features
        self.schemas = schemas
        self._document: dict[str, Any] | None = None

    def document(self, openapi_schema: dict[str, Any]) -> dict[str, Any]:
        """``openapi_schema`` (Litestar's) plus every tool's operation."""
        if self._document is None:
            self._document = merge_into(openapi_schema, tool_operations(self.features, self.schemas))
        return self._document


class ToolsOpenAPIJSON(OpenAPIRenderPlugin):
    """Serves ``/schema/openapi.json``: the document with one operation per registered tool."""

    def __init__(self, docs: ToolDocs) -> None:
        super().__init__(path="/openapi.json", media_type=MediaType.JSON)
        self.docs = docs

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        """The merged document as JSON."""
        return self.render_json(request, self.docs.document(openapi_schema))


class ToolsSwaggerUI(SwaggerRenderPlugin):
    """The interactive page (Swagger UI) on the merged document."""

    def __init__(self, docs: ToolDocs, path: str | list[str]) -> None:
        super().__init__(path=path)
        self.docs = docs

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        """The Swagger UI page embedding the merged document."""
        return super().render(request, self.docs.document(openapi_schema))


def openapi_render_plugins(features: FeatureRegistry, schemas: SchemaRegistry) -> list[OpenAPIRenderPlugin]:
    """The render plugins of the app: Swagger UI at ``/schema`` and the JSON document."""
    docs = ToolDocs(features, schemas)
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
            "schema": {"type": "string", "format": "uuid"},
        }
    ]
    if spec.scope == "member":
        parameters.append(
            {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
        )
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
        properties = {p.name: _parameter_schema(tool, p, ref_of, schemas) for p in documented}
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
            "content": {"application/json": {"schema": {"type": "object"}}},
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
    tool: type[Tool], parameter: Parameter, ref_of: dict[Any, Any], schemas: SchemaRegistry
) -> dict[str, Any]:
    """The parameter's JSON schema; the parameter named after the tool's schema slug documents that schema."""
    if parameter.name == tool.schema_slug and (schema := schemas.find(parameter.name)) is not None:
        schema_ref: dict[str, Any] = ref_of[schema]
        return schema_ref
    parameter_schema: dict[str, Any] = dict(ref_of[parameter.annotation])
    if not parameter.required and parameter.default is not None:
        parameter_schema["default"] = parameter.default
    return parameter_schema
