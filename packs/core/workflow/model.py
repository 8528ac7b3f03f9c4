"""Executions, entries and results: what the engine persists and returns."""

from __future__ import annotations

import datetime
import enum
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from packs.core.workflow import clock


class Status(enum.StrEnum):
    """An execution's status."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    HALTED = "halted"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_STATUSES = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED})
"""Statuses an execution never leaves on its own (``failed`` only through a redrive)."""


class Action(enum.StrEnum):
    """What an entry records about a step."""

    STARTED = "started"
    COMPLETED = "completed"
    FAILED = "failed"
    HALTED = "halted"


def utcnow() -> datetime.datetime:
    """The current time, timezone-aware UTC, by the engine's clock (:mod:`packs.core.workflow.clock`)."""
    return clock.now()


_last_entry_time = datetime.datetime.min.replace(tzinfo=datetime.UTC)


def entry_time() -> datetime.datetime:
    """The current UTC time, strictly later than any earlier call in this process.

    Entries are ordered by timestamp; two entries of one step boundary must never tie.
    """
    global _last_entry_time
    now = utcnow()
    if now <= _last_entry_time:
        now = _last_entry_time + datetime.timedelta(microseconds=1)
    _last_entry_time = now
    return now


class _RandomIds:
    """Version-4 UUID texts from the operating system's random source, read 256 ids at a time.

    ``str(uuid.uuid4())`` reads the source for every id and builds a ``UUID`` on the way (about 2 us; a run
    makes several ids per step); this is the same randomness in under half the time. A forked process
    starts with an empty pool, so that parent and child never hand out the same ids.
    """

    BATCH = 16 * 256

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool = b""
        self._at = 0

    def forget(self) -> None:
        """Drop what is left of the pool, with a new lock (in a forked child: another thread may have held it)."""
        self._lock = threading.Lock()
        self._pool, self._at = b"", 0

    def next(self) -> str:
        """A new id."""
        with self._lock:
            at = self._at
            if at >= len(self._pool):
                self._pool, at = os.urandom(self.BATCH), 0
            self._at = at + 16
            raw = bytearray(self._pool[at : at + 16])
        raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
        raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 4122 variant
        text = raw.hex()
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


_ids = _RandomIds()
os.register_at_fork(after_in_child=_ids.forget)


def new_id() -> str:
    """A new random id (version-4 UUID text)."""
    return _ids.next()


@dataclass
class Execution:
    """One run of a workflow, as the store keeps it."""

    id: str
    workflow_id: str
    status: str = Status.RUNNING
    input: dict[str, Any] = field(default_factory=dict)
    ctx: dict[str, Any] = field(default_factory=dict)
    current_step: str | None = None
    result: Any = None
    recover_to: str | None = None
    halt_data: dict[str, Any] | None = None
    error: str | None = None
    created_at: datetime.datetime = field(default_factory=utcnow)
    updated_at: datetime.datetime = field(default_factory=utcnow)
    workspace_id: str | None = None
    """The workspace that started the execution (set once, when it is created)."""
    created_by_id: str | None = None
    """The user who started the execution (set once, when it is created)."""
    definition_version: str | None = None
    """The ``version`` of the definition the execution started with."""
    definition_hash: str | None = None
    """The content hash of that definition (see :attr:`WorkflowDef.content_hash`)."""
    attempts: int = 0
    """How many times a worker claimed the execution since it was last queued (kept by the store)."""
    lease_owner: str | None = None
    """The worker holding the execution's lease, if any (kept by the store)."""
    lease_expires_at: datetime.datetime | None = None
    """When that lease runs out unless renewed (kept by the store)."""
    schedule_id: str | None = None
    """The schedule that started the execution, if one did (set once, when it is created)."""


@dataclass
class Entry:
    """One event of one step of an execution (started, completed, failed, halted)."""

    execution_id: str
    step_id: str
    step_type: str
    action: str
    id: str = field(default_factory=new_id)
    duration_ms: int | None = None
    input: Any = None
    output: Any = None
    error: str | None = None
    timestamp: datetime.datetime = field(default_factory=entry_time)
    attempt: int | None = None
    """Which attempt of a step with retriers this entry records (1 for the first), else ``None``."""

    def as_history(self) -> dict[str, Any]:
        """The entry as ``$history`` shows it."""
        return {
            "step_id": self.step_id,
            "step_type": self.step_type,
            "action": str(self.action),
            "output": self.output,
            "error": self.error,
            "timestamp": self.timestamp.isoformat(),
            "attempt": self.attempt,
        }


@dataclass(frozen=True)
class HaltResult:
    """Why an execution halted and where resuming continues."""

    data: dict[str, Any]
    resume_step: str | None = None
    prompt: str | None = None


@dataclass(frozen=True)
class ExecutionResult:
    """What ``run`` and ``resume`` return."""

    status: Status
    execution_id: str
    output: Any = None
    halt: HaltResult | None = None
    error: str | None = None

    @classmethod
    def of(cls, execution: Execution) -> ExecutionResult:
        """The result an execution's stored state stands for."""
        status = Status(execution.status)
        halt = None
        if status is Status.HALTED and execution.halt_data is not None:
            prompt = execution.halt_data.get("prompt")
            halt = HaltResult(
                data=execution.halt_data,
                resume_step=execution.recover_to,
                prompt=prompt if isinstance(prompt, str) else None,
            )
        return cls(
            status=status,
            execution_id=execution.id,
            output=execution.result if status is Status.COMPLETED else None,
            halt=halt,
            error=execution.error,
        )
