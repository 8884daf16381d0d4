"""Parsing <tool_call> blocks, aliases, and answering malformed calls instead of dropping them."""

from __future__ import annotations

import pytest

from verl_pixel.ops import (
    FailureReason,
    MalformedToolCall,
    ToolCall,
    canonical_operation,
    parse_tool_calls,
    run_tool_call,
)


def test_one_call_with_text_around_it():
    turn = parse_tool_calls(
        'Let me look closer.\n<tool_call>\n{"name": "crop_image", "arguments": {"bbox_2d": [1, 2, 30, 40]}}\n'
        "</tool_call>"
    )
    assert turn.text == "Let me look closer."
    assert turn.calls == (ToolCall("crop_image", {"bbox_2d": [1, 2, 30, 40]}),)


def test_several_calls_keep_their_order_and_the_prose_between_them():
    turn = parse_tool_calls(
        'A <tool_call>{"name": "zoom_in", "arguments": {"bbox_2d": [0, 0, 1, 1]}}</tool_call> B '
        '<tool_call>{"name": "select_frames", "arguments": {"target_frames": [1]}}</tool_call> C'
    )
    assert [call.name for call in turn.calls] == ["zoom_in", "select_frames"]
    assert turn.text == "A  B  C"


def test_text_without_calls():
    assert parse_tool_calls("The answer is \\boxed{B}.").calls == ()


# (body between the tags, expected reason, substring of the message)
MALFORMED = [
    # trailing comma: invalid JSON, the position is reported
    ('{"name": "crop_image", "arguments": {"bbox_2d": [1, 2, 3, 4],}}', FailureReason.BAD_JSON, "not valid JSON"),
    # single quotes
    ("{'name': 'crop_image'}", FailureReason.BAD_JSON, "not valid JSON"),
    # a JSON array instead of an object
    ('["crop_image", [1, 2, 3, 4]]', FailureReason.BAD_JSON, 'must be a JSON object with "name" and "arguments"'),
    # no name
    ('{"arguments": {"bbox_2d": [1, 2, 3, 4]}}', FailureReason.BAD_JSON, 'needs a "name" string'),
    # name not a string
    ('{"name": 7, "arguments": {}}', FailureReason.BAD_JSON, 'needs a "name" string'),
    # arguments as a list
    (
        '{"name": "crop_image", "arguments": [1, 2, 3, 4]}',
        FailureReason.BAD_TYPE,
        '"arguments" of crop_image must be a JSON object',
    ),
    # arguments as a string that is not JSON
    ('{"name": "crop_image", "arguments": "bbox 1 2 3 4"}', FailureReason.BAD_TYPE, "must be a JSON object"),
    # an integer beyond Python's 4300-digit parsing limit
    ('{"name": "crop_image", "arguments": {"bbox_2d": [' + "9" * 5000 + "]}}", FailureReason.BAD_JSON, "unreadable"),
]


@pytest.mark.parametrize(("body", "reason", "fragment"), MALFORMED)
def test_malformed_calls_carry_a_message(body, reason, fragment):
    (call,) = parse_tool_calls(f"<tool_call>{body}</tool_call>").calls
    assert isinstance(call, MalformedToolCall)
    assert call.reason is reason and fragment in call.message
    assert '<tool_call>{"name": "crop_image", "arguments": {...}}</tool_call>' in call.message


def test_unclosed_call():
    (call,) = parse_tool_calls('look <tool_call>{"name": "crop_image", "arguments": {}}').calls
    assert isinstance(call, MalformedToolCall) and "was not closed with </tool_call>" in call.message


def test_arguments_as_a_json_string_are_accepted():
    (call,) = parse_tool_calls(
        '<tool_call>{"name": "crop_image", "arguments": "{\\"bbox_2d\\": [1, 2, 3, 4]}"}</tool_call>'
    ).calls
    assert call == ToolCall("crop_image", {"bbox_2d": [1, 2, 3, 4]})


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("crop_image", "crop_image"),
        ("crop_image_normalized", "crop_image"),  # Pixel Reasoner's schema name
        ("image_zoom_in_tool", "crop_image"),  # DeepEyes
        ("zoom_in", "crop_image"),  # verl-tool
        ("select_frames", "select_frames"),
        ("crop", None),
        (3, None),
    ],
)
def test_aliases(name, canonical):
    assert canonical_operation(name) == canonical


def test_malformed_call_is_answered_and_counted(make_registry):
    registry = make_registry()
    (call,) = parse_tool_calls("<tool_call>{oops}</tool_call>").calls
    result = run_tool_call(registry, call)
    assert not result.ok and result.reason is FailureReason.BAD_JSON and "not valid JSON" in result.message
    assert registry.operations_attempted == 1


def test_alias_call_runs_the_crop(make_registry):
    registry = make_registry()
    (call,) = parse_tool_calls(
        '<tool_call>{"name": "crop_image_normalized", '
        '"arguments": {"bbox_2d": [0.1, 0.1, 0.3, 0.3], "target_image": 1}}</tool_call>'
    ).calls
    result = run_tool_call(registry, call)
    assert result.ok and result.operation == "crop_image" and result.image_numbers == (2,)
