"""The dpipe chain grammar and its wiring, as pure data (no processes)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vdex.errors import UsageError
from vdex.tools._dpipe_plan import ChainPlan, Channel, Flow, parse_chain, split_commands

S, D = Channel.STDIN, Channel.STDOUT
AI, AO = Channel.ALTERNATE_STDIN, Channel.ALTERNATE_STDOUT


def flows(plan: ChainPlan) -> set[tuple[str, Channel, str, Channel]]:
    """Every pipe as (writer command, its channel, reader command, its channel)."""
    writers: dict[int, tuple[str, Channel]] = {}
    readers: dict[int, tuple[str, Channel]] = {}
    for stage in plan.stages:
        for channel, end in stage.channels:
            side = writers if end.write else readers
            assert end.pipe not in side, f"pipe {end.pipe} has two {'writers' if end.write else 'readers'}"
            side[end.pipe] = (stage.argv[0], channel)
    assert set(writers) == set(readers) == set(range(plan.pipe_count))
    return {(*writers[p], *readers[p]) for p in range(plan.pipe_count)}


def test_two_commands_are_connected_both_ways() -> None:
    plan = parse_chain(["a", "-x", "=", "b", "y"])
    assert [s.argv for s in plan.stages] == [("a", "-x"), ("b", "y")]
    assert flows(plan) == {("a", D, "b", S), ("b", D, "a", S)}


def test_middle_command_uses_alternate_channels_towards_the_right() -> None:
    plan = parse_chain(["a", "=", "b", "=", "c"])
    assert flows(plan) == {
        ("a", D, "b", S), ("b", D, "a", S),
        ("b", AO, "c", S), ("c", D, "b", AI),
    }


def test_left_to_right_stage_makes_a_cycle() -> None:
    # man dpipe: "stdout of a is connected to stdin of b, stdout of b with stdin of c,
    # and stdout of c to stdin of a"
    plan = parse_chain(["a", "=}", "b", "}=", "c"])
    assert flows(plan) == {("a", D, "b", S), ("b", D, "c", S), ("c", D, "a", S)}
    assert plan.stages[1].flow is Flow.LEFT_TO_RIGHT


def test_right_to_left_stage() -> None:
    plan = parse_chain(["a", "={", "b", "{=", "c"])
    assert flows(plan) == {("a", D, "c", S), ("c", D, "b", S), ("b", D, "a", S)}


def test_man_page_example_mixes_all_notations() -> None:
    # man dpipe: "a =} b }={ c {= d = e ... this is a -> b -> d -> c and back to a;
    # alternate ports of d are connected to e"
    plan = parse_chain(["a", "=}", "b", "}={", "c", "{=", "d", "=", "e"])
    assert flows(plan) == {
        ("a", D, "b", S), ("b", D, "d", S), ("d", D, "c", S), ("c", D, "a", S),
        ("d", AO, "e", S), ("e", D, "d", AI),
    }


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ([], "no command"),
        (["a"], "at least two"),
        (["a", "="], "missing after"),
        (["=", "b"], "missing before"),
        (["a", "=", "=", "b"], "missing before"),
        (["a", "=}", "b"], "last command cannot be a one-way"),
        (["a", "=}", "b", "=", "c"], "must end with '}='"),
        (["a", "=}", "b", "{=", "c"], "must end with '}='"),
        (["a", "}=", "b"], "never opened"),
    ],
)
def test_malformed_chains_are_usage_errors(words: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_chain(words)


def test_words_that_only_look_like_separators_are_arguments() -> None:
    assert split_commands(["a", "x=y", "==", "=", "b", "{"]) == [
        (("a", "x=y", "=="), Flow.BOTH),
        (("b", "{"), Flow.BOTH),
    ]


_words = st.lists(
    st.sampled_from(["=", "=}", "}=", "={", "{=", "}={", "{=}", "}=}", "{={", "cmd", "-o", "x"]),
    max_size=14,
)


@given(_words)
def test_any_word_list_is_a_plan_or_a_usage_error(words: list[str]) -> None:
    try:
        plan = parse_chain(words)
    except UsageError:
        return
    flows(plan)  # every pipe has exactly one reader and one writer
    for index, stage in enumerate(plan.stages):
        channels = {channel for channel, _ in stage.channels}
        middle_both = 0 < index < len(plan.stages) - 1 and stage.flow is Flow.BOTH
        assert channels == ({S, D, AI, AO} if middle_both else {S, D})
        assert len(stage.argv) > 0


def chain_words(middle_flows: list[Flow]) -> list[str]:
    """``c0 <sep> c1 <sep> ... last`` with each one-way stage opened and closed correctly."""
    words = ["c0"]
    open_flow = Flow.BOTH
    for number, flow in enumerate([*middle_flows, Flow.BOTH], start=1):
        closing = "" if open_flow is Flow.BOTH else open_flow.value
        opening = "" if flow is Flow.BOTH else flow.value
        words += [closing + "=" + opening, f"c{number}"]
        open_flow = flow
    return words


@given(st.lists(st.sampled_from(list(Flow)), max_size=6))
def test_valid_chains_of_any_shape_wire_every_pipe_once(middle_flows: list[Flow]) -> None:
    plan = parse_chain(chain_words(middle_flows))
    assert [s.flow for s in plan.stages[1:-1]] == middle_flows
    assert plan.pipe_count == 2 + sum(2 if f is Flow.BOTH else 1 for f in middle_flows)
    flows(plan)
