"""Retry and catch on every step (docs/workflow-language.md, Retry and catch): matching by error class,
attempts counted per retrier, an entry per failed attempt, catch routing with the error record, the
``call`` shorthand, and a failed attempt's database writes undone.

Every test runs on the memory store and on the SQL store over SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime
import itertools
from typing import Any

import pytest
from sqlalchemy import text

from packs.core import workflow as wf
from packs.core.db import current_session
from packs.core.tools.errors import NotFoundError, ValidationError
from packs.core.workflow import clock
from packs.core.workflow import retry as retry_module
from packs.core.workflow.language.retry import matches
from packs.core.workflow.retry import RETRY_STATE
from packs.core.workflow.timers import fire_due
from tests.support.checkpoint_rows import sql
from tests.support.engine import SQL_STORES, resolver


class DeclinedError(Exception):
    """A service's own error, matched by short or dotted name."""


class HardDeclinedError(DeclinedError):
    """A subclass: a retrier naming ``DeclinedError`` matches it."""


class Flaky:
    """A service raising the given errors in turn, then answering ``"done"``."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def charge(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def doc(*steps: dict[str, Any]) -> dict[str, Any]:
    chain: list[dict[str, Any]] = [{"id": "start", "type": "start"}, *steps]
    for current, following in itertools.pairwise(chain):
        current.setdefault("next", following["id"])
    return {"id": "retrying", "name": "Retrying", "steps": chain}


def charge(**keys: Any) -> dict[str, Any]:
    return {"id": "charge", "type": "call", "service": "billing", "method": "charge", "output": "charged", **keys}


async def run(store: wf.Store, document: dict[str, Any], service: Flaky) -> wf.ExecutionResult:
    return await wf.Engine(wf.load(document), store=store, service_resolver=resolver(billing=service)).run()


async def attempts_of(store: wf.Store, execution_id: str, step_id: str = "charge") -> list[tuple[str, int | None]]:
    return [(str(e.action), e.attempt) for e in await store.entries(execution_id) if e.step_id == step_id]


# -- matching -------------------------------------------------------------------------------------


def test_names_match_the_class_or_a_base_class_short_or_dotted() -> None:
    error = HardDeclinedError("no")
    assert matches(error, ["HardDeclinedError"])
    assert matches(error, ["DeclinedError"])
    assert matches(error, ["Exception"])
    assert matches(error, ["tests.core.workflow.test_retry_catch.DeclinedError"])
    assert matches(error, ["workflow.DeclinedError"])
    assert matches(error, ["core.workflow.test_retry_catch.HardDeclinedError"])
    assert not matches(error, ["billing.DeclinedError"])
    assert not matches(error, ["TimeoutError", "KeyError"])
    assert matches(TimeoutError(), ["builtins.TimeoutError"])


def test_the_wildcard_matches_anything_but_the_tool_errors_and_step_errors() -> None:
    assert matches(RuntimeError("x"), ["*"])
    assert matches(TimeoutError(), ["*"])
    for error in (ValidationError("bad"), NotFoundError("gone"), wf.StepError("over the cap")):
        assert not matches(error, ["*"])
    assert matches(ValidationError("bad"), ["ValidationError"])
    assert matches(NotFoundError("gone"), ["NotFoundError"])


def test_a_step_refusing_a_value_is_a_step_error_named_either_way() -> None:
    refused = wf.StepValueError("step 'pause' field 'seconds': expected a number of seconds (0 or more), got 'x'")
    assert not matches(refused, ["*"])
    assert matches(refused, ["StepError"])
    assert matches(refused, ["StepValueError"])
    assert not matches(wf.StepError("unknown service 'x'"), ["StepValueError"])


# -- retry ----------------------------------------------------------------------------------------


async def test_a_retried_step_records_each_failed_attempt_and_then_succeeds(store: wf.Store) -> None:
    service = Flaky(DeclinedError("first"), DeclinedError("second"))
    document = doc(
        charge(retry=[{"errors": ["DeclinedError"], "max_attempts": 3, "interval": 0}]), {"id": "end", "type": "end"}
    )
    result = await run(store, document, service)
    assert result.status == "completed"
    assert result.output == {"input": {}, "charged": "done"}
    assert service.calls == 3
    assert await attempts_of(store, result.execution_id) == [
        ("started", 1),
        ("failed", 1),
        ("started", 2),
        ("failed", 2),
        ("started", 3),
        ("completed", 3),
    ]
    failed = [e for e in await store.entries(result.execution_id) if e.action == "failed"]
    assert [e.error for e in failed] == ["DeclinedError: first", "DeclinedError: second"]
    execution = await store.load(result.execution_id)
    assert execution is not None
    assert RETRY_STATE not in execution.ctx


async def test_attempts_are_counted_per_retrier(store: wf.Store) -> None:
    service = Flaky(DeclinedError("a"), RuntimeError("b"), RuntimeError("c"), RuntimeError("d"))
    retry = [
        {"errors": ["DeclinedError"], "max_attempts": 1, "interval": 0},
        {"errors": ["*"], "max_attempts": 2, "interval": 0},
    ]
    result = await run(store, doc(charge(retry=retry)), service)
    assert result.status == "failed"
    assert result.error == "RuntimeError: d"
    assert service.calls == 4
    failed = [attempt for action, attempt in await attempts_of(store, result.execution_id) if action == "failed"]
    assert failed == [1, 2, 3, 4]


async def test_the_first_matching_retrier_applies_even_when_it_is_used_up(store: wf.Store) -> None:
    service = Flaky(DeclinedError("a"), DeclinedError("b"), DeclinedError("c"))
    retry = [
        {"errors": ["DeclinedError"], "max_attempts": 1, "interval": 0},
        {"errors": ["*"], "max_attempts": 5, "interval": 0},
    ]
    result = await run(store, doc(charge(retry=retry)), service)
    assert result.status == "failed"
    assert service.calls == 2


async def test_the_wildcard_does_not_retry_a_tool_validation_error_unless_named(store: wf.Store) -> None:
    bad = ValidationError("email is invalid", {"email": "is invalid"})
    service = Flaky(bad)
    result = await run(store, doc(charge(retry=[{"errors": ["*"], "interval": 0}])), service)
    assert result.status == "failed"
    assert service.calls == 1
    service = Flaky(ValidationError("email is invalid"))
    named = [{"errors": ["ValidationError"], "max_attempts": 1, "interval": 0}]
    result = await run(store, doc(charge(retry=named), {"id": "end", "type": "end"}), service)
    assert result.status == "completed"
    assert service.calls == 2


async def test_any_step_type_retries(store: wf.Store) -> None:
    document = doc(
        {"id": "count", "type": "assign", "set": {"n": 1}},
        {
            "id": "pick",
            "type": "router",
            "routes": [{"when": {"field": "n", "op": "eq", "value": 2}, "then": "end"}],
            "retry": [{"errors": ["StepError"], "max_attempts": 2, "interval": 0}],
        },
        {"id": "end", "type": "end"},
    )
    result = await wf.Engine(wf.load(document), store=store).run()
    assert result.status == "failed"
    assert result.error == "StepValueError: step 'pick': no route matched and there is no default"
    failed = [
        attempt for action, attempt in await attempts_of(store, result.execution_id, "pick") if action == "failed"
    ]
    assert failed == [1, 2, 3]


async def through_retries(engine: wf.Engine, moment: clock.FrozenClock) -> tuple[wf.ExecutionResult, list[float]]:
    """Run to the end, firing each retry's timer at its due time; the result and the waits (seconds)."""
    result = await engine.run()
    waits = []
    while result.halt is not None:
        halt = result.halt.data
        assert halt["type"] == "wait"
        assert halt["retry"]["step_id"] == "charge"
        due = datetime.datetime.fromisoformat(halt["due_at"])
        waits.append((due - moment.current).total_seconds())
        moment.set(due)
        fired = await fire_due(engine.store)
        assert [timer.kind for timer in fired.timers] == ["retry"]
        assert fired.deliveries == [result.execution_id]
        result = await engine.recover(result.execution_id)
    return result, waits


async def test_waits_between_attempts_grow_by_the_backoff_rate_up_to_max_delay(store: wf.Store) -> None:
    service = Flaky(*(RuntimeError(str(n)) for n in range(4)))
    retry = [{"errors": ["*"], "max_attempts": 4, "interval": 2, "backoff_rate": 3, "max_delay": 10}]
    engine = wf.Engine(wf.load(doc(charge(retry=retry))), store=store, service_resolver=resolver(billing=service))
    with clock.frozen() as moment:
        result, waits = await through_retries(engine, moment)
    assert result.status == "completed"
    assert waits == [2, 6, 10, 10]
    failed = [attempt for action, attempt in await attempts_of(store, result.execution_id) if action == "failed"]
    assert failed == [1, 2, 3, 4]


async def test_full_jitter_waits_at_most_the_computed_delay(store: wf.Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry_module.random, "uniform", lambda low, high: (low + high) / 4)
    service = Flaky(RuntimeError("a"), RuntimeError("b"))
    retry = [{"errors": ["*"], "max_attempts": 2, "interval": 4, "backoff_rate": 2, "jitter": "full"}]
    engine = wf.Engine(wf.load(doc(charge(retry=retry))), store=store, service_resolver=resolver(billing=service))
    with clock.frozen() as moment:
        result, waits = await through_retries(engine, moment)
    assert result.status == "completed"
    assert waits == [1, 2]


async def test_a_retry_wait_is_a_durable_timer_and_a_halt_showing_its_due_time(store: wf.Store) -> None:
    service = Flaky(RuntimeError("card network down"))
    retry = [{"errors": ["*"], "max_attempts": 1, "interval": 30}]
    engine = wf.Engine(wf.load(doc(charge(retry=retry))), store=store, service_resolver=resolver(billing=service))
    with clock.frozen() as moment:
        result = await engine.run()
        assert result.status == "halted"
        execution = await store.load(result.execution_id)
        assert execution is not None
        due = moment.current + datetime.timedelta(seconds=30)
        assert execution.halt_data == {
            "type": "wait",
            "due_at": due.isoformat(),
            "timer_id": execution.halt_data["timer_id"] if execution.halt_data else None,
            "retry": {"step_id": "charge", "attempt": 2, "error": "RuntimeError: card network down"},
        }
        assert execution.ctx[RETRY_STATE] == {"step": "charge", "attempt": 2, "counts": {"0": 1}}
        (timer,) = await store.timers_of(result.execution_id)  # type: ignore[attr-defined]
        assert (timer.kind, timer.due_at, timer.id) == ("retry", due, execution.halt_data["timer_id"])
        moment.advance(seconds=29)
        assert (await fire_due(store)).timers == []
        assert (await store.load(result.execution_id)).status == "halted"  # type: ignore[union-attr]
        moment.advance(seconds=1)
        assert len((await fire_due(store)).timers) == 1
        assert (await store.load(result.execution_id)).status == "pending"  # type: ignore[union-attr]
        assert (await fire_due(store)).timers == []  # fired once
        result = await engine.recover(result.execution_id)
    assert result.status == "completed"
    assert service.calls == 2
    # The attempt resumed after the durable wait numbers its entries too.
    assert await attempts_of(store, result.execution_id) == [
        ("started", 1),
        ("failed", 1),
        ("started", 2),
        ("completed", 2),
    ]


async def test_a_timer_of_a_retry_that_no_longer_waits_does_nothing(store: wf.Store) -> None:
    service = Flaky(RuntimeError("down"))
    retry = [{"errors": ["*"], "max_attempts": 1, "interval": 5}]
    engine = wf.Engine(wf.load(doc(charge(retry=retry))), store=store, service_resolver=resolver(billing=service))
    with clock.frozen() as moment:
        result = await engine.run()
        execution = await store.load(result.execution_id)
        assert execution is not None
        execution.status = wf.Status.CANCELLED
        await store.save(execution)
        moment.advance(seconds=5)
        fired = await fire_due(store)
        assert fired.deliveries == []
    assert (await store.load(result.execution_id)).status == "cancelled"  # type: ignore[union-attr]
    assert service.calls == 1


# -- catch ----------------------------------------------------------------------------------------


async def test_after_the_retries_the_first_matching_catcher_takes_over_with_the_error(store: wf.Store) -> None:
    service = Flaky(NotFoundError("no such card"), NotFoundError("still no card"))
    document = doc(
        charge(
            retry=[{"errors": ["NotFoundError"], "max_attempts": 1, "interval": 0}],
            catch=[
                {"errors": ["TimeoutError"], "next": "end"},
                {"errors": ["NotFoundError"], "next": "fix", "output": "last_error"},
            ],
            next="end",
        ),
        {"id": "fix", "type": "end", "result": {"error": "$last_error", "charged": "$charged"}},
        {"id": "end", "type": "end"},
    )
    with pytest.raises(wf.ValidationError, match="charged"):
        wf.load(document)  # $charged is not set on the catch path
    document["steps"][2]["result"] = {"error": "$last_error"}
    result = await run(store, document, service)
    assert result.status == "completed"
    assert result.output == {
        "error": {
            "type": "NotFoundError",
            "message": "still no card",
            "details": None,
            "step_id": "charge",
            "attempts": 2,
        }
    }
    actions = [(e.step_id, str(e.action)) for e in await store.entries(result.execution_id)]
    assert actions[-3:] == [("charge", "failed"), ("fix", "started"), ("fix", "completed")]


async def test_the_error_details_reach_the_catcher(store: wf.Store) -> None:
    service = Flaky(ValidationError("email is invalid", {"email": "is invalid"}))
    document = doc(
        charge(catch=[{"errors": ["ValidationError"], "next": "fix", "output": "problem"}], next="end"),
        {"id": "fix", "type": "end", "result": "$problem"},
        {"id": "end", "type": "end"},
    )
    result = await run(store, document, service)
    assert result.output == {
        "type": "ValidationError",
        "message": "email is invalid",
        "details": {"email": "is invalid"},
        "step_id": "charge",
        "attempts": 1,
    }
    assert await attempts_of(store, result.execution_id) == [("started", None), ("failed", None)]


async def test_without_a_matching_catcher_on_error_applies_and_without_it_the_execution_fails(store: wf.Store) -> None:
    catch = [{"errors": ["TimeoutError"], "next": "end"}]
    document = doc(
        charge(catch=catch, on_error="handled", next="end"),
        {"id": "handled", "type": "end", "result": "$_last_error.class"},
        {"id": "end", "type": "end"},
    )
    result = await run(store, document, Flaky(DeclinedError("no")))
    assert result.output == "DeclinedError"
    result = await run(
        store, doc(charge(catch=catch, next="end"), {"id": "end", "type": "end"}), Flaky(DeclinedError("no"))
    )
    assert result.status == "failed"
    assert result.error == "DeclinedError: no"


async def test_a_caught_timeout_of_a_call(store: wf.Store) -> None:
    class Slow:
        async def charge(self) -> str:
            import asyncio

            await asyncio.sleep(5)
            return "late"

    document = doc(
        charge(timeout=0.05, catch=[{"errors": ["TimeoutError"], "next": "late", "output": "why"}], next="end"),
        {"id": "late", "type": "end", "result": "$why.type"},
        {"id": "end", "type": "end"},
    )
    result = await wf.Engine(wf.load(document), store=store, service_resolver=resolver(billing=Slow())).run()
    assert result.output == "CallTimeoutError"


# -- the call shorthand ---------------------------------------------------------------------------


async def test_the_call_shorthand_is_one_wildcard_retrier(store: wf.Store) -> None:
    definition = wf.load(doc(charge(retries=2, retry_delay=0.5, retry_backoff=3)))
    (retrier,) = definition.step("charge").retry
    assert (retrier.errors, retrier.max_attempts, retrier.interval, retrier.backoff_rate) == (("*",), 2, 0.5, 3)
    service = Flaky(RuntimeError("a"), RuntimeError("b"))
    result = await run(store, doc(charge(retries=2), {"id": "end", "type": "end"}), service)
    assert result.status == "completed"
    failed = [attempt for action, attempt in await attempts_of(store, result.execution_id) if action == "failed"]
    assert failed == [1, 2]


async def test_the_shorthand_inside_a_loop_body_still_retries_in_the_step(store: wf.Store) -> None:
    service = Flaky(RuntimeError("a"))
    document = doc(
        {
            "id": "each",
            "type": "loop",
            "over": [1],
            "do": [{"id": "charge", "type": "call", "service": "billing", "method": "charge", "retries": 1}],
        },
        {"id": "end", "type": "end"},
    )
    result = await run(store, document, service)
    assert result.status == "completed"
    assert service.calls == 2


# -- a failed attempt's writes --------------------------------------------------------------------


class Writer:
    """Writes a row in the step's unit, then fails the first ``failures`` times."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    async def charge(self) -> str:
        self.calls += 1
        await current_session().execute(text("INSERT INTO retry_rows (attempt) VALUES (:n)"), {"n": self.calls})
        if self.calls <= self.failures:
            raise RuntimeError(f"attempt {self.calls}")
        return "done"


@SQL_STORES
async def test_the_writes_of_a_failed_attempt_are_undone(store: wf.Store) -> None:
    await sql(store, "CREATE TABLE IF NOT EXISTS retry_rows (attempt INTEGER NOT NULL)")
    await sql(store, "DELETE FROM retry_rows")
    writer = Writer(failures=2)
    document = doc(charge(retry=[{"errors": ["*"], "max_attempts": 2, "interval": 0}]))
    result = await wf.Engine(wf.load(document), store=store, service_resolver=resolver(billing=writer)).run()
    assert result.status == "completed"
    assert writer.calls == 3
    assert await sql(store, "SELECT attempt FROM retry_rows") == 3
    assert await sql(store, "SELECT count(*) FROM retry_rows") == 1


# -- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ({"retry": [{"errors": ["*", "Declined"]}]}, "step 'charge' field 'retry[0].errors': \"*\" must stand alone"),
        (
            {"retry": [{"errors": ["*"]}, {"errors": ["DeclinedError"]}]},
            "step 'charge' field 'retry[0].errors': \"*\" must stand alone, in the last retrier",
        ),
        (
            {"catch": [{"errors": ["*"], "next": "end"}, {"errors": ["X"], "next": "end"}]},
            "step 'charge' field 'catch[0].errors': \"*\" must stand alone, in the last catcher",
        ),
        ({"retry": [{"max_attempts": 2}]}, "step 'charge' field 'retry[0].errors' is required"),
        (
            {"retry": [{"errors": ["*"], "jitter": "some"}]},
            "step 'charge' field 'retry[0].jitter': must be full or none",
        ),
        (
            {"retry": [{"errors": ["*"], "backoff_rate": 0.5}]},
            "step 'charge' field 'retry[0].backoff_rate': must be a number of at least 1",
        ),
        (
            {"retry": [{"errors": ["*"], "max_attempts": 1.5}]},
            "step 'charge' field 'retry[0].max_attempts': must be an integer of at least 0",
        ),
        ({"retry": [{"errors": ["*"], "tries": 2}]}, "step 'charge' field 'retry[0]': unknown key 'tries'"),
        ({"retry": {"errors": ["*"]}}, "step 'charge' field 'retry' must be a non-empty list"),
        ({"catch": [{"errors": ["X"]}]}, "step 'charge' field 'catch[0].next' is required"),
        ({"catch": [{"errors": ["X"], "next": "nowhere"}]}, "step 'charge' field 'catch[0].next': no step 'nowhere'"),
        ({"retries": 2, "retry": [{"errors": ["*"]}]}, "step 'charge': give either 'retry' or the shorthand 'retries'"),
    ],
)
def test_bad_retry_and_catch_are_load_time_errors(keys: dict[str, Any], problem: str) -> None:
    with pytest.raises(wf.ValidationError) as raised:
        wf.load(doc(charge(**keys), {"id": "end", "type": "end"}))
    assert any(found.startswith(problem) for found in raised.value.problems), raised.value.problems


def test_retry_and_catch_are_not_allowed_inside_a_loop_body() -> None:
    body = {"id": "charge", "type": "call", "service": "billing", "retry": [{"errors": ["*"]}]}
    with pytest.raises(wf.ValidationError, match="steps inside a loop body run in order; retry is not allowed"):
        wf.load(doc({"id": "each", "type": "loop", "over": [1], "do": [body]}))


def test_a_catch_target_is_reachable() -> None:
    definition = wf.load(
        doc(charge(catch=[{"errors": ["*"], "next": "fix"}], next="__FINISHED__"), {"id": "fix", "type": "end"})
    )
    assert definition.has_step("fix")
