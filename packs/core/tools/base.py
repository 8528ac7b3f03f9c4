"""The tool base class: the unit of behaviour behind every feature endpoint and workflow step.

A tool subclasses :class:`Tool`, declares its route, schema and serializer as class keywords
(docs/writing-a-pack.md, "6. A feature and its tools") and implements
``execute``, sync or async, with explicit keyword parameters::

    class Create(Tool, method="post", scope="collection", status=201, schema="contact"):
        '''Create a contact.'''

        async def execute(self, *, user_id: UUID, workspace_id: UUID, contact: Any = None, **_: Any):
            ...

The same declarations are class methods (``Create.route("post")``, ``Create.schema("contact")``,
``Create.serializer(ItemSerializer)``) for code that builds tools dynamically.

``Create.execute(user_id=..., workspace_id=..., **params)`` at class level, as the controller and
the workflow engine call it, converts typed parameters, builds a new instance and awaits its
``execute``. A tool reaches the database with :func:`packs.core.db.current_session` and never
commits: its caller owns the transaction.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar, cast

from packs.core.tools.parameters import ToolParameters
from packs.core.tools.routing import Route

if TYPE_CHECKING:
    from packs.core.schemas import Schema

_CAMEL_BOUNDARY = re.compile(r"(?<!^)(?=[A-Z])")


class _Execute:
    """``execute`` as a class-level and an instance method at once.

    Read from the class, it is the class-level entry point (build an instance, call its
    ``execute``); read from an instance, it is the instance's own method.
    """

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = _instance_positional_only(function)
        self.__doc__ = function.__doc__

    def __get__(self, instance: Tool | None, owner: type[Tool]) -> Callable[..., Any]:
        if instance is None:
            return functools.partial(_execute_class_level, owner)
        return self.function.__get__(instance, owner)  # type: ignore[no-any-return]


async def _execute_class_level(tool_class: type[Tool], /, **params: Any) -> Any:
    # ``tool_class`` is positional-only and the instance's ``self`` too (``_instance_positional_only``):
    # every keyword, whatever its name, is a parameter of the tool (docs/http-api.md, Parameters).
    params = tool_class.parameters().convert(params)
    result = tool_class().execute(**params)
    if inspect.isawaitable(result):
        result = await result
    return result


def _instance_positional_only(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` with its first parameter (``self``) made positional-only, so that a keyword named
    ``self`` reaches its ``**params`` instead of colliding with the instance.

    Only a plain function whose first parameter is positional-or-keyword is changed, and only that
    parameter: ``def execute(self, *, user_id, **_)`` behaves as ``def execute(self, /, *, user_id, **_)``.
    """
    code = getattr(function, "__code__", None)
    if not inspect.isfunction(function) or code is None or code.co_argcount < 1 or code.co_posonlyargcount > 0:
        return function
    function.__code__ = code.replace(co_posonlyargcount=1)
    return function


def _unimplemented(self: Tool, /, **params: Any) -> Any:
    raise NotImplementedError(f"{type(self).__name__}#execute must be implemented")


class Tool:
    """Base class of every tool (docs/writing-a-pack.md, "6. A feature and its tools")."""

    route_spec: ClassVar[Route | None] = None
    """The route this tool answers, set by :meth:`route` or the class keywords."""
    schema_slug: ClassVar[str | None] = None
    """The slug of the schema this tool works with, set by :meth:`schema`."""
    serializer_class: ClassVar[type | None] = None
    """The serializer used by :meth:`serialize`, set by :meth:`serializer`."""
    slug: ClassVar[str] = "tool"
    """Short name recorded on items (``tool_slug``); defaults to the class name in snake case."""

    def __init_subclass__(
        cls,
        *,
        method: str | Iterable[str] | None = None,
        scope: str = "collection",
        action: str | None = None,
        status: int = 200,
        schema: str | None = None,
        serializer: type | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        if "slug" not in cls.__dict__:
            cls.slug = _CAMEL_BOUNDARY.sub("_", cls.__name__).lower()
        execute = cls.__dict__.get("execute")
        if inspect.isfunction(execute):
            cls.execute = cast(Callable[..., Any], _Execute(execute))
        cls._parameters = None
        if method is not None:
            cls.route(method, scope=scope, action=action, status=status)
        if schema is not None:
            cls.schema(schema)
        if serializer is not None:
            cls.serializer(serializer)

    _parameters: ClassVar[ToolParameters | None] = None

    @classmethod
    def route(
        cls,
        method: str | Iterable[str],
        scope: str = "collection",
        action: str | None = None,
        status: int = 200,
    ) -> None:
        """Declare the HTTP method(s), scope (``collection``/``member``) and action this tool answers."""
        cls.route_spec = Route.build(method, scope, action, status, owner=cls.qualified_name())

    @classmethod
    def schema(cls, slug: str) -> None:
        """Declare the slug of the schema this tool works with."""
        cls.schema_slug = str(slug)

    @classmethod
    def serializer(cls, serializer_class: type) -> None:
        """Declare the serializer class whose ``to_dict()`` renders this tool's records."""
        cls.serializer_class = serializer_class

    @classmethod
    def schema_class(cls) -> type[Schema]:
        """The schema class of :attr:`schema_slug`, from the schema registry of the enabled packs."""
        from packs.core.schemas import registry

        if cls.schema_slug is None:
            raise LookupError(f"{cls.qualified_name()} declares no schema")
        return registry.get(cls.schema_slug)

    @classmethod
    def parameters(cls) -> ToolParameters:
        """The keyword parameters of this tool's ``execute`` (read once, then cached)."""
        if cls._parameters is None:
            execute = inspect.getattr_static(cls, "execute")
            function = execute.function if isinstance(execute, _Execute) else execute
            cls._parameters = ToolParameters.from_function(function)
        return cls._parameters

    @classmethod
    def qualified_name(cls) -> str:
        """``module.ClassName``, the name workflows use to call this tool."""
        return f"{cls.__module__}.{cls.__qualname__}"

    def serialize(self, record: Any) -> dict[str, Any]:
        """Render ``record`` with the declared serializer."""
        if self.serializer_class is None:
            raise LookupError(f"{self.qualified_name()} declares no serializer")
        rendered: dict[str, Any] = self.serializer_class(record).to_dict()
        return rendered

    execute: Callable[..., Any] = cast(Callable[..., Any], _Execute(_unimplemented))
    """Do the tool's work: subclasses implement it with explicit keyword parameters.

    Called on the class (``Create.execute(**params)``), it checks typed parameters, builds an
    instance and awaits the instance's ``execute``.
    """
