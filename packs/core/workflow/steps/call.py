"""The ``call`` step: calls a registered tool or service, with retries, backoff, timeout and output schema."""

from __future__ import annotations

import asyncio
import inspect
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

import jsonschema

from packs.core.workflow.errors import StepError
from packs.core.workflow.state import to_json_value
from packs.core.workflow.steps.base import Outcome, StepExecutor
from packs.core.workflow.steps.configs import CallConfig, OutputSchema

if TYPE_CHECKING:
    from packs.core.workflow.state import RunState


def bind_method(target: Any, method: str | None) -> Any:
    """``target.method``; on a class whose ``method`` is an instance method, on a new instance.

    Without ``method``: a class's ``execute`` (the tool entry point), or the callable service itself.
    """
    if method is None:
        if not inspect.isclass(target) and callable(target):
            return target
        method = "execute"
    if inspect.isclass(target):
        try:
            declared = inspect.getattr_static(target, method)
        except AttributeError:
            raise StepError(f"{target.__qualname__} has no method {method!r}") from None
        if inspect.isfunction(declared):
            return getattr(target(), method)
    bound = getattr(target, method, None)
    if bound is None or not callable(bound):
        raise StepError(f"{target!r} has no callable {method!r}")
    return bound


async def invoke(function: Any, arguments: Any) -> Any:
    """Call ``function`` with ``arguments`` (dict: keywords; None: nothing; else one positional); await it."""
    if isinstance(arguments, dict):
        result = function(**arguments)
    elif arguments is None:
        result = function()
    else:
        result = function(arguments)
    if inspect.isawaitable(result):
        result = await result
    return result


class CallTimeoutError(TimeoutError):
    """A ``call`` attempt ran past the step's ``timeout`` (a ``TimeoutError``: retriers naming it match)."""


class CallStep(StepExecutor):
    """Resolves ``service`` through the resolver and calls ``method`` with the resolved ``input``."""

    type_name = "call"

    async def call(self, state: RunState) -> Outcome:
        settings: CallConfig = self.settings
        function = bind_method(state.resolve_service(settings.service), settings.method)
        arguments = self.resolve(state, settings.input)
        # At the top level, ``retries`` is the shorthand of a retrier the engine applies (the step's ``retry``);
        # inside a loop body or a parallel branch the step retries here, in its own savepoints.
        attempts = 1 if self.step.retry else settings.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                # A failed last attempt fails the step, whose transaction rolls back whole: only an
                # attempt that may be retried needs a savepoint of its own.
                async with state.savepoint() if attempt < attempts else nullcontext():
                    if settings.timeout is not None:
                        result = await asyncio.wait_for(invoke(function, arguments), settings.timeout)
                    else:
                        result = await invoke(function, arguments)
                break
            except StepError:
                raise
            except Exception as error:
                if attempt == attempts:
                    if isinstance(error, TimeoutError) and settings.timeout is not None:
                        raise CallTimeoutError(
                            f"step {self.step.id!r}: call timed out after {settings.timeout:g}s"
                        ) from None
                    raise
                delay = settings.retry_delay * settings.retry_backoff ** (attempt - 1)
                state.engine.logger.info(
                    "step %s attempt %d/%d failed (%s); retrying in %.3gs",
                    self.step.id,
                    attempt,
                    attempts,
                    error,
                    delay,
                )
                if delay:
                    await asyncio.sleep(delay)
        value = to_json_value(result, f"step {self.step.id!r} output")
        if isinstance(settings.output, OutputSchema):
            errors = sorted(jsonschema.Draft202012Validator(settings.output.schema).iter_errors(value), key=str)
            if errors:
                first = errors[0]
                where = "".join(f"[{part!r}]" for part in first.absolute_path) or "the output"
                raise StepError(f"step {self.step.id!r}: {where} does not match the output schema: {first.message}")
            self.set_variable(state, settings.output.key, value)
        else:
            self.set_variable(state, settings.output, value)
        return self.continue_(output=value)
