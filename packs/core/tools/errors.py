"""Exceptions a tool raises to answer with something other than success."""

from __future__ import annotations

from typing import Any


class ToolError(Exception):
    """Base of the errors a tool raises on purpose; the controller maps each to an HTTP status."""

    status_code = 500


class ValidationError(ToolError):
    """The input was wrong: 422 with ``{"error": message, "details": details}``."""

    status_code = 422

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})


class NotFoundError(ToolError):
    """The thing asked for does not exist, is deleted, or belongs to another workspace: 404."""

    status_code = 404


class ForbiddenError(ToolError):
    """The caller may not do this: 403."""

    status_code = 403
