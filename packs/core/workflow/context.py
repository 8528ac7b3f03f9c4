"""A run's context as a mapping that knows what changed: the top-level keys set or removed, and their sizes.

Steps change the context by setting or removing top-level keys (``state.ctx[key] = value``); a
:class:`Context` records which keys those were, so that

- the size limit is checked on what a step added (:meth:`Context.measure` re-encodes only the
  keys changed since it last ran and keeps a running total), and
- a store writes only the keys changed since its last write (:attr:`Context.unsaved`), or the
  whole context when :attr:`Context.whole` says it must (docs/workflow-language.md, section 5,
  Checkpoints).

A value changed in place (``state.ctx["list"].append(x)``) is not seen: assign the new value to its
key, or call :meth:`Context.touch` with the key.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

LARGE_VALUE_BYTES = 1024
"""A context value at least this large (as JSON) that equals the step's output is written once, in the
step's entry: the store's change row refers to the entry instead of holding the value again."""

_MISSING: Any = object()
_encode = msgspec.json.encode


class Context(dict[str, Any]):
    """A dict recording the top-level keys set or removed since the size check and since the store's last write."""

    __slots__ = ("_sizes", "_sum", "_undo", "_unsized", "large", "refs", "stored", "unsaved", "whole")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._unsized: set[str] = set(self)
        """Keys whose encoded size is not known (changed since :meth:`measure` last ran)."""
        self._sizes: dict[str, int] = {}
        self._sum = 0
        self.unsaved: set[str] = set(self)
        """Keys set or removed since the store last wrote this context."""
        self.whole = True
        """The store must write the context whole (it is new, or was replaced)."""
        self.refs: dict[str, str] = {}
        """Unsaved keys whose value equals the output of the entry of this id (see :data:`LARGE_VALUE_BYTES`)."""
        self.large: dict[str, bytes] = {}
        """The encodings of the large values :meth:`measure` encoded in its last run."""
        self.stored: Any = None
        """The store's own record of what it wrote (opaque here)."""
        self._undo: dict[str, Any] | None = None
        """Since :meth:`begin_undo`: each key changed and its value before (``_MISSING`` when it had none)."""

    # -- recording changes ----------------------------------------------------------------------

    def _changed(self, key: str) -> None:
        self._unsized.add(key)
        self.unsaved.add(key)
        if self.refs:
            self.refs.pop(key, None)

    def _keep(self, key: str) -> None:
        """Remember the value ``key`` has before it changes (when an undo journal is open)."""
        undo = self._undo
        if undo is not None and key not in undo:
            undo[key] = dict.get(self, key, _MISSING)

    def __setitem__(self, key: str, value: Any) -> None:
        self._keep(key)
        super().__setitem__(key, value)
        self._changed(key)

    def __delitem__(self, key: str) -> None:
        self._keep(key)
        super().__delitem__(key)
        self._changed(key)

    def pop(self, key: str, *default: Any) -> Any:
        if key in self:
            self._keep(key)
            self._changed(key)
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Any]:
        if not self:
            raise KeyError("popitem(): dictionary is empty")
        key = next(reversed(self))
        self._keep(key)
        value = super().pop(key)
        self._changed(key)
        return key, value

    def setdefault(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, set to ``default`` first when missing. The key counts as changed either way:
        ``setdefault`` is how code takes a value it then changes in place."""
        if key not in self:
            self[key] = default
        else:
            self._changed(key)
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __ior__(self, other: Any) -> Context:  # type: ignore[override,misc]
        self.update(other)
        return self

    def clear(self) -> None:
        for key in list(self):
            self._keep(key)
            self._changed(key)
        super().clear()

    def touch(self, key: str) -> None:
        """Record that the value of ``key`` changed in place (it is measured and written again)."""
        self._changed(key)

    def begin_undo(self) -> None:
        """Start recording the top-level values the keys had, so that :meth:`undo` can put them back (the
        engine does at the start of each step: the cost follows what the step changes, not the context)."""
        self._undo = {}

    def undo(self) -> None:
        """Put back the top-level values of before :meth:`begin_undo` (values changed in place stay changed)."""
        undo, self._undo = self._undo or {}, None
        for key, value in undo.items():
            if value is _MISSING:
                super().pop(key, None)
            else:
                super().__setitem__(key, value)
            self._changed(key)

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Make the context ``snapshot`` again (a shallow copy taken earlier), recording the keys that differ."""
        for key in [key for key in self if key not in snapshot]:
            del self[key]
        for key, value in snapshot.items():
            if self.get(key, _MISSING) is not value:
                self[key] = value

    def __deepcopy__(self, memo: dict[int, Any]) -> Context:
        return Context(copy.deepcopy(dict(self), memo))

    def __copy__(self) -> Context:
        return Context(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Context, (dict(self),))

    # -- sizes ----------------------------------------------------------------------------------

    def measure(self) -> int:
        """The size of the context as JSON, in bytes, re-encoding only the keys changed since the last call.

        Also keeps, in :attr:`large`, the encodings of the values at least :data:`LARGE_VALUE_BYTES` long
        it encoded in this call.
        """
        sizes = self._sizes
        large: dict[str, bytes] = {}
        for key in self._unsized:
            previous = sizes.pop(key, 0)
            self._sum -= previous
            value = self.get(key, _MISSING)
            if value is _MISSING:
                continue
            encoded = _encode(value)
            if len(encoded) >= LARGE_VALUE_BYTES:
                large[key] = encoded
            size = len(_encode(key)) + 1 + len(encoded)
            sizes[key] = size
            self._sum += size
        self._unsized.clear()
        self.large = large
        return 2 + self._sum + max(len(sizes) - 1, 0)

    def refer(self, encoded_output: bytes, entry_id: str) -> None:
        """Note that a key just measured holds a value equal to an entry's (large) output."""
        for key, encoded in self.large.items():
            if encoded == encoded_output:
                self.refs[key] = entry_id
                return

    # -- the store's side -----------------------------------------------------------------------

    def saved(self, stored: Any = None) -> None:
        """The store wrote every change: nothing is unsaved any more; ``stored`` is its record of the write."""
        self.unsaved.clear()
        self.refs.clear()
        self.whole = False
        self.stored = stored

    def changed_keys(self) -> Iterable[str]:
        """The keys set or removed since the store's last write."""
        return self.unsaved


def as_context(value: Mapping[str, Any] | None) -> Context:
    """``value`` itself when it is a :class:`Context`, else a new one holding its items."""
    if isinstance(value, Context):
        return value
    return Context(value or {})
