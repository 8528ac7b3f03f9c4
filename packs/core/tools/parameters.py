"""Typed tool parameters, read from the annotations of a tool's ``execute`` signature.

A tool declares a typed parameter by annotating it (``page: int = 1``); a value that cannot be
converted to that type is a :class:`ValidationError` naming the parameter, raised before the tool
runs. Values are converted leniently so that query strings work (``"2"`` becomes ``2``).
Unannotated parameters, ``Any`` and the identity keys are passed through as they are.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from packs.core.tools.errors import ValidationError

IDENTITY_PARAMETERS = frozenset({"user_id", "workspace_id"})
_PATH_SUFFIX = re.compile(r" - at `\$[^`]*`$")


@dataclass(frozen=True)
class Parameter:
    """One keyword parameter of a tool's ``execute``."""

    name: str
    annotation: Any
    required: bool
    default: Any = None

    @property
    def typed(self) -> bool:
        """Whether values are converted to the annotation before the tool runs."""
        return self.annotation is not Any and self.name not in IDENTITY_PARAMETERS


@dataclass(frozen=True)
class ToolParameters:
    """The parameters of a tool's ``execute``: what it declares and whether it takes any others."""

    parameters: Mapping[str, Parameter]
    accepts_any: bool

    @classmethod
    def from_function(cls, function: Callable[..., Any]) -> ToolParameters:
        """Read the keyword parameters (after ``self``) of ``function`` and their resolved annotations."""
        signature = inspect.signature(function)
        hints = typing.get_type_hints(function, include_extras=True)
        parameters: dict[str, Parameter] = {}
        accepts_any = False
        for name, param in list(signature.parameters.items())[1:]:
            if param.kind is inspect.Parameter.VAR_KEYWORD:
                accepts_any = True
                continue
            if param.kind is inspect.Parameter.VAR_POSITIONAL:
                continue
            required = param.default is inspect.Parameter.empty
            parameters[name] = Parameter(
                name=name,
                annotation=hints.get(name, Any),
                required=required,
                default=None if required else param.default,
            )
        return cls(parameters=parameters, accepts_any=accepts_any)

    def accepts(self, name: str) -> bool:
        """Whether a keyword argument ``name`` may be passed."""
        return self.accepts_any or name in self.parameters

    def convert(self, params: dict[str, Any]) -> dict[str, Any]:
        """Check and convert ``params``; raise one :class:`ValidationError` listing every bad parameter."""
        details: dict[str, str] = {}
        converted = dict(params)
        for name, parameter in self.parameters.items():
            if name not in params:
                if parameter.required and name not in IDENTITY_PARAMETERS:
                    details[name] = "is required"
                continue
            if not parameter.typed:
                continue
            try:
                converted[name] = convert_leniently(params[name], parameter.annotation)
            except msgspec.ValidationError as error:
                details[name] = describe_conversion_error(error)
        if not self.accepts_any:
            for name in params:
                if name not in self.parameters:
                    details[name] = "is not a known parameter"
        if details:
            raise ValidationError("Invalid parameters", details)
        return converted


WHOLE_NUMBER = re.compile(r"-?[0-9]+")
"""A whole number as text: ASCII digits, an optional minus (``int()`` also takes ``1_0`` and non-ASCII digits)."""


def convert_leniently(value: Any, annotation: Any) -> Any:
    """``value`` converted to ``annotation`` as a query string needs (``"2"`` becomes ``2``), but a whole number only
    from the text of one: msgspec's lenient mode also reads ``"1.0"`` and ``"1e2"`` as integers."""
    converted = msgspec.convert(value, type=annotation, strict=False)
    if (
        isinstance(value, str)
        and isinstance(converted, int)
        and not isinstance(converted, bool)
        and WHOLE_NUMBER.fullmatch(value) is None
    ):
        raise msgspec.ValidationError("Expected `int`, got `str`")
    return converted


def describe_conversion_error(error: msgspec.ValidationError) -> str:
    """msgspec's message with the JSON path moved to the front (``at `$.x`: ...``) when it is nested."""
    message = str(error)
    match = _PATH_SUFFIX.search(message)
    if match is None:
        return message
    path = match.group(0)[len(" - at `") : -1]
    bare = message[: match.start()]
    return bare if path == "$" else f"{bare} (at `{path}`)"
