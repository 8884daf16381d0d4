"""Property: no response text makes extraction or any scorer raise, and every score lies in [0, 1]."""

import math
import re
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verl_pixel.record import TrajectoryRecord
from verl_pixel.reward.scoring import math_answer
from verl_pixel.reward.scoring.answer import extract_final_answer
from verl_pixel.reward.scoring.choice import read_choice
from verl_pixel.reward.scoring.ground_truth import GroundTruth
from verl_pixel.reward.scoring.number import read_number
from verl_pixel.reward.scoring.trajectory_score import score_answer, score_trajectory

TRUTHS = [
    GroundTruth.from_mapping({"answer": "B", "answer_type": "multiple_choice", "options": ["red", "blue", "A", "1"]}),
    GroundTruth.from_mapping({"answer": 3, "answer_type": "number"}),
    GroundTruth.from_mapping({"answer": "red, white", "answers": ["x"], "answer_type": "short_text"}),
    GroundTruth.from_mapping({"answers": ["42.7%", "Ünïcødé"], "answer_type": "anls"}),
    GroundTruth.from_mapping({"answer": r"\frac{1}{2}", "answer_type": "math"}),
]

# Fragments the parsers care about, glued together at random, plus arbitrary unicode text.
FRAGMENTS = st.sampled_from(
    [
        "\\boxed{",
        "\\boxed",
        "{",
        "}",
        "\\{",
        "\\}",
        "<answer>",
        "</answer>",
        "<think>",
        "</think>",
        "<tool_call>",
        "</tool_call>",
        "(B)",
        "B.",
        "B)",
        "A",
        "I",
        "answer is",
        "option",
        " and ",
        ", ",
        ";",
        "\n",
        "3",
        "three",
        "twenty-",
        "1,000",
        "-",
        ".",
        "none",
        "no",
        "\\text{",
        "$",
        "\\frac",
        "%",
        "\uff22",
        "\u0663",
        "\ud800",
        "\x00",
    ]
)
RESPONSES = st.one_of(
    st.text(max_size=300), st.lists(st.one_of(FRAGMENTS, st.text(max_size=5)), max_size=40).map("".join)
)


@pytest.fixture(autouse=True)
def _no_math_verify(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "math_verify", None)
    math_answer._math_verify.cache_clear()
    yield
    math_answer._math_verify.cache_clear()


@settings(max_examples=300, deadline=None)
@given(response=RESPONSES)
def test_scorers_never_raise(response: str) -> None:
    answer = extract_final_answer(response)
    for truth in TRUTHS:
        # the unguarded scorer: a bug here must fail the test, not hide behind score_response's safety net
        assert 0.0 <= score_answer(answer.text, truth) <= 1.0
        assert 0.0 <= score_answer(response, truth) <= 1.0


@settings(max_examples=200, deadline=None)
@given(text=RESPONSES)
def test_readers_never_raise(text: str) -> None:
    value = read_number(text)
    assert value is None or math.isfinite(value)
    # A number is read only from digits or words (number words, none/no/nothing): without either, nothing.
    if not re.search(r"\w", text):
        assert value is None
    # One stated number is read whatever text surrounds it, when that text states no number of its own and no
    # bound or estimate sign (~3, >3, 3+ read as no number).
    if value is None and not re.search(r"\d|[a-z]|[~≈<>≤≥+]", text.lower()):
        assert read_number(f"{text} 42 {text}") == 42.0
    index = read_choice(text, ("red", "blue", "green"))
    assert index is None or 0 <= index < 3


@settings(max_examples=100, deadline=None)
@given(response=RESPONSES, ops_failed=st.integers(0, 3))
def test_trajectory_scores_are_in_range(response: str, ops_failed: int) -> None:
    for truth in TRUTHS:
        score = score_trajectory(TrajectoryRecord(ops_failed=ops_failed, answer_text=response), truth)
        assert 0.0 <= score.acc <= 1.0 and score.fmt in (0.0, -1.0)
