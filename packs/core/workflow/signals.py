"""Signals: messages sent to a running execution, kept in arrival order, read by ``receive`` steps
(docs/workflow-language.md, step type ``receive``; docs/http-api.md, Signals).

- :class:`Signal`: one message: ``name``, a JSON ``payload``, the sender's ``idempotency_key``,
  ``created_at`` (arrival) and, once a ``receive`` step read it, ``consumed_at`` / ``consumed_by``.
- :class:`SignalStore`: the methods the memory and SQL stores have beside their others.
  ``lock_execution`` takes the execution's row lock for the open unit (so a sender and a ``receive``
  step cannot miss each other: each sees what the other committed); ``add_signal`` inserts unless
  the execution has a signal with the same idempotency key (then it answers that one);
  ``take_signal`` marks the oldest unread signal of a name consumed and answers it; ``signals_of``
  lists an execution's signals in arrival order. ``signal_with_key`` and ``signals_of`` also find the
  signals the execution passed on to a sub-workflow child (``addressed_to``).
- :func:`send_signal`: what the API and the CLI call: in one unit, lock the execution, refuse an
  ended one (:class:`~packs.core.workflow.errors.ExecutionStateError`), keep the signal, and when the
  execution waits for that name turn its halt into a queued resume; the caller then delivers it
  (:attr:`Sent.execution_id`). An execution halted at a ``workflow`` step whose child (at any depth)
  waits at a ``receive`` of that name passes the signal on: it is kept for, and wakes, that child, and
  remembers the execution addressed, so that a repeat sent there (its idempotency key) is found there.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import msgspec

from packs.core.workflow.errors import ExecutionError, ExecutionNotFoundError, ExecutionStateError
from packs.core.workflow.halts import innermost
from packs.core.workflow.json_values import same_json
from packs.core.workflow.model import FINAL_STATUSES, Execution, Status, new_id, utcnow

HALT_TYPE = "signal"
"""``halt_data.type`` of an execution halted at a ``receive`` step."""

RESUME_REQUEST = "_resume"
"""The engine's context key of a queued resume (``packs.core.workflow.engine.RESUME_REQUEST``)."""


@dataclass
class Signal:
    """One message sent to an execution."""

    execution_id: str
    name: str
    payload: Any = None
    idempotency_key: str | None = None
    id: str = field(default_factory=new_id)
    created_at: datetime.datetime = field(default_factory=utcnow)
    consumed_at: datetime.datetime | None = None
    consumed_by: str | None = None
    """The path of the ``receive`` step that read it."""
    addressed_to: str | None = None
    """The execution the sender named, when it passed the signal on to its sub-workflow child
    (``execution_id``); ``None`` when the execution it was sent to keeps it."""

    def as_dict(self) -> dict[str, Any]:
        """The signal as the execution API shows it (``passed_to``: the child that keeps it, if it was passed on)."""
        return {
            "id": self.id,
            "name": self.name,
            "payload": self.payload,
            "received_at": self.created_at.isoformat(),
            "consumed_at": None if self.consumed_at is None else self.consumed_at.isoformat(),
            "consumed_by": self.consumed_by,
            "passed_to": None if self.addressed_to is None else self.execution_id,
        }


@runtime_checkable
class SignalStore(Protocol):
    """The signal methods of a store (every method is a coroutine)."""

    async def lock_execution(self, execution_id: str) -> None: ...
    async def add_signal(self, signal: Signal) -> Signal: ...
    async def signal_with_key(self, execution_id: str, idempotency_key: str) -> Signal | None: ...
    async def take_signal(self, execution_id: str, name: str, consumed_by: str) -> Signal | None: ...
    async def signals_of(self, execution_id: str) -> list[Signal]: ...


@dataclass(frozen=True)
class Sent:
    """What :func:`send_signal` did: the signal kept, whether it repeats an earlier send, whether it woke the run."""

    signal: Signal
    repeated: bool
    woke: bool

    @property
    def execution_id(self) -> str:
        """The execution the signal was kept for (a sub-workflow's child, when it was passed on): the one to
        deliver when it ``woke``."""
        return self.signal.execution_id


async def received_signals(store: Any, execution_id: str) -> list[dict[str, Any]]:
    """The execution's signals in arrival order, as the execution API shows them (none without a signal store)."""
    signals_of = getattr(store, "signals_of", None)
    return [] if signals_of is None else [signal.as_dict() for signal in await signals_of(execution_id)]


def waiting_for_signal(halt: dict[str, Any] | None) -> str | None:
    """The signal name a halted execution waits for (``halt_data.type == "signal"``), or ``None``."""
    if isinstance(halt, dict) and halt.get("type") == HALT_TYPE and isinstance(halt.get("signal"), str):
        return str(halt["signal"])
    return None


async def send_signal(
    store: Any, execution_id: str, name: str, payload: Any = None, idempotency_key: str | None = None
) -> Sent:
    """Keep a signal for ``execution_id`` and wake the execution when it waits for ``name`` (one unit).

    :class:`ExecutionNotFoundError` for an unknown execution, :class:`ExecutionStateError` for one that
    has ended (nothing is kept). A repeated ``idempotency_key`` keeps nothing new and wakes nothing, and answers
    the first signal even once the execution has ended; with another name or payload it is
    :class:`SignalKeyConflictError` (an :class:`ExecutionStateError`). When the answer says ``woke``, the
    execution is ``pending``: deliver it to the queue.
    """
    try:
        value = msgspec.to_builtins(payload)
    except TypeError as error:
        raise ExecutionError(f"the payload is not JSON-serializable: {error}") from None
    async with store.unit():
        addressed_to = None
        if (routed := await _waiting_child(store, execution_id, name, idempotency_key)) is not None:
            # The sub-workflow's child waits for it: the signal is the child's, found from here too.
            addressed_to, execution_id = execution_id, routed
        await store.lock_execution(execution_id)
        execution: Execution | None = await store.load(execution_id)
        if execution is None:
            raise ExecutionNotFoundError(f"no execution {execution_id}")
        if idempotency_key is not None:
            # A repeat is answered as the first send was, even once that send has ended the execution.
            earlier = await store.signal_with_key(execution.id, idempotency_key)
            if earlier is not None:
                return _repeat(earlier, name, value)
        if execution.status in FINAL_STATUSES:
            raise ExecutionStateError(
                f"execution {execution_id} is {execution.status}; signals go to executions that have not ended"
            )
        signal = Signal(
            execution_id=execution.id,
            name=name,
            payload=value,
            idempotency_key=idempotency_key,
            addressed_to=addressed_to,
        )
        kept = await store.add_signal(signal)
        if kept.id != signal.id:
            return _repeat(kept, name, value)
        woke = False
        if execution.status == Status.HALTED and waiting_for_signal(execution.halt_data) == name:
            woke = await queue_woken(store, execution)
    return Sent(kept, repeated=False, woke=woke)


class SignalKeyConflictError(ExecutionStateError):
    """The ``Idempotency-Key`` of a signal was used for this execution with another name or payload."""


def _repeat(earlier: Signal, name: str, payload: Any) -> Sent:
    """The answer to a send repeating ``earlier`` (same key): the first signal, or
    :class:`SignalKeyConflictError` when this send has another name or payload."""
    if earlier.name != name or not same_json(earlier.payload, payload):
        raise SignalKeyConflictError(
            f"the Idempotency-Key {earlier.idempotency_key} was already used for this execution's signal "
            f"{earlier.name!r} with {'another payload' if earlier.name == name else 'another name'}; "
            "repeat the first request exactly, or use a new key"
        )
    return Sent(earlier, repeated=True, woke=False)


async def _waiting_child(store: Any, execution_id: str, name: str, idempotency_key: str | None) -> str | None:
    """The sub-workflow child (at any depth) that ``execution_id``, halted at a ``workflow`` step, waits on at a
    ``receive`` of ``name``; ``None`` when it waits for no such child, or already kept a signal with this
    ``idempotency_key`` (a repeat of a send it kept or passed on). Read without a lock: the child is locked next."""
    execution: Execution | None = await store.load(execution_id)
    if execution is None or execution.status != Status.HALTED:
        return None
    halt, child = innermost(execution.halt_data)
    if child is None or waiting_for_signal(halt) != name:
        return None
    if idempotency_key is not None:
        for kept in await store.signals_of(execution_id):
            if kept.idempotency_key == idempotency_key:
                return None
    return child


async def queue_woken(store: Any, execution: Execution) -> bool:
    """Turn a halted execution (at a ``receive``, or a parent whose child ended) into a queued resume with nothing
    to pass on, at its resume step: a compare-and-set on ``halted``; whether it did."""
    execution.current_step = execution.recover_to or execution.current_step
    execution.halt_data = None
    execution.recover_to = None
    execution.ctx[RESUME_REQUEST] = {"response": None, "approved": None}
    execution.status = Status.PENDING
    execution.updated_at = utcnow()
    return bool(await store.transition(execution, [Status.HALTED]))
