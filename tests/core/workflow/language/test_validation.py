"""Validation at load time (docs/workflow-language.md, section 7).

A corpus of malformed documents, valid documents, sources and hooks.

Every file of ``tests/core/workflow/language/bad/`` holds one problem and starts with ``# expect: <text>`` lines;
each text must appear in one of the problems, and a file yields exactly as many problems as it has expect lines (no
cascade of follow-up noise). Step-level expect lines start with ``step '<id>'`` so that naming the step is checked too.
"""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import msgspec
import pytest
import yaml

from packs.core import workflow as wf
from packs.core.workflow.state import RunState

BAD = Path(__file__).parent / "bad"
CORPUS = sorted(BAD.glob("*.yml"))
EXPECT = "# expect:"

# Every problem starts by saying where it is: a step, a step position, an input, the workflow or the document.
LOCATORS = ("step '", "steps[", "input '", "workflow field ", "unknown top-level key ", "the document ", "YAML ")


def expectations(path: Path) -> list[str]:
    """The ``# expect:`` texts at the top of a corpus file."""
    found: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith(EXPECT):
            break
        found.append(line[len(EXPECT) :].strip())
    return found


def problems_of(source: str | Path | dict[str, Any]) -> list[str]:
    """The problems ``wf.load(source)`` reports (the test fails when it loads)."""
    with pytest.raises(wf.ValidationError) as caught:
        wf.load(source)
    return caught.value.problems


def dedent(text: str) -> str:
    """``text`` dedented (the documents below are indented with the code)."""
    return textwrap.dedent(text).lstrip("\n")


def steps_yaml(steps: str) -> str:
    """A document ``valid`` with the given (indented) ``steps:`` list."""
    return "id: valid\nname: Valid\nsteps:\n" + textwrap.indent(dedent(steps), "  ")


def problems_after(document: str, replacements: dict[str, str]) -> list[str]:
    """The problems of the ``steps:`` list ``document`` once each text is replaced (each must be in it)."""
    for old, new in replacements.items():
        assert old in document, old
        document = document.replace(old, new)
    return problems_of(steps_yaml(document))


def assert_problems(problems: list[str], starts: list[str]) -> None:
    """``problems`` are as many as ``starts``, each beginning with its text."""
    assert len(problems) == len(starts), problems
    for problem, start in zip(problems, starts, strict=True):
        assert problem.startswith(start), problem


# --- the corpus of malformed documents ---------------------------------------------------------------------------


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 35
    assert all(path.suffix == ".yml" for path in CORPUS)


@pytest.mark.parametrize("path", CORPUS, ids=[path.stem for path in CORPUS])
def test_each_malformed_document_is_rejected_with_its_problem(path: Path) -> None:
    expected = expectations(path)
    assert expected, f"{path.name} must start with at least one '{EXPECT} <text>' line"
    with pytest.raises(wf.ValidationError) as caught:
        wf.load(path)
    error = caught.value
    problems = error.problems
    for text in expected:
        assert any(text in problem for problem in problems), f"{text!r} is in none of {problems}"
    assert len(problems) == len(expected), f"unexpected extra problems: {problems}"
    for problem in problems:
        assert problem.startswith(LOCATORS), f"the problem does not say where it is: {problem!r}"
    assert error.source == str(path)
    assert str(path) in str(error)


@pytest.mark.parametrize("path", CORPUS, ids=[path.stem for path in CORPUS])
def test_step_level_problems_name_the_step(path: Path) -> None:
    """A problem about a step names it (``step '<id>'``); the expect line says which step."""
    for text in expectations(path):
        if not text.startswith("step '"):
            continue
        step_id = text.split("'")[1]
        assert f"id: {step_id}" in path.read_text(encoding="utf-8"), f"{path.name}: no step {step_id!r} in the file"
        problems = problems_of(path)
        assert any(problem.startswith(f"step {step_id!r}") and text in problem for problem in problems)


def test_the_corpus_covers_every_rule_of_section_7() -> None:
    names = {path.stem for path in CORPUS}
    for required in (
        "duplicate_step_ids",
        "unknown_step_type",
        "unknown_step_key",
        "unknown_top_level_key",
        "next_to_unknown_step",
        "on_error_to_unknown",
        "router_route_to_unknown",
        "router_default_to_unknown",
        "loop_on_exhausted_to_unknown",
        "resume_step_unknown",
        "approval_on_reject_to_unknown",
        "approval_on_timeout_to_unknown",
        "unreachable_step",
        "reference_never_set",
        "loop_variable_outside_body",
        "last_error_outside_on_error",
        "response_before_halt",
        "output_schema_unknown_property",
        "invalid_matches_pattern",
        "halt_in_loop_body",
        "approval_in_parallel_branch",
        "not_a_mapping",
        "yaml_syntax_error",
    ):
        assert required in names


# --- all problems together, sources --------------------------------------------------------------------------


def test_all_problems_are_reported_together() -> None:
    document = dedent(
        """
        id: many_problems
        name: Many problems
        owner: someone
        steps:
          - id: start
            type: start
            next: nowhere
          - id: notify
            type: email
          - id: start
            type: call
            service: crm
            retries: lots
          - id: orphan
            type: assign
            set: {a: 1}
        """
    )
    problems = problems_of(document)
    assert len(problems) >= 4
    for text in (
        "unknown top-level key 'owner'",
        "step 'notify' field 'type': unknown step type 'email'",
        "step 'start' field 'retries'",
        "step 'start' field 'id': duplicate step id",
        "step 'start' field 'next': no step 'nowhere'",
        "step 'orphan': unreachable",
    ):
        assert any(text in problem for problem in problems), f"{text!r} is in none of {problems}"


def test_every_problem_is_in_the_error_message() -> None:
    with pytest.raises(wf.ValidationError) as caught:
        wf.load(steps_yaml("- {id: a, type: assign, set: {x: 1}, next: b}\n- {id: c, type: end}\n"))
    message = str(caught.value)
    assert len(caught.value.problems) == 2
    for problem in caught.value.problems:
        assert problem in message
    assert isinstance(caught.value, wf.Error)


def test_the_error_names_the_file_when_loading_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    path.write_text(steps_yaml("- {id: a, type: bogus}\n"), encoding="utf-8")
    for source in (path, str(path)):
        with pytest.raises(wf.ValidationError) as caught:
            wf.load(source)
        assert str(path) in str(caught.value)
        assert caught.value.source == str(path)
        assert any("step 'a' field 'type'" in problem for problem in caught.value.problems)


def test_a_yaml_syntax_error_from_a_path_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "syntax.yaml"
    path.write_text("id: [\n", encoding="utf-8")
    with pytest.raises(wf.ValidationError) as caught:
        wf.load(path)
    assert str(path) in str(caught.value)
    assert caught.value.problems[0].startswith("YAML syntax error")


def test_a_yaml_syntax_error_names_the_file_in_its_position_too(tmp_path: Path) -> None:
    path = tmp_path / "syntax.yaml"
    path.write_text("id: x\nname: [unclosed\n", encoding="utf-8")
    with pytest.raises(wf.ValidationError) as caught:
        wf.load(path)
    assert f'in "{path}", line 2' in caught.value.problems[0]
    assert "<unicode string>" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "key", "lines"),
    [
        ("id: d\nname: first\nname: second\nsteps: []\n", "name", (2, 3)),
        (
            "id: d\nname: n\nsteps:\n  - id: start\n    type: start\n    next: a\n    next: done\n"
            "  - id: done\n    type: end\n",
            "next",
            (6, 7),
        ),
        (  # a flow mapping: both on one line
            "id: d\nname: n\nsteps:\n  - {id: start, type: start, next: a, next: done}\n  - {id: done, type: end}\n",
            "next",
            (4, 4),
        ),
    ],
)
def test_a_key_written_twice_in_one_mapping_is_a_yaml_error_naming_it(
    tmp_path: Path, text: str, key: str, lines: tuple[int, int]
) -> None:
    """PyYAML kept the last one silently (a step's second ``next`` won)."""
    path = tmp_path / "twice.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(wf.ValidationError) as caught:
        wf.load(path)
    [problem] = caught.value.problems
    assert problem.startswith("YAML syntax error")
    assert f"found the key {key!r} twice (first on line {lines[0]}" in problem
    assert f'in "{path}", line {lines[1]}' in problem


def test_a_merge_key_still_overrides_what_it_merges() -> None:
    definition = wf.load(
        "id: m\nname: m\nsteps:\n  - &first {id: start, type: start, next: done}\n"
        "  - <<: *first\n    id: done\n    type: end\n    next: null\n"
    )
    assert [(step.id, step.type, step.next) for step in definition.steps] == [
        ("start", "start", "done"),
        ("done", "end", None),
    ]


@pytest.mark.parametrize(
    ("signal", "problem"),
    [
        ("", "must not be empty or only whitespace"),
        ("  ", "must not be empty or only whitespace"),
        ("paid\nlate", "must not contain control characters"),
        ("x" * 201, "must be 1 to 200 characters, got 201"),
    ],
)
def test_a_receive_of_a_signal_no_sender_can_send_is_refused(signal: str, problem: str) -> None:
    document = {
        "id": "r",
        "name": "r",
        "steps": [
            {"id": "start", "type": "start", "next": "paid"},
            {"id": "paid", "type": "receive", "signal": signal, "next": "done"},
            {"id": "done", "type": "end"},
        ],
    }
    with pytest.raises(wf.ValidationError) as caught:
        wf.load(document)
    [found] = caught.value.problems
    assert found.startswith("step 'paid' field 'signal': the signal name ")
    assert problem in found


def test_a_missing_file_is_a_validation_error(tmp_path: Path) -> None:
    path = tmp_path / "missing.yml"
    with pytest.raises(wf.ValidationError) as caught:
        wf.load(path)
    assert str(path) in str(caught.value)


def test_text_loaded_without_a_path_has_no_source() -> None:
    with pytest.raises(wf.ValidationError) as caught:
        wf.load(steps_yaml("- {id: a, type: bogus}\n"))
    assert caught.value.source is None


def test_a_non_mapping_value_is_rejected_not_crashed_on() -> None:
    assert "got a list" in problems_of(cast(Any, [{"id": "a", "type": "end"}]))[0]


MINIMAL = steps_yaml(
    """
    - id: start
      type: start
      next: done
    - id: done
      type: end
      result: $input.name
    """
)


def test_load_accepts_yaml_text_str_path_pathlib_path_and_dict(tmp_path: Path) -> None:
    path = tmp_path / "minimal.yml"
    path.write_text(MINIMAL, encoding="utf-8")
    document = yaml.safe_load(MINIMAL)
    untouched = yaml.safe_load(MINIMAL)
    loaded = [wf.load(MINIMAL), wf.load(str(path)), wf.load(path), wf.load(document)]
    assert document == untouched, "load must not modify the dict it is given"
    for definition in loaded:
        assert isinstance(definition, wf.WorkflowDef)
        assert definition.id == "valid"
        assert definition.name == "Valid"
        assert definition.version == "1.0"
        assert [step.id for step in definition.steps] == ["start", "done"]
        assert definition.steps[0].next == "done"
        assert definition.steps[1].config == {"result": "$input.name"}
    assert loaded[1].source == loaded[2].source == str(path)


# --- valid documents ---------------------------------------------------------------------------------------------

EVERY_STEP_TYPE = dedent(
    """
    id: every_step_type
    name: Every step type
    version: "2.1"
    description: One of each step type of docs/workflow-language.md, section 4.
    timeout: 60
    inputs:
      contacts:
        type: array
        items: {type: object}
      mode:
        type: string
        required: false
        default: fast
        enum: [fast, slow]
    steps:
      - id: start
        type: start
        validate_input: true
        next: prepare
      - id: prepare
        type: assign
        set:
          total: 0
          label: "Total: $total."
        next: fetch
      - id: fetch
        type: call
        service: crm
        method: list_contacts
        input: {mode: $input.mode}
        output:
          key: listing
          schema:
            type: object
            properties:
              items: {type: array, items: {type: object, properties: {email: {type: string}}}}
              count: {type: integer}
        timeout: 5
        retries: 2
        retry_delay: 0.5
        retry_backoff: 2
        on_error: failed
        next: route
      - id: route
        type: router
        routes:
          - when: {field: listing.count, op: gt, value: 0}
            then: each
          - when: {field: input.mode, op: matches, value: "^(fast|slow)$"}
            then: poll
        default: done
      - id: each
        type: loop
        over: $listing.items
        as: contact
        index_as: position
        max: 50
        output: emails
        do:
          - id: email_of
            type: assign
            set: {email: $contact.email, at: $position}
        next: poll
      - id: poll
        type: loop
        while: {field: ready, op: falsy}
        max: 3
        on_exhausted: done
        do:
          - id: check
            type: call
            service: crm
            method: ready
            input: {attempt: $iteration}
            output: ready
        next: fan_out
      - id: fan_out
        type: parallel
        wait: 1
        output: branch_results
        branches:
          - {id: left, type: assign, set: {left: true}}
          - {id: right, type: transform, input: emails, expression: {compact: true, count: true}, output: n}
        next: shape
      - id: shape
        type: transform
        input: listing
        expression: {pick: [items], values: true, flatten: 1}
        output: flat
        next: ask
      - id: ask
        type: halt
        reason: "Please confirm $total"
        data: {count: $listing.count}
        resume_step: sign_off
      - id: sign_off
        type: approval
        prompt: "Approve $response?"
        context: {emails: $emails}
        approvers: [admin]
        timeout: 3600
        on_reject: failed
        on_timeout: failed
        next: child
      - id: child
        type: workflow
        workflow_id: create_contact
        input: {contacts: $flat, approved: $approved}
        output: child_result
        timeout: 10
        next: done
      - id: done
        type: end
        result: {child: $child_result, emails: $emails, flat: $flat}
      - id: failed
        type: end
        result: {error: $_last_error.message}
    """
)

SECTION_4_TYPES = {
    "start",
    "end",
    "assign",
    "call",
    "router",
    "loop",
    "parallel",
    "halt",
    "approval",
    "transform",
    "workflow",
}


def test_a_document_with_every_step_type_is_valid() -> None:
    definition = wf.load(EVERY_STEP_TYPE)
    assert {step.type for step in definition.walk()} == SECTION_4_TYPES
    assert definition.version == "2.1"
    assert definition.timeout == 60
    assert definition.inputs["mode"].required is False
    assert definition.inputs["mode"].default == "fast"
    assert definition.inputs["contacts"].required is True
    loop = definition.step("each")
    assert [child.id for child in loop.children] == ["email_of"]
    assert [child.id for child in definition.step("fan_out").children] == ["left", "right"]
    assert loop.settings.as_ == "contact"


def test_references_set_on_either_route_are_visible_after_the_join() -> None:
    document = dedent(
        """
        - id: route
          type: router
          routes:
            - when: {field: input.kind, op: eq, value: person}
              then: person
          default: company
        - id: person
          type: assign
          set: {person_id: 1}
          next: join
        - id: company
          type: assign
          set: {company_id: 2}
          next: join
        - id: join
          type: end
          result: {person: $person_id, company: $company_id}
        """
    )
    definition = wf.load(steps_yaml(document))
    assert [step.id for step in definition.walk()] == ["route", "person", "company", "join"]
    # Set on no route, the reference is rejected: the check that accepts the document is at work.
    problems = problems_after(document, {"set: {company_id: 2}": "set: {other_id: 2}"})
    assert_problems(problems, ["step 'join' field 'result': references $company_id,"])


def test_last_error_is_visible_in_the_on_error_target_and_after_it() -> None:
    document = dedent(
        """
        - id: fetch
          type: call
          service: crm
          on_error: recover
          next: done
        - id: recover
          type: assign
          set: {problem: "$_last_error.step failed: $_last_error.message ($_last_error.class)"}
          next: report
        - id: report
          type: end
          result: $_last_error
        - id: done
          type: end
        """
    )
    definition = wf.load(steps_yaml(document))
    assert [step.id for step in definition.walk()] == ["fetch", "recover", "report", "done"]
    # On the normal path instead, $_last_error is rejected: the check that accepts the document is at work.
    problems = problems_after(document, {"on_error: recover": "on_error: done", "next: done": "next: recover"})
    assert_problems(
        problems,
        [
            "step 'recover' field 'set.problem': references $_last_error.step,",
            "step 'recover' field 'set.problem': references $_last_error.message,",
            "step 'recover' field 'set.problem': references $_last_error.class,",
            "step 'report' field 'result': references $_last_error,",
        ],
    )


def test_last_error_is_not_visible_on_the_normal_path() -> None:
    problems = problems_of(
        steps_yaml(
            """
            - id: fetch
              type: call
              service: crm
              on_error: recover
              next: done
            - id: recover
              type: end
            - id: done
              type: end
              result: $_last_error
            """
        )
    )
    assert len(problems) == 1
    assert problems[0].startswith("step 'done' field 'result': references $_last_error")


def test_response_and_approved_are_visible_after_halt_and_approval() -> None:
    document = dedent(
        """
        - id: ask
          type: halt
          reason: question
          next: use_answer
        - id: use_answer
          type: assign
          set: {answer: $response.text}
          next: sign_off
        - id: sign_off
          type: approval
          prompt: "OK with $answer?"
          on_reject: rejected
          next: approved
        - id: approved
          type: end
          result: {approved: $approved, response: $response}
        - id: rejected
          type: end
          result: $approved
        """
    )
    definition = wf.load(steps_yaml(document))
    assert [step.id for step in definition.walk()] == ["ask", "use_answer", "sign_off", "approved", "rejected"]
    # Without the halt, $response is rejected: the check that accepts the document is at work.
    problems = problems_after(document, {"type: halt": "type: assign", "reason: question": "set: {asked: true}"})
    assert_problems(problems, ["step 'use_answer' field 'set.answer': references $response.text,"])


def test_loop_variables_are_visible_inside_the_body_only() -> None:
    wf.load(
        steps_yaml(
            """
            - id: each
              type: loop
              over: $input.contacts
              as: contact
              index_as: i
              output: results
              do:
                - {id: first, type: assign, set: {email: $contact.email, at: $i}}
                - id: inner
                  type: loop
                  over: $contact.tags
                  do:
                    - {id: tag, type: assign, set: {pair: "$contact.email/$item/$index/$i"}}
              next: done
            - id: done
              type: end
              result: {results: $results, last: $email}
            """
        )
    )
    problems = problems_of(
        steps_yaml(
            """
            - id: each
              type: loop
              over: $input.contacts
              as: contact
              index_as: i
              do:
                - {id: first, type: assign, set: {email: $contact.email}}
              next: done
            - id: done
              type: end
              result: [$contact, $i]
            """
        )
    )
    assert len(problems) == 2
    assert all(problem.startswith("step 'done' field 'result'") for problem in problems)


def test_a_variable_set_before_a_loop_with_the_same_name_as_its_item_is_there_after_it() -> None:
    """The engine gives ``as``/``index_as`` back the values they hid after the loop; one set only by the loop
    is removed."""
    problems = problems_of(
        steps_yaml(
            """
            - id: before
              type: assign
              set: {item: 1}
              next: each
            - id: each
              type: loop
              over: [1, 2]
              do:
                - {id: body, type: assign, set: {seen: $item}}
              next: after
            - id: after
              type: end
              result: [$item, $index]
            """
        )
    )
    assert len(problems) == 1
    assert problems[0].startswith("step 'after' field 'result': references $index")


def test_iteration_is_visible_inside_a_while_body() -> None:
    document = dedent(
        """
        - id: poll
          type: loop
          while: {field: input.more, op: truthy}
          do:
            - {id: tick, type: assign, set: {tried: $iteration, label: "try $iteration"}}
          next: done
        - id: done
          type: end
          result: $tried
        """
    )
    definition = wf.load(steps_yaml(document))
    assert [step.id for step in definition.walk()] == ["poll", "tick", "done"]
    # In a loop over a list instead, $iteration is rejected: the check that accepts the document is at work.
    problems = problems_after(document, {"while: {field: input.more, op: truthy}": "over: [1, 2]"})
    assert_problems(
        problems,
        [
            "step 'tick' field 'set.tried': references $iteration,",
            "step 'tick' field 'set.label': references $iteration,",
        ],
    )


def test_a_while_condition_and_the_body_see_what_the_body_sets() -> None:
    """The body runs again after itself: the condition and earlier body steps may see later body steps' values."""
    document = dedent(
        """
        - id: poll
          type: loop
          while: {field: status.done, op: falsy, value: $limit}
          do:
            - {id: check, type: assign, set: {previous: $status}}
            - {id: update, type: assign, set: {status: {done: true}, limit: 3}}
        """
    )
    definition = wf.load(steps_yaml(document))
    assert [step.id for step in definition.walk()] == ["poll", "check", "update"]
    # Set by no step of the body, the condition's reference is rejected: the check that accepts the document is at work.
    problems = problems_after(document, {", limit: 3}": "}"})
    assert_problems(problems, ["step 'poll' field 'while': references $limit,"])


def test_input_now_history_and_execution_are_always_available() -> None:
    document = dedent(
        """
        - id: first
          type: assign
          set:
            who: $input.user.name
            when: $now
            trail: $history
            key: "$execution.id-first"
            everything: $input
          next: route
        - id: route
          type: router
          routes:
            - when: {field: execution.id, op: exists}
              then: __FINISHED__
            - when: {field: history.0.step_id, op: eq, value: $input.expected}
              then: __FINISHED__
          default: __FINISHED__
        """
    )
    definition = wf.load(steps_yaml(document))
    assert [step.id for step in definition.walk()] == ["first", "route"]
    # A name that is not one of them is rejected: the check that accepts the document is at work.
    problems = problems_after(document, {"who: $input.user.name": "who: $inputs.user.name"})
    assert_problems(problems, ["step 'first' field 'set.who': references $inputs.user.name,"])


def test_a_matches_pattern_with_a_dollar_is_not_a_reference() -> None:
    definition = wf.load(
        steps_yaml(
            r"""
            - id: route
              type: router
              routes:
                - when: {field: input.price, op: matches, value: '^\$[0-9]+$'}
                  then: __FINISHED__
                - when: {field: input.note, op: matches, value: 'costs \$amount'}
                  then: __FINISHED__
              default: next_one
            - id: next_one
              type: loop
              while: {field: input.code, op: matches, value: '\$total\.'}
              do:
                - {id: tick, type: assign, set: {ticked: true}}
            """
        )
    )
    assert definition.step("route").config["routes"][1]["when"]["value"] == r"costs \$amount"


def test_a_step_reachable_only_as_a_resume_step_is_reachable() -> None:
    document = dedent(
        """
        - id: ask
          type: halt
          reason: question
          resume_step: answer
        - id: answer
          type: end
          result: $response
        """
    )
    definition = wf.load(steps_yaml(document))
    assert [step.id for step in definition.walk()] == ["ask", "answer"]
    # When the halt resumes elsewhere, the step is unreachable: the check that accepts the document is at work.
    problems = problems_after(document, {"resume_step: answer": "resume_step: __FINISHED__"})
    assert_problems(problems, ["step 'answer': unreachable"])


def test_finished_is_a_valid_target_everywhere() -> None:
    document = dedent(
        """
        - id: fetch
          type: call
          service: crm
          on_error: __FINISHED__
          next: route
        - id: route
          type: router
          routes:
            - when: {field: input.a, op: truthy}
              then: __FINISHED__
          default: poll
        - id: poll
          type: loop
          while: {field: input.b, op: truthy}
          on_exhausted: __FINISHED__
          do:
            - {id: tick, type: assign, set: {t: 1}}
          next: ask
        - id: ask
          type: halt
          resume_step: __FINISHED__
          next: sign_off
        - id: sign_off
          type: approval
          on_reject: __FINISHED__
          on_timeout: __FINISHED__
          timeout: 60
          next: __FINISHED__
        """
    )
    definition = wf.load(steps_yaml(document))
    assert [step.id for step in definition.walk()] == ["fetch", "route", "poll", "tick", "ask", "sign_off"]
    # A target that is neither a step nor __FINISHED__ is rejected: the check that accepts the document is at work.
    problems = problems_after(document, {"resume_step: __FINISHED__": "resume_step: __finished__"})
    assert_problems(problems, ["step 'ask' field 'resume_step': no step '__finished__'"])


def test_references_through_a_declared_output_schema() -> None:
    document = dedent(
        """
        - id: fetch
          type: call
          service: crm
          output:
            key: contact
            schema:
              $defs:
                address: {type: object, properties: {city: {type: string}}}
              type: object
              properties:
                emails: {type: array, items: {type: object, properties: {value: {type: string}}}}
                address: {$ref: "#/$defs/address"}
                extra: {type: object}
          next: use
        - id: use
          type: assign
          set:
            first: $contact.emails.0.value
            anything: $contact.extra.whatever.deep
            address: $contact.address.city
        """
    )
    definition = wf.load(steps_yaml(document))
    assert [step.id for step in definition.walk()] == ["fetch", "use"]
    # A property the schema does not have is rejected: the check that accepts the document is at work.
    problems = problems_after(document, {"first: $contact.emails.0.value": "first: $contact.emails.0.valeu"})
    assert_problems(
        problems, ["step 'use' field 'set.first': references $contact.emails.0.valeu, but the output schema"]
    )


def test_an_untyped_setter_of_the_same_variable_lifts_the_schema_check() -> None:
    document = dedent(
        """
        - id: fetch
          type: call
          service: crm
          output:
            key: contact
            schema: {type: object, properties: {name: {type: string}}}
          on_error: fallback
          next: use
        - id: fallback
          type: assign
          set: {contact: {nickname: x}}
          next: use
        - id: use
          type: end
          result: $contact.nickname
        """
    )
    definition = wf.load(steps_yaml(document))
    assert [step.id for step in definition.walk()] == ["fetch", "fallback", "use"]
    # When the other step sets another variable, the schema applies: the check that accepts the document is at work.
    problems = problems_after(document, {"set: {contact: {nickname: x}}": "set: {other: {nickname: x}}"})
    assert_problems(
        problems, ["step 'use' field 'result': references $contact.nickname, but the output schema of $contact"]
    )


def test_a_loop_output_and_parallel_output_are_visible_after_them() -> None:
    document = dedent(
        """
        - id: fan_out
          type: parallel
          wait: any
          output: results
          branches:
            - {id: a, type: assign, set: {from_a: 1}}
            - {id: b, type: workflow, workflow_id: child, output: from_b}
          next: each
        - id: each
          type: loop
          over: $results
          output: doubled
          do:
            - {id: double, type: transform, input: item, expression: {first: 1}}
          next: done
        - id: done
          type: end
          result: [$results, $doubled, $from_a, $from_b]
        """
    )
    definition = wf.load(steps_yaml(document))
    assert [step.id for step in definition.walk()] == ["fan_out", "a", "b", "each", "double", "done"]
    # Under another output name, the reference is rejected: the check that accepts the document is at work.
    problems = problems_after(document, {"output: doubled": "output: tripled"})
    assert_problems(problems, ["step 'done' field 'result': references $doubled,"])


# --- parser hooks and custom step types --------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_parser_hooks() -> Iterator[None]:
    """Each test starts and ends without parser hooks."""
    wf.clear_parser_hooks()
    yield
    wf.clear_parser_hooks()


HOOKED = dedent(
    """
    id: hooked
    name: Hooked
    x-owner: sales
    steps:
      - id: fetch
        type: call
        svc: crm
        next: done
      - id: done
        type: end
    """
)


def test_before_parse_can_consume_its_own_top_level_keys() -> None:
    assert any("unknown top-level key 'x-owner'" in problem for problem in problems_of(HOOKED))
    seen: list[str] = []

    @wf.before_parse
    def take_owner(raw: dict[str, Any]) -> None:
        seen.append(raw.pop("x-owner"))

    def alias_service(config: dict[str, Any]) -> dict[str, Any]:
        config = dict(config)
        if "svc" in config:
            config["service"] = config.pop("svc")
        return config

    wf.transform_config("call", alias_service)
    definition = wf.load(HOOKED)
    assert seen == ["sales"]
    assert definition.step("fetch").config["service"] == "crm"
    assert definition.step("fetch").settings.service == "crm"


def test_before_parse_can_replace_the_document() -> None:
    wf.before_parse(lambda raw: {**raw, "name": "Renamed"})
    assert wf.load(MINIMAL).name == "Renamed"


def test_before_parse_is_not_given_a_document_that_is_not_a_mapping() -> None:
    calls: list[Any] = []
    wf.before_parse(lambda raw: calls.append(raw))
    assert "got a list" in problems_of("- a\n- b\n")[0]
    assert calls == []


def test_after_parse_sees_the_document_as_written_and_may_replace_the_definition() -> None:
    received: list[tuple[wf.WorkflowDef, dict[str, Any]]] = []

    def strip_owner(raw: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in raw.items() if key != "x-owner"}

    def describe(definition: wf.WorkflowDef, raw: dict[str, Any]) -> wf.WorkflowDef:
        received.append((definition, raw))
        return dataclasses.replace(definition, description=f"owned by {raw['x-owner']}")

    def keep(definition: wf.WorkflowDef, raw: dict[str, Any]) -> None:
        received.append((definition, raw))

    wf.before_parse(strip_owner)
    wf.after_parse(describe)
    wf.after_parse(keep)
    wf.transform_config("call", lambda config: {"service": config["svc"]} if "svc" in config else config)
    definition = wf.load(HOOKED)
    assert definition.description == "owned by sales"
    assert received[0][1]["x-owner"] == "sales"
    assert received[1][0].description == "owned by sales", "the next hook gets the replaced definition"


def test_after_parse_does_not_run_for_an_invalid_document() -> None:
    calls: list[Any] = []
    wf.after_parse(lambda definition, raw: calls.append(definition))
    problems_of(steps_yaml("- {id: a, type: bogus}\n"))
    assert calls == []


def test_transform_config_output_is_validated() -> None:
    wf.transform_config("assign", lambda config: {**config, "colour": "blue"})
    problems = problems_of(MINIMAL.replace("type: start", "type: assign\n    set: {a: 1}"))
    assert problems == [problems[0]]
    assert problems[0].startswith("step 'start': unknown key 'colour'")


def test_clear_parser_hooks_removes_them() -> None:
    wf.before_parse(lambda raw: {**raw, "name": "Renamed"})
    wf.clear_parser_hooks()
    assert wf.load(MINIMAL).name == "Valid"


class NotifyConfig(msgspec.Struct, forbid_unknown_fields=True):
    """Config of the test step type ``notify``."""

    channel: str
    message: str = ""
    retries: int = 0
    output: str | None = None


class NotifyStep(wf.StepExecutor):
    """A test step type that only continues."""

    type_name = "notify"

    async def call(self, state: RunState) -> wf.Continue:
        return self.continue_(output={"sent": self.resolve(state, self.settings.message)})


@pytest.fixture
def notify_type() -> Iterator[str]:
    """The step type ``notify`` registered for one test."""
    wf.register_step_type("notify", NotifyStep, NotifyConfig)
    yield "notify"
    wf.step_types.unregister("notify")


NOTIFY = steps_yaml(
    """
    - id: tell
      type: notify
      channel: email
      message: "Hello $input.name"
      retries: 2
      output: receipt
      next: done
    - id: done
      type: end
      result: $receipt
    """
)


def test_a_registered_step_type_is_validated_with_its_config_struct(notify_type: str) -> None:
    definition = wf.load(NOTIFY)
    step = definition.step("tell")
    assert step.type == notify_type
    assert step.settings == NotifyConfig(channel="email", message="Hello $input.name", retries=2, output="receipt")

    problems = problems_of(
        steps_yaml(
            """
            - id: tell
              type: notify
              retries: many
              colour: blue
              message: "Hi $nobody"
            """
        )
    )
    assert len(problems) == 3
    assert any(problem.startswith("step 'tell': unknown key 'colour'") for problem in problems)
    assert any(problem.startswith("step 'tell' field 'channel' is required") for problem in problems)
    assert any(problem.startswith("step 'tell' field 'retries': Expected `int`") for problem in problems)


def test_references_in_a_registered_step_type_are_checked(notify_type: str) -> None:
    problems = problems_of(steps_yaml("- {id: tell, type: notify, channel: sms, message: 'Hi $nobody'}\n"))
    assert problems == [problems[0]]
    assert problems[0].startswith("step 'tell' field 'message': references $nobody")


def test_an_unregistered_step_type_is_unknown_again(notify_type: str) -> None:
    wf.step_types.unregister(notify_type)
    problems = problems_of(NOTIFY)
    assert any(problem.startswith("step 'tell' field 'type': unknown step type 'notify'") for problem in problems)


def test_a_step_type_without_config_struct_accepts_any_config() -> None:
    wf.register_step_type("free_form", NotifyStep)
    try:
        definition = wf.load(steps_yaml("- {id: anything, type: free_form, whatever: [1, 2], more: {a: b}}\n"))
        assert definition.step("anything").config == {"whatever": [1, 2], "more": {"a": "b"}}
    finally:
        wf.step_types.unregister("free_form")


def test_register_step_type_rejects_a_non_executor() -> None:
    with pytest.raises(TypeError):
        wf.register_step_type("broken", cast(Any, object))
    assert wf.step_types.get("broken") is None


def test_a_quorum_of_one_person_written_in_two_cases_can_never_be_reached() -> None:
    problems = problems_of(
        steps_yaml(
            """
            - id: ask
              type: approval
              approvers: [ada@example.com, ADA@example.com]
              quorum: 2
              next: done
            - {id: done, type: end}
            """
        )
    )
    assert problems == [
        "step 'ask' field 'quorum': 2 approvals can never be reached: only 1 distinct approver(s) are named "
        "(add approvers, a role, or lower the quorum)"
    ]
