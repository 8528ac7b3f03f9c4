"""The HTTP side of the core pack: the resources controller, its parameters, errors and OpenAPI."""

API_PREFIX = "/api/v1"
"""Where every feature endpoint lives."""
