import time

import pytest

from verl_pixel.reward.scoring.answer import (
    AnswerSource,
    ExtractedAnswer,
    extract_final_answer,
    last_answer_tag_content,
    last_boxed_content,
    last_nonempty_line,
)

BOXED = AnswerSource.BOXED
TAG = AnswerSource.ANSWER_TAG
LINE = AnswerSource.LAST_LINE
NONE = AnswerSource.NONE


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (r"so \boxed{B}", ExtractedAnswer("B", BOXED)),
        # several boxes: the last one wins
        (r"first \boxed{A} then \boxed{ C }", ExtractedAnswer("C", BOXED)),
        # nested braces inside the box
        (r"\boxed{\frac{1}{2}}", ExtractedAnswer(r"\frac{1}{2}", BOXED)),
        (r"\boxed{\text{(B) red}}", ExtractedAnswer(r"\text{(B) red}", BOXED)),
        # a box inside a box: the last *opened* one
        (r"\boxed{\boxed{3}}", ExtractedAnswer("3", BOXED)),
        # an unterminated (truncated) last box falls back to the earlier balanced one
        (r"\boxed{3} and finally \boxed{4", ExtractedAnswer("3", BOXED)),
        # escaped braces are literal
        (r"\boxed{a\}b}", ExtractedAnswer(r"a\}b", BOXED)),
        (r"\boxed {7}", ExtractedAnswer("7", BOXED)),
        # the box beats an answer tag, the tag beats the last line
        (r"<answer>A</answer> \boxed{B}", ExtractedAnswer("B", BOXED)),
        ("think...\n<answer> C </answer>\nbye", ExtractedAnswer("C", TAG)),
        ("<answer>A</answer> <answer>B</answer>", ExtractedAnswer("B", TAG)),
        ("<answer>never closed", ExtractedAnswer("never closed", LINE)),  # stray tags are dropped from the line
        # last line: reasoning, tool calls and tags dropped
        ("<think>it is 3</think>\nThe answer is 4\n<|im_end|>", ExtractedAnswer("The answer is 4", LINE)),
        ('I will zoom.\n<tool_call>{"name": "crop_image"}</tool_call>', ExtractedAnswer("I will zoom.", LINE)),
        ("line one\n\n   \n", ExtractedAnswer("line one", LINE)),
        # an empty box is the (empty) answer: the model did box, it boxed nothing
        (r"\boxed{}", ExtractedAnswer("", BOXED)),
        ("", ExtractedAnswer("", NONE)),
        ("   \n\t\n", ExtractedAnswer("", NONE)),
        ("<think>only thoughts</think>", ExtractedAnswer("", NONE)),
        ("汉字答案", ExtractedAnswer("汉字答案", LINE)),
    ],
)
def test_extract_final_answer(response: str, expected: ExtractedAnswer) -> None:
    assert extract_final_answer(response) == expected


@pytest.mark.parametrize(
    ("answer", "explicit"),
    [
        (ExtractedAnswer("B", BOXED), True),
        (ExtractedAnswer("B", TAG), True),
        (ExtractedAnswer("", BOXED), False),
        (ExtractedAnswer("B", LINE), False),
        (ExtractedAnswer("", NONE), False),
    ],
)
def test_is_explicit(answer: ExtractedAnswer, explicit: bool) -> None:
    assert answer.is_explicit is explicit


def test_helpers_return_none_when_absent() -> None:
    assert last_boxed_content("no box { here }") is None
    assert last_boxed_content(r"\boxed{never closed") is None
    assert last_answer_tag_content("</answer> before <answer>") is None
    assert last_nonempty_line("<|im_end|>\n<tool_call>x</tool_call>") is None


@pytest.mark.parametrize(
    "response",
    [
        r"\boxed{" * 200_000,  # 200k unclosed boxes: must not be quadratic
        "<answer>" * 200_000,
        "{" * 500_000 + "}" * 500_000,
        "<tool_call>" * 100_000,
        "x" * 2_000_000,
    ],
)
def test_huge_responses_are_linear(response: str) -> None:
    start = time.perf_counter()
    extract_final_answer(response)
    assert time.perf_counter() - start < 2.0


def test_huge_balanced_box() -> None:
    content = "7" * 1_000_000
    assert extract_final_answer(r"\boxed{" + content + "}") == ExtractedAnswer(content, BOXED)
