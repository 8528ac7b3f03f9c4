"""The HTTP side of the core pack: the resources controller, its parameters, errors and OpenAPI."""
