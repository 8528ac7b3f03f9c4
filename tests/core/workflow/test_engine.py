"""The engine's semantics (docs/workflow-language.md, sections 1, 4, 5), on MemoryStore and the SQL store.

The SQL store runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import datetime
import itertools
import time
from typing import Any

import msgspec
import pytest

from packs.core import workflow as wf
from packs.core.workflow import clock
from packs.core.workflow.timers import fire_due
from tests.support.engine import resolver

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def doc(*steps: dict[str, Any], **top: Any) -> dict[str, Any]:
    """A workflow document with a ``start`` step first and the given steps chained in order."""
    chain: list[dict[str, Any]] = [{"id": "start", "type": "start"}, *steps]
    for current, following in itertools.pairwise(chain):
        current.setdefault("next", following["id"])
    return {"id": top.pop("id", "test"), "name": top.pop("name", "Test"), **top, "steps": chain}


async def run(
    store: wf.Store, document: dict[str, Any], input: dict[str, Any] | None = None, **services: Any
) -> wf.ExecutionResult:
    return await wf.Engine(wf.load(document), store=store, service_resolver=resolver(**services)).run(input=input)


async def actions(store: wf.Store, execution_id: str) -> list[tuple[str, str]]:
    return [(entry.step_id, str(entry.action)) for entry in await store.entries(execution_id)]


class Recorder:
    """A service that records its calls."""

    def __init__(self) -> None:
        self.calls: list[Any] = []

    def record(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {"seen": kwargs, "count": len(self.calls)}

    def positional(self, value: Any) -> Any:
        self.calls.append(value)
        return value

    def nothing(self) -> str:
        self.calls.append(None)
        return "ok"

    async def slow(self, seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "slow"

    def fail_times(self, times: int) -> str:
        self.calls.append(time.monotonic())
        if len(self.calls) <= times:
            raise RuntimeError(f"attempt {len(self.calls)} failed")
        return "finally"

    def big(self, size: int) -> str:
        self.calls.append(size)
        return "x" * size


# -- start / end / assign ------------------------------------------------------------------------


async def test_start_checks_inputs_applies_defaults_and_stores_input(store: wf.Store) -> None:
    document = doc(
        {"id": "done", "type": "end", "result": {"input": "$input", "stored": "$input.n", "tag": "$input.tag"}},
        inputs={
            "n": {"type": "integer", "minimum": 1},
            "tag": {"type": "string", "required": False, "default": "none"},
            "kind": {"type": "string", "required": False, "enum": ["a", "b"]},
        },
    )
    result = await run(store, document, {"n": 3})
    assert result.status == "completed"
    assert result.output == {"input": {"n": 3, "tag": "none"}, "stored": 3, "tag": "none"}
    execution = await store.load(result.execution_id)
    assert execution is not None
    assert execution.ctx["input"] == {"n": 3, "tag": "none"}


def test_an_input_problem_quotes_a_long_value_shortened() -> None:
    """jsonschema quotes the value whole: a 5000-item list made a message of hundreds of kilobytes."""
    inputs = wf.load(doc({"id": "done", "type": "end"}, inputs={"items": {"type": "array", "maxItems": 3}})).inputs
    with pytest.raises(wf.StepError) as raised:
        wf.check_input(inputs, {"items": [{"name": "x" * 20}] * 5000})
    message = str(raised.value)
    assert len(message) < 300, message
    assert message.startswith("invalid input: input 'items': [{'name': 'xxxxxxxx")
    assert message.endswith("... (170,000 characters) is too long")
    with pytest.raises(wf.StepError, match=r"input 'items': \[1, 2, 3, 4\] is too long"):
        wf.check_input(inputs, {"items": [1, 2, 3, 4]})  # a short value is quoted whole


async def test_input_defaults_hold_after_a_halt_and_a_resume(store: wf.Store) -> None:
    """The run that resumes loads the execution again: ``$input`` still has the defaults the start step applied."""
    document = doc(
        {"id": "early", "type": "assign", "set": {"tag_before": "$input.tag"}},
        {"id": "wait", "type": "halt"},
        {"id": "done", "type": "end", "result": {"before": "$tag_before", "after": "$input.tag", "input": "$input"}},
        inputs={"n": {"type": "integer"}, "tag": {"type": "string", "required": False, "default": "none"}},
    )
    engine = wf.Engine(wf.load(document), store=store)
    halted = await engine.run(input={"n": 3})
    assert halted.status == "halted"
    done = await wf.Engine(wf.load(document), store=store).resume(halted.execution_id)
    assert done.output == {"before": "none", "after": "none", "input": {"n": 3, "tag": "none"}}
    execution = await store.load(halted.execution_id)
    assert execution is not None
    assert execution.input == {"n": 3}  # what the caller sent, as the API shows it and a repeated start compares


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({}, "input 'n' is required"),
        ({"n": "three"}, "input 'n': 'three' is not of type 'integer'"),
        ({"n": 0}, "input 'n': 0 is less than the minimum of 1"),
        ({"n": 1, "kind": "c"}, "input 'kind': 'c' is not one of ['a', 'b']"),
    ],
)
async def test_start_fails_the_execution_naming_the_input(store: wf.Store, given: dict[str, Any], message: str) -> None:
    document = doc(
        {"id": "done", "type": "end"},
        inputs={
            "n": {"type": "integer", "minimum": 1},
            "kind": {"type": "string", "required": False, "enum": ["a", "b"]},
        },
    )
    result = await run(store, document, given)
    assert result.status == "failed"
    assert result.error is not None
    assert message in result.error
    assert await actions(store, result.execution_id) == [("start", "started"), ("start", "failed")]


async def test_end_defaults_to_the_whole_context_and_assign_sees_earlier_values(store: wf.Store) -> None:
    document = doc(
        {"id": "set", "type": "assign", "set": {"a": 1, "b": "$a", "c": "a=$a, b=$b"}}, {"id": "done", "type": "end"}
    )
    result = await run(store, document)
    assert result.output == {"input": {}, "a": 1, "b": 1, "c": "a=1, b=1"}
    entries = await store.entries(result.execution_id)
    assert [e.output for e in entries if e.step_id == "set" and e.action == "completed"] == [
        {"a": 1, "b": 1, "c": "a=1, b=1"}
    ]


async def test_falling_off_the_last_step_completes_with_the_context(store: wf.Store) -> None:
    result = await run(store, doc({"id": "set", "type": "assign", "set": {"x": True}}))
    assert result.status == "completed"
    assert result.output == {"input": {}, "x": True}


async def test_finished_target_stops_the_run(store: wf.Store) -> None:
    document = doc(
        {"id": "set", "type": "assign", "set": {"x": 1}, "next": "__FINISHED__"}, {"id": "never", "type": "end"}
    )
    document["steps"][0]["next"] = "set"
    document["steps"].append({"id": "jump", "type": "assign", "set": {}, "next": "never"})
    document["steps"][1]["on_error"] = "jump"
    result = await run(store, document)
    assert result.status == "completed"
    assert ("never", "started") not in await actions(store, result.execution_id)


# -- call ----------------------------------------------------------------------------------------


async def test_call_passes_a_dict_as_keywords_none_as_nothing_and_else_one_argument(store: wf.Store) -> None:
    recorder = Recorder()
    document = doc(
        {
            "id": "kw",
            "type": "call",
            "service": "svc",
            "method": "record",
            "input": {"a": "$input.a", "b": 2},
            "output": "kw",
        },
        {"id": "none", "type": "call", "service": "svc", "method": "nothing", "output": "none"},
        {"id": "one", "type": "call", "service": "svc", "method": "positional", "input": "$input.a", "output": "one"},
        {"id": "done", "type": "end", "result": {"kw": "$kw.count", "none": "$none", "one": "$one"}},
    )
    result = await run(store, document, {"a": [1, 2]}, svc=recorder)
    assert result.output == {"kw": 1, "none": "ok", "one": [1, 2]}
    assert recorder.calls == [{"a": [1, 2], "b": 2}, None, [1, 2]]


class Tools:
    """A class whose instance method is called on a new instance, and a class-level one directly."""

    instances = 0

    def __init__(self) -> None:
        Tools.instances += 1

    async def instance_method(self, value: int) -> int:
        return value + 1

    @classmethod
    def class_method(cls, value: int) -> int:
        return value * 10


async def test_call_on_a_class_uses_a_new_instance_only_for_instance_methods(store: wf.Store) -> None:
    Tools.instances = 0
    document = doc(
        {
            "id": "a",
            "type": "call",
            "service": "tools",
            "method": "instance_method",
            "input": {"value": 1},
            "output": "a",
        },
        {"id": "b", "type": "call", "service": "tools", "method": "class_method", "input": {"value": 2}, "output": "b"},
        {"id": "done", "type": "end", "result": ["$a", "$b"]},
    )
    result = await run(store, document, tools=Tools)
    assert result.output == [2, 20]
    assert Tools.instances == 1


async def test_call_of_an_unknown_service_fails_without_importing_anything(store: wf.Store) -> None:
    document = doc({"id": "c", "type": "call", "service": "os.system", "input": "echo hi"})
    result = await run(store, document)
    assert result.status == "failed"
    assert result.error == "StepError: unknown service 'os.system': it is not a registered tool or service"


async def test_call_retries_with_backoff_then_succeeds(store: wf.Store) -> None:
    recorder = Recorder()
    document = doc(
        {
            "id": "flaky",
            "type": "call",
            "service": "svc",
            "method": "fail_times",
            "input": {"times": 2},
            "retries": 2,
            "retry_delay": 0.05,
            "retry_backoff": 2,
            "output": "out",
        },
    )
    engine = wf.Engine(wf.load(document), store=store, service_resolver=resolver(svc=recorder))
    waits = []
    with clock.frozen() as moment:
        result = await engine.run()
        while result.halt is not None:  # waiting for the retry's durable timer
            due = datetime.datetime.fromisoformat(result.halt.data["due_at"])
            waits.append((due - moment.current).total_seconds())
            moment.set(due)
            await fire_due(store)
            result = await engine.recover(result.execution_id)
    assert result.status == "completed"
    assert result.output["out"] == "finally"
    assert len(recorder.calls) == 3
    assert waits == [0.05, 0.1]


async def test_call_fails_after_its_retries(store: wf.Store) -> None:
    recorder = Recorder()
    document = doc(
        {"id": "flaky", "type": "call", "service": "svc", "method": "fail_times", "input": {"times": 5}, "retries": 1}
    )
    result = await run(store, document, svc=recorder)
    assert result.status == "failed"
    assert result.error == "RuntimeError: attempt 2 failed"
    assert len(recorder.calls) == 2


async def test_a_step_failure_is_logged_with_a_traceback_only_when_the_error_is_unexpected(
    store: wf.Store, caplog: pytest.LogCaptureFixture
) -> None:
    """A StepError (a missing input, a router without a match) says all in its message; any other exception is a
    bug somewhere, and its traceback is what finds it."""
    caplog.set_level("WARNING")
    missing = await run(store, doc({"id": "done", "type": "end"}, inputs={"n": {"type": "integer"}}), {})
    assert missing.status == "failed"
    crashed = await run(
        store,
        doc({"id": "flaky", "type": "call", "service": "svc", "method": "fail_times", "input": {"times": 1}}),
        svc=Recorder(),
    )
    assert crashed.status == "failed"
    failures = {
        record.getMessage().split("failed: ", 1)[1]: record
        for record in caplog.records
        if "failed:" in record.getMessage()
    }
    assert failures["StepValueError: invalid input: input 'n' is required"].exc_info is None
    assert failures["RuntimeError: attempt 1 failed"].exc_info is not None


async def test_call_timeout_is_per_attempt(store: wf.Store) -> None:
    recorder = Recorder()
    document = doc(
        {"id": "slow", "type": "call", "service": "svc", "method": "slow", "input": {"seconds": 5}, "timeout": 0.05}
    )
    started = time.monotonic()
    result = await run(store, document, svc=recorder)
    assert time.monotonic() - started < 2
    assert result.status == "failed"
    assert result.error == "CallTimeoutError: step 'slow': call timed out after 0.05s"


async def test_call_output_schema_accepts_and_rejects(store: wf.Store) -> None:
    schema = {
        "type": "object",
        "properties": {"count": {"type": "integer"}, "seen": {"type": "object"}},
        "required": ["count"],
    }
    ok = doc(
        {
            "id": "c",
            "type": "call",
            "service": "svc",
            "method": "record",
            "input": {},
            "output": {"key": "r", "schema": schema},
        },
        {"id": "done", "type": "end", "result": "$r.count"},
    )
    assert (await run(store, ok, svc=Recorder())).output == 1
    strict = {"type": "object", "properties": {"count": {"type": "string"}}}
    bad = doc(
        {
            "id": "c",
            "type": "call",
            "service": "svc",
            "method": "record",
            "input": {},
            "output": {"key": "r", "schema": strict},
        }
    )
    result = await run(store, bad, svc=Recorder())
    assert result.status == "failed"
    assert result.error == "StepError: step 'c': ['count'] does not match the output schema: 1 is not of type 'string'"


# -- router ---------------------------------------------------------------------------------------


ROUTED = doc(
    {
        "id": "route",
        "type": "router",
        "routes": [
            {"when": {"field": "input.n", "op": "gt", "value": 10}, "then": "big"},
            {"when": {"field": "input.n", "op": "gt", "value": "$input.limit"}, "then": "medium"},
        ],
        "default": "small",
    },
    {"id": "big", "type": "end", "result": "big"},
    {"id": "medium", "type": "end", "result": "medium"},
    {"id": "small", "type": "end", "result": "small"},
)


@pytest.mark.parametrize(
    ("given", "expected"), [({"n": 11}, "big"), ({"n": 6, "limit": 5}, "medium"), ({"n": 1}, "small")]
)
async def test_router_takes_the_first_matching_route_else_default(
    store: wf.Store, given: dict[str, Any], expected: str
) -> None:
    result = await run(store, ROUTED, {"limit": 100, **given})
    assert result.output == expected


async def test_router_without_match_or_default_fails(store: wf.Store) -> None:
    document = doc(
        {"id": "route", "type": "router", "routes": [{"when": {"field": "input.x", "op": "exists"}, "then": "yes"}]},
        {"id": "yes", "type": "end"},
    )
    result = await run(store, document)
    assert result.status == "failed"
    assert result.error == "StepValueError: step 'route': no route matched and there is no default"


# -- loop -----------------------------------------------------------------------------------------


async def test_foreach_loop_collects_last_body_outputs_and_removes_loop_variables(store: wf.Store) -> None:
    document = doc(
        {
            "id": "each",
            "type": "loop",
            "over": "$input.items",
            "as": "item",
            "index_as": "i",
            "do": [
                {"id": "label", "type": "assign", "set": {"last": "$item"}},
                {"id": "pair", "type": "call", "service": "svc", "method": "positional", "input": ["$i", "$item"]},
            ],
            "output": "pairs",
        },
        {"id": "done", "type": "end"},
    )
    result = await run(store, document, {"items": ["a", "b"]}, svc=Recorder())
    assert result.output["pairs"] == [[0, "a"], [1, "b"]]
    assert result.output["last"] == "b"
    assert "item" not in result.output
    assert "i" not in result.output
    steps = await actions(store, result.execution_id)
    assert steps[3:-3] == [
        ("each:label", "started"),
        ("each:label", "completed"),
        ("each:pair", "started"),
        ("each:pair", "completed"),
        ("each:label", "started"),
        ("each:label", "completed"),
        ("each:pair", "started"),
        ("each:pair", "completed"),
    ]


async def test_foreach_over_more_than_max_items_fails(store: wf.Store) -> None:
    document = doc(
        {
            "id": "each",
            "type": "loop",
            "over": "$input.items",
            "max": 2,
            "do": [{"id": "a", "type": "assign", "set": {}}],
        }
    )
    result = await run(store, document, {"items": [1, 2, 3]})
    assert result.status == "failed"
    assert result.error == "StepValueError: step 'each': 3 items is over the loop's max of 2"


async def test_while_loop_counts_iterations_and_stops_on_break(store: wf.Store) -> None:
    document = doc(
        {"id": "init", "type": "assign", "set": {"go": True}},
        {
            "id": "repeat",
            "type": "loop",
            "while": {"field": "go", "op": "truthy"},
            "do": [
                {"id": "note", "type": "assign", "set": {"seen": "$iteration"}},
                {"id": "stop", "type": "transform", "input": "seen", "expression": {}, "output": "copy"},
            ],
            "output": "results",
        },
        {
            "id": "brk",
            "type": "loop",
            "while": {"field": "go", "op": "truthy"},
            "do": [{"id": "halt_it", "type": "assign", "set": {"break_loop": {"$eq": 1}, "n": "$iteration"}}],
            "output": "broken",
        },
        {"id": "done", "type": "end", "result": {"results": "$results", "broken": "$broken", "n": "$n"}},
    )
    document["steps"][2]["max"] = 3
    document["steps"][2]["on_exhausted"] = "brk"
    result = await run(store, document)
    assert result.status == "completed"
    assert result.output == {"results": [1, 2, 3], "broken": [{"break_loop": {"$eq": 1}, "n": 1}], "n": 1}


async def test_while_loop_past_max_without_on_exhausted_fails(store: wf.Store) -> None:
    document = doc(
        {"id": "init", "type": "assign", "set": {"go": True}},
        {
            "id": "spin",
            "type": "loop",
            "while": {"field": "go", "op": "eq", "value": True},
            "max": 2,
            "do": [{"id": "a", "type": "assign", "set": {}}],
        },
    )
    result = await run(store, document)
    assert result.status == "failed"
    assert result.error == "StepError: step 'spin': while loop passed its max of 2 iterations"


# -- parallel -------------------------------------------------------------------------------------


def branches(*delays: float, fail: int | None = None) -> list[dict[str, Any]]:
    made: list[dict[str, Any]] = []
    for index, delay in enumerate(delays):
        method = "fail_times" if index == fail else "slow"
        arguments: dict[str, Any] = {"times": 99} if index == fail else {"seconds": delay}
        made.append(
            {
                "id": f"b{index}",
                "type": "call",
                "service": "svc",
                "method": method,
                "input": arguments,
                "output": f"o{index}",
            }
        )
    return made


async def test_parallel_all_runs_branches_concurrently_and_merges_in_branch_order(store: wf.Store) -> None:
    document = doc(
        {
            "id": "both",
            "type": "parallel",
            "output": "outs",
            "branches": [
                {"id": "x", "type": "assign", "set": {"shared": "first", "x": 1}},
                {"id": "y", "type": "assign", "set": {"shared": "second", "y": 2}},
                *branches(0.2, 0.2),
            ],
        },
        {"id": "done", "type": "end"},
    )
    started = time.monotonic()
    result = await run(store, document, svc=Recorder())
    if not getattr(store, "serializes_branches", False):  # one database session: calls take turns
        assert time.monotonic() - started < 0.39
    assert result.output["shared"] == "second"
    assert (result.output["x"], result.output["y"]) == (1, 2)
    assert result.output["outs"] == [{"shared": "first", "x": 1}, {"shared": "second", "y": 2}, "slow", "slow"]
    steps = {step for step, _ in await actions(store, result.execution_id)}
    assert {"both:x", "both:y", "both:b0", "both:b1"} <= steps


async def test_parallel_all_fails_when_a_branch_fails(store: wf.Store) -> None:
    document = doc({"id": "p", "type": "parallel", "branches": branches(0.01, 0, fail=1)})
    result = await run(store, document, svc=Recorder())
    assert result.status == "failed"
    assert result.error == "RuntimeError: attempt 1 failed"


async def test_parallel_any_takes_the_first_success_and_cancels_the_rest(store: wf.Store) -> None:
    document = doc(
        {"id": "p", "type": "parallel", "wait": "any", "output": "outs", "branches": branches(0.01, 5, 0, fail=2)}
    )
    started = time.monotonic()
    result = await run(store, document, svc=Recorder())
    assert time.monotonic() - started < 2
    assert result.status == "completed"
    assert result.output["outs"] == ["slow", None, None]


async def test_parallel_n_needs_that_many_successes(store: wf.Store) -> None:
    ok = doc({"id": "p", "type": "parallel", "wait": 2, "output": "outs", "branches": branches(0.01, 0.02, 5)})
    started = time.monotonic()
    result = await run(store, ok, svc=Recorder())
    assert time.monotonic() - started < 2
    assert result.output["outs"] == ["slow", "slow", None]
    too_few = doc({"id": "p", "type": "parallel", "wait": 2, "branches": branches(0.01, 0, 0, fail=1)})
    too_few["steps"][1]["branches"][2] = {**too_few["steps"][1]["branches"][1], "id": "b2", "output": "o2"}
    result = await run(store, too_few, svc=Recorder())
    assert result.status == "failed"


# -- halt / approval ------------------------------------------------------------------------------


async def test_halt_stops_with_data_and_resume_continues_with_the_response(store: wf.Store) -> None:
    document = doc(
        {"id": "wait", "type": "halt", "reason": "need $input.what", "data": {"ask": "$input.what"}},
        {"id": "done", "type": "end", "result": {"response": "$response"}},
    )
    engine = wf.Engine(wf.load(document), store=store)
    halted = await engine.run(input={"what": "a name"})
    assert halted.status == "halted"
    assert halted.halt is not None
    assert halted.halt.data["reason"] == "need a name"
    assert halted.halt.data["ask"] == "a name"
    assert "halted_at" in halted.halt.data
    assert halted.halt.resume_step == "done"
    execution = await store.load(halted.execution_id)
    assert execution is not None
    assert (execution.status, execution.recover_to) == ("halted", "done")
    done = await engine.resume(halted.execution_id, response={"name": "Ada"})
    assert done.status == "completed"
    assert done.output == {"response": {"name": "Ada"}}
    with pytest.raises(wf.ExecutionError, match="is completed; only a halted execution can resume"):
        await engine.resume(halted.execution_id)
    with pytest.raises(wf.ExecutionError, match="no execution nope"):
        await engine.resume("nope")


async def test_halt_resume_step_overrides_next(store: wf.Store) -> None:
    document = doc(
        {"id": "wait", "type": "halt", "resume_step": "other"},
        {"id": "skipped", "type": "end", "result": "skipped"},
        {"id": "other", "type": "end", "result": "other"},
    )
    engine = wf.Engine(wf.load(document), store=store)
    halted = await engine.run()
    assert (await engine.resume(halted.execution_id)).output == "other"


APPROVAL = doc(
    {
        "id": "ask",
        "type": "approval",
        "prompt": "Import $input.n contacts?",
        "context": {"n": "$input.n"},
        "approvers": ["admin"],
        "on_reject": "rejected",
    },
    {"id": "approved", "type": "end", "result": "approved"},
    {"id": "rejected", "type": "end", "result": "rejected"},
)


async def test_approval_halts_then_approve_or_reject(store: wf.Store) -> None:
    engine = wf.Engine(wf.load(APPROVAL), store=store)
    first = await engine.run(input={"n": 12})
    assert first.status == "halted"
    assert first.halt is not None
    assert first.halt.prompt == "Import 12 contacts?"
    assert first.halt.data["type"] == "approval"
    assert first.halt.data["context"] == {"n": 12}
    assert first.halt.data["approvers"] == ["admin"]
    assert first.halt.resume_step == "ask"
    assert (await engine.resume(first.execution_id, approved=True)).output == "approved"
    second = await engine.run(input={"n": 1})
    assert (await engine.resume(second.execution_id, approved=False)).output == "rejected"


async def test_rejection_without_on_reject_fails_and_timeout_goes_to_on_timeout(store: wf.Store) -> None:
    document = doc(
        {"id": "ask", "type": "approval", "timeout": 0.05, "on_timeout": "late"},
        {"id": "late", "type": "end", "result": "late"},
    )
    document["steps"][1]["next"] = "__FINISHED__"
    engine = wf.Engine(wf.load(document), store=store)
    halted = await engine.run()
    await asyncio.sleep(0.1)
    assert (await engine.resume(halted.execution_id, approved=True)).output == "late"
    plain = wf.Engine(wf.load(doc({"id": "ask", "type": "approval"})), store=store)
    halted = await plain.run()
    result = await plain.resume(halted.execution_id, approved=False)
    assert result.status == "failed"
    assert result.error == "StepError: Rejected"


# -- transform / workflow ---------------------------------------------------------------------------


async def test_transform_applies_operations_to_a_context_value(store: wf.Store) -> None:
    document = doc(
        {
            "id": "people",
            "type": "assign",
            "set": {"people": [{"n": "b", "age": 3}, {"n": "a", "age": 1}, {"n": "b", "age": 3}]},
        },
        {
            "id": "names",
            "type": "transform",
            "input": "people",
            "expression": {"uniq": True, "sort": "n", "map": "n"},
            "output": "names",
        },
        {"id": "done", "type": "end", "result": "$names"},
    )
    assert (await run(store, document)).output == ["a", "b"]


async def test_sub_workflow_output_failure_and_halting_child(store: wf.Store) -> None:
    wf.register(wf.load(doc({"id": "double", "type": "end", "result": {"twice": "$input.n $input.n"}}, id="child")))
    wf.register(wf.load(doc({"id": "boom", "type": "call", "service": "missing"}, id="failing")))
    wf.register(
        wf.load(
            doc(
                {"id": "ask", "type": "approval", "prompt": "child asks"},
                {"id": "ok", "type": "end", "result": "child approved"},
                id="asking",
            )
        )
    )
    parent = doc(
        {"id": "sub", "type": "workflow", "workflow_id": "child", "input": {"n": "$input.n"}, "output": "sub"},
        {"id": "ask", "type": "workflow", "workflow_id": "asking", "output": "asked"},
        {"id": "done", "type": "end", "result": {"sub": "$sub", "asked": "$asked"}},
    )
    engine = wf.Engine(wf.load(parent), store=store)
    halted = await engine.run(input={"n": 2})
    assert halted.status == "halted"
    assert halted.halt is not None
    assert halted.halt.prompt == "child asks"
    child_id = halted.halt.data["child_execution_id"]
    child = await store.load(child_id)
    assert child is not None
    assert (child.workflow_id, child.status) == ("asking", "halted")
    done = await engine.resume(halted.execution_id, approved=True)
    assert done.output == {"sub": {"twice": "2 2"}, "asked": "child approved"}
    reloaded = await store.load(child_id)
    assert reloaded is not None
    assert reloaded.status == "completed"

    failing = wf.Engine(
        wf.load(doc({"id": "sub", "type": "workflow", "workflow_id": "failing"})),
        store=store,
        service_resolver=resolver(),
    )
    result = await failing.run()
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith("StepError: sub-workflow 'failing' failed: StepError: unknown service 'missing'")


async def test_a_workflow_step_run_again_starts_a_new_child_each_pass(store: wf.Store) -> None:
    """Each iteration of a loop (and each pass of a router's cycle) runs its own child with its own input: the
    child's id counts the step's earlier children, so it is no idempotency key repeating the first answer."""
    wf.register(wf.load(doc({"id": "echo", "type": "end", "result": {"x": "$input.x"}}, id="echo_child")))
    looping = doc(
        {
            "id": "each",
            "type": "loop",
            "over": [1, 2, 3],
            "do": [{"id": "sub", "type": "workflow", "workflow_id": "echo_child", "input": {"x": "$item"}}],
            "output": "outs",
        },
        {"id": "again", "type": "workflow", "workflow_id": "echo_child", "input": {"x": 4}, "output": "fourth"},
        {"id": "done", "type": "end", "result": {"outs": "$outs", "fourth": "$fourth"}},
    )
    result = await run(store, looping)
    assert result.output == {"outs": [{"x": 1}, {"x": 2}, {"x": 3}], "fourth": {"x": 4}}, result.error
    cycling = doc(
        {"id": "init", "type": "assign", "set": {"n": 1}},
        {"id": "sub", "type": "workflow", "workflow_id": "echo_child", "input": {"x": "$n"}, "output": "got"},
        {
            "id": "route",
            "type": "router",
            "routes": [
                {"when": {"field": "got.x", "op": "eq", "value": 1}, "then": "two"},
                {"when": {"field": "got.x", "op": "eq", "value": 2}, "then": "three"},
            ],
            "default": "done",
        },
        {"id": "two", "type": "assign", "set": {"first": "$got", "n": 2}, "next": "sub"},
        {"id": "three", "type": "assign", "set": {"second": "$got", "n": 3}, "next": "sub"},
        {"id": "done", "type": "end", "result": ["$first", "$second", "$got"]},
    )
    result = await run(store, cycling)
    assert result.output == [{"x": 1}, {"x": 2}, {"x": 3}], result.error


@pytest.mark.parametrize("nesting", ["loop", "parallel"])
async def test_a_sub_workflow_that_halts_inside_a_loop_or_a_branch_fails_the_step(
    store: wf.Store, nesting: str
) -> None:
    """A loop or the branches cannot wait for a child: the step fails, naming the child left halted, instead of
    going on as if the child had completed with nothing (its approval skipped)."""
    wf.register(wf.load(doc({"id": "ask", "type": "approval"}, {"id": "ok", "type": "end"}, id="asking_child")))
    step = {"id": "sub", "type": "workflow", "workflow_id": "asking_child"}
    nested: dict[str, Any] = (
        {"id": "outer", "type": "loop", "over": [1, 2], "do": [step]}
        if nesting == "loop"
        else {"id": "outer", "type": "parallel", "branches": [step, {"id": "other", "type": "assign", "set": {}}]}
    )
    result = await run(store, doc(nested, {"id": "done", "type": "end", "result": "went on"}))
    assert result.status == "failed", result
    assert result.error is not None
    assert result.error.startswith(
        "StepError: step 'outer:sub' halted inside a loop body or a parallel branch, where steps run to completion; "
        "its sub-workflow execution "
    ), result.error
    assert (await actions(store, result.execution_id))[-2:] == [("outer:sub", "failed"), ("outer", "failed")]


async def test_a_child_is_started_by_its_parents_requester_who_may_not_decide_its_approval(store: wf.Store) -> None:
    """The child's approval names the parent's requester (refused unless ``allow_requester``), as the parent's
    own approval would: without it the rule had no requester and whoever started the parent could decide."""
    wf.register(wf.load(doc({"id": "ask", "type": "approval"}, {"id": "ok", "type": "end"}, id="asked_child")))
    parent = wf.Engine(wf.load(doc({"id": "sub", "type": "workflow", "workflow_id": "asked_child"})), store=store)
    ada = "6a1e8d3c-0b1f-4c8e-9d2a-5f3b7c9e1a2d"
    halted = await parent.run(created_by_id=ada)
    assert halted.halt is not None
    assert halted.halt.data["child"]["rule"]["requester_id"] == ada
    child = await store.load(halted.halt.data["child_execution_id"])
    assert child is not None
    assert str(child.created_by_id) == ada


@pytest.mark.parametrize("checkpoint_every", [None, 1])
async def test_a_loop_gives_its_variables_back_the_values_they_hid(
    store: wf.Store, checkpoint_every: int | None
) -> None:
    """An inner loop's ``item``/``index`` hide the outer loop's while it runs, and a variable set before a loop
    keeps its value after it; a ``break_loop`` left by a foreach body does not stop a later while loop."""
    inner = {"id": "inner", "type": "loop", "over": "$item", "do": [{"id": "mk", "type": "assign", "set": {"v": 1}}]}
    outer: dict[str, Any] = {
        "id": "outer",
        "type": "loop",
        "over": "$input.rows",
        "do": [
            inner,
            {"id": "after", "type": "assign", "set": {"outer_item": "$item", "outer_index": "$index", "break_loop": 1}},
        ],
        "output": "seen",
    }
    if checkpoint_every is not None:
        outer["checkpoint_every"] = checkpoint_every
    document = doc(
        {"id": "before", "type": "assign", "set": {"item": "mine", "iteration": "kept", "n": 0}},
        outer,
        {
            "id": "count",
            "type": "loop",
            "while": {"field": "iteration", "op": "neq", "value": 3},
            "do": [{"id": "c", "type": "assign", "set": {"n": "$iteration"}}],
            "output": "counted",
        },
        {
            "id": "done",
            "type": "end",
            "result": {"seen": "$seen", "item": "$item", "iteration": "$iteration", "n": "$n"},
        },
    )
    result = await run(store, document, {"rows": [["a", "b"], ["c"]]})
    seen = [{"outer_item": ["a", "b"], "outer_index": 0}, {"outer_item": ["c"], "outer_index": 1}]
    assert result.output == {
        "seen": [{**row, "break_loop": 1} for row in seen],
        "item": "mine",
        "iteration": "kept",
        "n": 3,
    }, result.error


@pytest.mark.parametrize(
    ("who", "quorum", "problem"),
    [
        ([], 1, "no approver: nobody could decide"),
        (["bob@example.com"], 2, "2 approvals can never be reached: only 1 distinct approver(s) are named"),
        (
            ["ada@example.com", "ADA@example.com"],
            2,
            "2 approvals can never be reached: only 1 distinct approver(s) are named",
        ),
    ],
)
async def test_approvers_that_resolve_to_too_few_people_fail_instead_of_waiting_forever(
    store: wf.Store, who: list[str], quorum: int, problem: str
) -> None:
    document = doc({"id": "ask", "type": "approval", "approvers": ["$input.who"], "quorum": quorum})
    result = await run(store, document, {"who": who})
    assert result.status == "failed"
    assert result.error == f"StepValueError: step 'ask' field 'approvers' resolved to {who!r}: " + problem + (
        " (add approvers, a role, or leave approvers out)"
        if not who
        else " (add approvers, a role, or lower the quorum)"
    )
    plenty = await run(store, document, {"who": [*who, "role:admin", "cy@example.com", "dan@example.com"]})
    assert plenty.status == "halted"


# -- engine rules --------------------------------------------------------------------------------


async def test_on_error_stores_last_error_and_jumps(store: wf.Store) -> None:
    document = doc(
        {
            "id": "boom",
            "type": "call",
            "service": "svc",
            "method": "fail_times",
            "input": {"times": 9},
            "on_error": "rescue",
        },
        {"id": "never", "type": "end", "result": "never"},
        {"id": "rescue", "type": "end", "result": "$_last_error"},
    )
    result = await run(store, document, svc=Recorder())
    assert result.output == {"step": "boom", "message": "attempt 1 failed", "class": "RuntimeError"}
    assert ("boom", "failed") in await actions(store, result.execution_id)


async def test_a_failing_step_fails_the_execution_without_raising(store: wf.Store) -> None:
    result = await run(
        store,
        doc({"id": "boom", "type": "call", "service": "svc", "method": "fail_times", "input": {"times": 9}}),
        svc=Recorder(),
    )
    assert result.status == "failed"
    assert result.error == "RuntimeError: attempt 1 failed"
    execution = await store.load(result.execution_id)
    assert execution is not None
    assert (execution.status, execution.error) == ("failed", "RuntimeError: attempt 1 failed")


async def test_execution_id_is_an_idempotency_key(store: wf.Store) -> None:
    recorder = Recorder()
    engine = wf.Engine(
        wf.load(doc({"id": "c", "type": "call", "service": "svc", "method": "nothing", "output": "r"})),
        store=store,
        service_resolver=resolver(svc=recorder),
    )
    key = "3c1d4bb2-6f0e-4a43-9a57-3b1c0d3f6a21"
    first = await engine.run(execution_id=key)
    second = await engine.run(execution_id=key)
    assert first == second
    assert first.execution_id == key
    assert len(recorder.calls) == 1


async def test_workflow_timeout_fails_the_execution(store: wf.Store) -> None:
    document = doc(
        {"id": "slow", "type": "call", "service": "svc", "method": "slow", "input": {"seconds": 5}}, timeout=0.1
    )
    result = await run(store, document, svc=Recorder())
    assert result.status == "failed"
    assert result.error == "Workflow timeout after 0.1s"


async def test_output_over_the_size_cap_fails_the_step_naming_it_and_is_not_retried(store: wf.Store) -> None:
    recorder = Recorder()
    document = doc(
        {"id": "huge", "type": "call", "service": "svc", "method": "big", "input": {"size": 2000}, "retries": 3}
    )
    engine = wf.Engine(wf.load(document), store=store, service_resolver=resolver(svc=recorder), max_state_bytes=1000)
    result = await engine.run()
    assert result.status == "failed"
    assert result.error == "StepValueError: step 'huge': output is 2002 bytes, over the limit of 1000 bytes"
    assert recorder.calls == [2000]


async def test_default_size_cap_is_one_mebibyte(store: wf.Store) -> None:
    assert wf.DEFAULT_MAX_STATE_BYTES == 1024 * 1024
    recorder = Recorder()
    document = doc({"id": "huge", "type": "call", "service": "svc", "method": "big", "input": {"size": 1024 * 1024}})
    result = await run(store, document, svc=recorder)
    assert result.status == "failed"
    assert "over the limit of 1048576 bytes" in (result.error or "")


async def test_every_step_boundary_is_recorded_in_order(store: wf.Store) -> None:
    document = doc({"id": "a", "type": "assign", "set": {"x": 1}}, {"id": "done", "type": "end"})
    result = await run(store, document)
    assert await actions(store, result.execution_id) == [
        ("start", "started"),
        ("start", "completed"),
        ("a", "started"),
        ("a", "completed"),
        ("done", "started"),
        ("done", "completed"),
    ]
    entries = await store.entries(result.execution_id)
    assert all(entry.duration_ms is not None for entry in entries if entry.action == "completed")


async def test_special_references(store: wf.Store) -> None:
    document = doc(
        {"id": "a", "type": "assign", "set": {"now": "$now", "id": "$execution.id", "steps": "$history"}},
        {"id": "done", "type": "end"},
    )
    result = await run(store, document)
    assert result.output["id"] == result.execution_id
    assert result.output["now"].endswith("+00:00")
    assert [h["step_id"] for h in result.output["steps"]] == ["start", "start", "a"]


async def test_execution_references_give_a_stable_idempotency_key_per_step(store: wf.Store) -> None:
    document = doc(
        {"id": "a", "type": "assign", "set": {"key": "$execution.idempotency_key", "step": "$execution.step_id"}},
        {
            "id": "each",
            "type": "loop",
            "over": [1],
            "do": [{"id": "inner", "type": "assign", "set": {"inner_key": "$execution.idempotency_key"}}],
            "output": "looped",
        },
        {"id": "done", "type": "end", "result": {"key": "$key", "step": "$step", "inner": "$looped.0.inner_key"}},
    )
    result = await run(store, document)
    assert result.output == {
        "key": f"{result.execution_id}:a",
        "step": "a",
        "inner": f"{result.execution_id}:each:inner",
    }


async def test_configure_sets_defaults_and_engine_needs_a_store(store: wf.Store) -> None:
    definition = wf.load(doc({"id": "c", "type": "call", "service": "svc", "method": "nothing"}))
    with pytest.raises(wf.ConfigError, match="no store"):
        wf.Engine(definition)
    wf.configure(store=store, service_resolver=resolver(svc=Recorder()))
    assert (await wf.Engine(definition).run()).status == "completed"
    wf.configure(store=store)
    assert (await wf.Engine(definition).run()).status == "failed"


async def test_registry_and_error_hierarchy() -> None:
    definition = wf.register(wf.load(doc({"id": "done", "type": "end"}, id="named")))
    assert wf.registry["named"] is definition
    assert wf.register(wf.load(doc({"id": "done", "type": "end"}, id="named", name="Again"))).name == "Again"
    assert wf.registry["named"].name == "Again"
    assert issubclass(wf.ValidationError, wf.Error)
    assert issubclass(wf.ConfigError, wf.Error)
    assert issubclass(wf.ExecutionError, wf.Error)
    assert (definition.id, definition.name, definition.version) == ("named", "Test", "1.0")
    assert definition.steps[0].id == "start"


# -- runners ---------------------------------------------------------------------------------------


async def test_sync_runner_run_until_complete_answers_halts(store: wf.Store) -> None:
    document = doc(
        {"id": "ask", "type": "approval", "prompt": "ok?"},
        {"id": "name", "type": "halt", "reason": "name please"},
        {"id": "done", "type": "end", "result": "$response"},
    )
    runner = wf.SyncRunner(wf.load(document), store=store)
    seen: list[str] = []

    async def answer(halt: wf.HaltResult) -> Any:
        seen.append(str(halt.data.get("reason") or halt.prompt))
        return True if halt.prompt else {"name": "Ada"}

    result = await runner.run_until_complete(on_halt=answer)
    assert result.status == "completed"
    assert result.output == {"name": "Ada"}
    assert seen == ["ok?", "name please"]
    assert (await runner.run_until_complete()).status == "halted"


async def test_stream_runner_emits_the_events_of_section_6(store: wf.Store) -> None:
    document = doc(
        {"id": "wait", "type": "halt"},
        {"id": "boom", "type": "call", "service": "none"},
    )
    runner = wf.StreamRunner(wf.load(document), store=store)
    events: list[wf.Event] = []
    only_workflow: list[str] = []
    runner.subscribe(events.append)

    async def async_handler(event: wf.Event) -> None:
        only_workflow.append(event.type)

    runner.subscribe(async_handler, events=["workflow.halted", "workflow.failed"])
    halted = await runner.run()
    await runner.resume(halted.execution_id)
    types = [event.type for event in events]
    assert types == [
        "workflow.started",
        "step.started",
        "step.completed",
        "step.started",
        "step.halted",
        "workflow.halted",
        "workflow.resumed",
        "step.started",
        "step.failed",
        "workflow.failed",
    ]
    assert set(types) <= set(wf.EVENT_TYPES)
    assert only_workflow == ["workflow.halted", "workflow.failed"]
    event = events[0]
    assert msgspec.json.decode(event.to_json())["type"] == "workflow.started"
    assert event.to_sse().startswith("event: workflow.started\ndata: {")
    assert event.to_sse().endswith("\n\n")


# -- extensions ------------------------------------------------------------------------------------


class ShoutConfig(msgspec.Struct, forbid_unknown_fields=True):
    text: str
    output: str | None = None


class Shout(wf.StepExecutor):
    type_name = "shout"

    async def call(self, state: Any) -> Any:
        loud = str(self.resolve(state, self.settings.text)).upper()
        self.store(state, self.settings.output, loud)
        return self.continue_(output=loud)


async def test_registered_step_types_run(store: wf.Store) -> None:
    wf.register_step_type("shout", Shout, ShoutConfig)
    try:
        document = doc(
            {"id": "s", "type": "shout", "text": "hi $input.who", "output": "loud"},
            {"id": "done", "type": "end", "result": "$loud"},
        )
        assert (await run(store, document, {"who": "ada"})).output == "HI ADA"
        with pytest.raises(wf.ValidationError, match="step 's' field 'text' is required"):
            wf.load(doc({"id": "s", "type": "shout"}))
    finally:
        wf.step_types.unregister("shout")
