"""The ``retry`` and ``catch`` keys every step may have: parsed, checked, and matched against errors
(docs/workflow-language.md, Retry and catch).

A retrier or catcher names errors by exception class, short (``TimeoutError``) or dotted
(``billing.Declined``, ``builtins.TimeoutError``); a name matches an error whose class or any base
class has that name (a dotted name: that class name, in a module whose path holds the other parts in
order). ``"*"`` matches any error except the tool errors :data:`NAMED_ONLY` and the engine's own
``StepError`` (a problem of the workflow itself, such as an output over the size cap), which are
matched only when named.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

WILDCARD = "*"
"""The error name matching any error but those of :data:`NAMED_ONLY`."""

NAMED_ONLY = ("ValidationError", "NotFoundError", "ForbiddenError", "StepError")
"""Errors ``"*"`` does not match: the tool errors that answer a client mistake, and ``StepError``."""

RETRIER_KEYS = ("errors", "max_attempts", "interval", "backoff_rate", "max_delay", "jitter")
CATCHER_KEYS = ("errors", "next", "output")
JITTERS = ("full", "none")


@dataclass(frozen=True)
class Retrier:
    """One entry of ``retry``: which errors, how many retries, and the waits between them."""

    errors: tuple[str, ...]
    max_attempts: int = 3
    """Retries after the first attempt (0: never retried, which stops later retriers from matching)."""
    interval: float = 1.0
    """Seconds before the first retry."""
    backoff_rate: float = 2.0
    """Each later wait is this many times the previous one."""
    max_delay: float | None = None
    """No wait is longer than this."""
    jitter: Literal["full", "none"] = "none"
    """``full``: each wait is a random time between 0 and the computed one."""

    def delay(self, retry: int) -> float:
        """The computed wait before retry number ``retry`` (from 1), before jitter."""
        wait = self.interval * self.backoff_rate ** (retry - 1)
        return wait if self.max_delay is None else min(wait, self.max_delay)


@dataclass(frozen=True)
class Catcher:
    """One entry of ``catch``: which errors, the step to go to, and the context key of the error."""

    errors: tuple[str, ...]
    next: str
    output: str | None = None


def matches(error: BaseException, names: Iterable[str]) -> bool:
    """Whether ``error`` is one of ``names`` (its class or a base class, short or dotted; ``"*"``)."""
    classes = type(error).__mro__
    for name in names:
        if name == WILDCARD:
            if not any(cls.__name__ in NAMED_ONLY for cls in classes):
                return True
        elif any(_names_class(name, cls) for cls in classes):
            return True
    return False


def _names_class(name: str, cls: type) -> bool:
    *modules, short = name.split(".")
    if short != cls.__name__:
        return False
    if not modules:
        return True
    path = cls.__module__.split(".")
    position = 0
    for part in modules:
        try:
            position = path.index(part, position) + 1
        except ValueError:
            return False
    return True


def parse_retry(raw: Any, label: str, problems: list[str]) -> tuple[Retrier, ...]:
    """The step's ``retry`` list; each problem (naming ``retry[i].field``) goes to ``problems``."""
    entries = _entries(raw, "retry", label, problems)
    retriers: list[Retrier] = []
    for index, entry in enumerate(entries):
        where = f"{label} field 'retry[{index}]"
        found = len(problems)
        _unknown_keys(entry, RETRIER_KEYS, where, problems)
        errors = _errors(entry, where, index == len(entries) - 1, "retrier", problems)
        max_attempts = _number(entry, "max_attempts", 3, where, problems, integer=True, minimum=0)
        interval = _number(entry, "interval", 1.0, where, problems, minimum=0)
        backoff_rate = _number(entry, "backoff_rate", 2.0, where, problems, minimum=1)
        max_delay = _number(entry, "max_delay", None, where, problems, minimum=0)
        jitter = entry.get("jitter", "none")
        if jitter not in JITTERS:
            problems.append(f"{where}.jitter': must be full or none, got {jitter!r}")
        if len(problems) == found:
            retriers.append(
                Retrier(
                    errors=errors,
                    max_attempts=int(max_attempts or 0),
                    interval=float(interval or 0),
                    backoff_rate=float(backoff_rate or 1),
                    max_delay=None if max_delay is None else float(max_delay),
                    jitter=jitter,
                )
            )
    return tuple(retriers)


def parse_catch(raw: Any, label: str, problems: list[str]) -> tuple[Catcher, ...]:
    """The step's ``catch`` list; each problem (naming ``catch[i].field``) goes to ``problems``."""
    entries = _entries(raw, "catch", label, problems)
    catchers: list[Catcher] = []
    for index, entry in enumerate(entries):
        where = f"{label} field 'catch[{index}]"
        found = len(problems)
        _unknown_keys(entry, CATCHER_KEYS, where, problems)
        errors = _errors(entry, where, index == len(entries) - 1, "catcher", problems)
        target = entry.get("next")
        if not isinstance(target, str) or not target:
            problems.append(f"{where}.next' is required: the id of the step to go to")
        output = entry.get("output")
        if output is not None and (not isinstance(output, str) or not output):
            problems.append(f"{where}.output' must be a context key (a non-empty string), got {output!r}")
        if len(problems) == found:
            catchers.append(Catcher(errors=errors, next=str(target), output=output))
    return tuple(catchers)


def shorthand_retry(step_type: str, settings: Any) -> tuple[Retrier, ...]:
    """The one ``"*"`` retrier a ``call`` step's ``retries`` / ``retry_delay`` / ``retry_backoff`` stand for."""
    retries = getattr(settings, "retries", 0) if step_type == "call" else 0
    if not retries:
        return ()
    return (
        Retrier(
            errors=(WILDCARD,),
            max_attempts=retries,
            interval=settings.retry_delay,
            backoff_rate=settings.retry_backoff,
        ),
    )


def _entries(raw: Any, key: str, label: str, problems: list[str]) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not raw:
        problems.append(f"{label} field {key!r} must be a non-empty list of mappings (each with errors)")
        return []
    entries = []
    for index, entry in enumerate(raw):
        if isinstance(entry, dict):
            entries.append(entry)
        else:
            problems.append(f"{label} field '{key}[{index}]' must be a mapping with errors, got {type(entry).__name__}")
    return entries if len(entries) == len(raw) else []


def _unknown_keys(entry: dict[str, Any], allowed: tuple[str, ...], where: str, problems: list[str]) -> None:
    for key in entry:
        if key not in allowed:
            problems.append(f"{where}': unknown key {key!r} (allowed: {', '.join(allowed)})")


def _errors(entry: dict[str, Any], where: str, last: bool, what: str, problems: list[str]) -> tuple[str, ...]:
    errors = entry.get("errors")
    if not isinstance(errors, list) or not errors or not all(isinstance(name, str) and name for name in errors):
        problems.append(f'{where}.errors\' is required: a non-empty list of error class names (or ["*"])')
        return ()
    if WILDCARD in errors and (len(errors) > 1 or not last):
        problems.append(f'{where}.errors\': "*" must stand alone, in the last {what}')
    return tuple(errors)


def _number(
    entry: dict[str, Any],
    key: str,
    default: float | None,
    where: str,
    problems: list[str],
    *,
    integer: bool = False,
    minimum: float = 0,
) -> float | None:
    value = entry.get(key, default)
    if value is None:
        return None
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value < minimum:
        kind = "an integer" if integer else "a number"
        problems.append(f"{where}.{key}': must be {kind} of at least {minimum:g}, got {value!r}")
        return None
    return value
