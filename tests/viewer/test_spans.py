"""Trained / masked spans of decoded rollout responses and of SFT messages; prompt questions for the data join."""

from __future__ import annotations

import pytest

from verl_pixel.viewer.fields import field_rows, format_value
from verl_pixel.viewer.model import ImageRef, SpanKind, TextSpan, Turn
from verl_pixel.viewer.rollout_dump import prompt_question, row_question
from verl_pixel.viewer.spans import sft_turn, split_response

T, M = SpanKind.TRAINED, SpanKind.MASKED
CALL = '<tool_call>\n{"name": "crop_image", "arguments": {"bbox_2d": [0, 0, 1, 1]}}\n</tool_call>'
QWEN_TOOL = "\nuser\n<tool_response>\nImage 2: crop of image 1 (56x56).\n</tool_response>\nassistant\n"


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        # no call: all model tokens
        ("It is \\boxed{A}.", [("It is \\boxed{A}.", T)]),
        # qwen style tool turn between two model turns
        ("Look." + CALL + QWEN_TOOL + "Done.", [("Look." + CALL, T), (QWEN_TOOL, M), ("Done.", T)]),
        # Pixel Reasoner style: a user turn without <tool_response>
        (
            "Look." + CALL + "user\n\nHere is the cropped image (Image Size: 56x56):\nassistant\nDone.",
            [
                ("Look." + CALL, T),
                ("user\n\nHere is the cropped image (Image Size: 56x56):\nassistant\n", M),
                ("Done.", T),
            ],
        ),
        # two calls in one turn: one tool turn after the last
        (
            "A" + CALL + "\n" + CALL + QWEN_TOOL + "B",
            [("A" + CALL + "\n" + CALL, T), (QWEN_TOOL, M), ("B", T)],
        ),
        # the trajectory ended on a call that was never executed (budget, length): no tool turn
        ("A" + CALL, [("A" + CALL, T)]),
        # the response was cut inside the tool turn: tool tokens to the end
        ("A" + CALL + "\nuser\n<tool_response>\nIma", [("A" + CALL, T), ("\nuser\n<tool_response>\nIma", M)]),
        # the word "user" inside model text is not a tool turn
        ("A" + CALL + " then user\nsaid", [("A" + CALL + " then user\nsaid", T)]),
    ],
)
def test_split_response(response, expected):
    spans = split_response(response)
    assert [(s.text, s.kind) for s in spans] == expected
    assert "".join(s.text for s in spans) == response


def test_prompt_question_matches_the_rows_question():
    decoded = "system\nYou are helpful.\n<tool_call>\n{}\n</tool_call>\nuser\nWhat is  it?\n(A) x\nassistant\n"
    row = {"prompt": [{"role": "system", "content": "s"}, {"role": "user", "content": "<image>What is it?\n(A) x"}]}
    assert prompt_question(decoded) == row_question(row) == "What is it? (A) x"


def test_sft_turns_number_images_and_mask_tool_outputs():
    observation = {
        "role": "user",
        "content": "\nHere is the cropped image (Image Size: 56x56):<image>",
        "tool_output": True,
    }
    turn, next_image = sft_turn(observation, 2)
    assert turn == Turn(
        "user", (TextSpan("\nHere is the cropped image (Image Size: 56x56):", M), ImageRef(2)), "tool output"
    )
    assert next_image == 3
    answer, _ = sft_turn({"role": "assistant", "content": "A", "loss_mask": None}, 3)
    assert answer == Turn("assistant", (TextSpan("A", T),))
    call_only, _ = sft_turn(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"function": {"name": "zoom_in", "arguments": {"x": 1}}}],
        },
        3,
    )
    assert call_only.parts == (TextSpan('<tool_call>\n{"name": "zoom_in", "arguments": {"x": 1}}\n</tool_call>', T),)


def test_fields_put_scores_first_then_pixel_keys():
    record = {"uid": "u_0_1", "pixel/mode": "adaptive", "score": 0.123456, "pixel/acc": 1.0, "gts": {"answer": "A"}}
    assert field_rows(record, first=("score", "gts")) == (
        ("score", "0.1235"),
        ("gts", '{"answer": "A"}'),
        ("pixel/acc", "1"),
        ("pixel/mode", "adaptive"),
        ("uid", "u_0_1"),
    )
    assert format_value(True) == "true" and format_value(b"abc") == "<3 bytes>" and format_value(None) == "null"
