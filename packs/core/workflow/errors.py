"""The engine's exceptions."""

from __future__ import annotations

from collections.abc import Iterable


class Error(Exception):
    """Base of every error the workflow engine raises."""


class ValidationError(Error):
    """A workflow document is invalid; ``problems`` lists every problem found, each naming step and field."""

    def __init__(self, problems: Iterable[str], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        where = f"{source}: " if source else ""
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{where}invalid workflow ({len(self.problems)} problem(s)):\n{lines}")


class ConfigError(Error):
    """The engine is not configured for what was asked (no store, unknown workflow, ...)."""


class ExecutionError(Error):
    """A caller error about an execution: unknown id, resuming something that is not halted, ..."""


class StepError(Error):
    """A step failed in a way that must not be retried (e.g. an output over the size cap)."""


class StepValueError(StepError):
    """A step refused a value it was given or resolved from the input or the context (a wait's ``seconds``, a
    loop's ``over``, an output over the size cap, no route matching): the execution fails, and a sync start
    that ends so answers 422, not 500 (docs/http-api.md, "A sync start that fails says so")."""

    status_code = 422


class ExecutionNotFoundError(ExecutionError):
    """No execution has the given id (or it belongs to another workflow)."""


class ExecutionStateError(ExecutionError):
    """The execution's status does not allow what was asked (resume what is not halted, cancel what ended, ...)."""


class ResumeInputError(ExecutionError):
    """What a resume was given does not fit what the halted step waits for (an approval resumed without a
    decision, ...); nothing was changed. ``details`` names each field and its problem."""

    def __init__(self, message: str, details: dict[str, str]) -> None:
        super().__init__(message)
        self.details = details


class LeaseLostError(Error):
    """This worker no longer holds the execution's lease (it expired and another worker took over, or the
    execution was cancelled); the work in progress is rolled back and the worker stops."""
