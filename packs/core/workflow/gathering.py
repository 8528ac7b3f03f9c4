"""What a block of code noted, gathered in a context variable: the timers a run added, the parents a child woke.

A :class:`Gathering` owns one context variable. ``with gathering.block() as items:`` makes a new list the
current one for the block (``items``); code anywhere inside calls ``gathering.note(item)``, which appends to
that list, or does nothing outside any block. A ``gathering.joining()`` block inside another leaves its items
to the outer list and yields ``None`` (the outer block handles them). Blocks are plain classes, not
generator-based context managers: a worker opens several for every run.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Gathering(Generic[T]):
    """The items noted inside the innermost open block (see the module's docstring)."""

    __slots__ = ("_current",)

    def __init__(self, name: str) -> None:
        self._current: ContextVar[list[T] | None] = ContextVar(name, default=None)

    def block(self) -> Block[T]:
        """A block gathering the items noted inside it, whatever encloses it."""
        return Block(self._current)

    def joining(self) -> Joining[T]:
        """A block gathering the items noted inside it, or, inside another block, leaving them to that one."""
        return Joining(self._current)

    def note(self, item: T) -> None:
        """Add ``item`` to the open block's items (nothing outside any block)."""
        items = self._current.get()
        if items is not None:
            items.append(item)


class _Opened(Generic[T]):
    __slots__ = ("current", "token")

    def __init__(self, current: ContextVar[list[T] | None]) -> None:
        self.current = current
        self.token: Token[list[T] | None] | None = None

    def _open(self) -> list[T]:
        items: list[T] = []
        self.token = self.current.set(items)
        return items

    def __exit__(self, *_: Any) -> None:
        if self.token is not None:
            self.current.reset(self.token)
            self.token = None


class Block(_Opened[T]):
    """A block of a :class:`Gathering`: entering it yields the list of what is noted inside."""

    __slots__ = ()

    def __enter__(self) -> list[T]:
        return self._open()


class Joining(_Opened[T]):
    """A block of a :class:`Gathering` that joins an enclosing one: entering it yields ``None`` there."""

    __slots__ = ()

    def __enter__(self) -> list[T] | None:
        if self.current.get() is not None:
            return None
        return self._open()
