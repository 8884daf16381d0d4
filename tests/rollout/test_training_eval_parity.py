"""One rule book: the same scripted conversations through training and evaluation give the same records and texts.

Each case is run twice:

* through verl's real ``AgentLoopWorker`` with the ``pixel_agent`` loop and a :class:`ScriptedLLMServer` (training
  and verl-native validation), with the tool YAML written for the case's operation config;
* through :func:`verl_pixel.eval.episode.run_episode` (the endpoint evaluation) with a scripted endpoint, on the
  eval row built from the same question and images.

Both must give the hand-written record and tool-output texts below. The expected numbers: a 320x240 input is seen
at 308x252 (``smart_resize``, factor 28); the crop ``[.1, .1, .5, .5]`` is (32, 24, 160, 120) of the original,
padded by 0.1 of the image per side to (0, 0, 192, 144) and resized to 196x140 (7 x 5 = 35 tokens); ``[.25, .75]``
of image 2 is (48, 36, 144, 108), padded by 0.1 of image 2's 192x144 region to 134x100 -> 140x112 (20 tokens).
Video frames are 112x84 (4 x 3 = 12 tokens) and come back at that size under the 400-token frame budget; the crop
``[.1, .1, .5, .5]`` of a frame is (11.2, 8.4, 56, 42) padded by (11.2, 8.4) -> (0, 0, 67.2, 50.4) -> 68x51 of the
frame -> 56x56 (4 tokens).
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import re
from collections.abc import Sequence
from typing import Any

import pytest
from PIL import Image

from verl_pixel.chat_endpoint import ChatReply
from verl_pixel.eval.episode import EpisodeConfig, run_episode
from verl_pixel.eval.sample_inputs import PreparedSample, prepare_sample
from verl_pixel.eval.samples import EvalRowConfig, EvalSample, ImageInput, eval_rows
from verl_pixel.record import RolloutMode, StopReason, TrajectoryRecord
from verl_pixel.testing.agent_harness import call, compose_ppo_config, make_worker, prompt_batch, scene
from verl_pixel.testing.fake_server import ScriptedLLMServer
from verl_pixel.tools.schema_yaml import ops_config, read_ops_config, write_tools_yaml

FINAL = "It is \\boxed{A}."
CROP = "Let me look." + call(bbox_2d=[0.1, 0.1, 0.5, 0.5])
CROP_2 = "Other corner." + call(bbox_2d=[0.5, 0.5, 0.9, 0.9])
CROP_OF_CROP = "Closer." + call(bbox_2d=[0.25, 0.25, 0.75, 0.75], target_image=2)
BAD_JSON = '<tool_call>{"name": "crop_image", "arguments": {"bbox_2d": [1, 2</tool_call>'
CALL_FORMAT = '<tool_call>{"name": "crop_image", "arguments": {...}}</tool_call>'
FRAMES_1_TO_5 = "Five frames." + call("select_frames", target_frames=[1, 2, 3, 4, 5])
FRAMES_1_2 = "Two frames." + call("select_frames", target_frames=[1, 2])
FRAMES_1_TO_4 = "Four frames." + call("select_frames", target_frames=[1, 2, 3, 4])
FRAME_5 = "One more." + call("select_frames", target_frames=[5])
CROP_FRAME = "Zoom on it." + call(bbox_2d=[0.1, 0.1, 0.5, 0.5], target_image=17)
NUM_FRAMES = 16
FRAME_SIZE = (112, 84)
CROP_TEXT = "Image 2: crop of image 1 (196x140)."
OPS_SPENT = "Error: you have used all 4 visual operations allowed; answer with what you have seen"
# verl's multi_turn.max_assistant_turns and the episode's max_turns: one knob, set to the same value.
MAX_TURNS = 10
SESSION_OF_MODE = {RolloutMode.ADAPTIVE: 0, RolloutMode.FORCE_TOOL: 1, RolloutMode.NO_TOOL: 2}
LAYOUT = ("+pixel.rollout.mode_layout.adaptive=1", "+pixel.rollout.mode_layout.force_tool=1",
          "+pixel.rollout.mode_layout.no_tool=1")  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Case:
    """A scripted conversation and what both paths must record for it."""

    name: str
    script: tuple[str, ...]  # assistant turn k; the last one repeats
    record: TrajectoryRecord
    tool_texts: tuple[str, ...]
    video: bool = False
    mode: RolloutMode = RolloutMode.ADAPTIVE


def rec(attempted, succeeded, turns, images, tokens, stop, answer, mode=RolloutMode.ADAPTIVE, complied=True,
        last_failed=False, video=False):  # fmt: skip
    return TrajectoryRecord(
        mode=mode, complied=complied, ops_attempted=attempted, ops_succeeded=succeeded,
        ops_failed=attempted - succeeded, turns=turns, images_added=images, tool_visual_tokens=tokens,
        stop_reason=stop, answer_text=answer, last_call_failed=last_failed, video_input=video,
    )  # fmt: skip


ANSWERED, MAX_OPS, MAX_IMAGES, MAX_TURNS_STOP = (
    StopReason.ANSWERED, StopReason.MAX_OPERATIONS, StopReason.MAX_IMAGES, StopReason.MAX_TURNS
)  # fmt: skip

# Default operation config (max_operations 4, max_images 16).
DEFAULT_CASES = [
    Case("crop", (CROP, FINAL), rec(1, 1, 2, 1, 35, ANSWERED, FINAL), (CROP_TEXT,)),
    Case(
        "crop_of_crop",
        (CROP, CROP_OF_CROP, FINAL),
        rec(2, 2, 3, 2, 55, ANSWERED, FINAL),
        (CROP_TEXT, "Image 3: crop of image 2 (140x112)."),
    ),
    Case(
        "two_calls_one_turn",
        (CROP + CROP_2, FINAL),
        rec(2, 2, 2, 2, 70, ANSWERED, FINAL),
        (CROP_TEXT, "Image 3: crop of image 1 (196x140)."),
    ),
    Case(
        # Every call of a turn is answered and counted (verl alone would run max_parallel_calls and drop the rest).
        "six_calls_one_turn",
        ("Six." + call(bbox_2d=[0.1, 0.1, 0.5, 0.5]) * 6, FINAL),
        rec(6, 4, 2, 4, 140, ANSWERED, FINAL, last_failed=True),
        (CROP_TEXT, *(f"Image {n}: crop of image 1 (196x140)." for n in (3, 4, 5)), OPS_SPENT, OPS_SPENT),
    ),
    Case(
        "bad_json",
        (BAD_JSON, FINAL),
        rec(1, 0, 2, 0, 0, ANSWERED, FINAL, last_failed=True),
        (f"Error: tool call is not valid JSON (Expecting ',' delimiter at char 53); write {CALL_FORMAT}",),
    ),
    Case(
        "unknown_tool",
        (call("rotate_image", angle=90), FINAL),
        rec(1, 0, 2, 0, 0, ANSWERED, FINAL, last_failed=True),
        ('Error: unknown tool "rotate_image"; available: crop_image, select_frames',),
    ),
    Case(
        "frames_without_video",
        (FRAMES_1_2, FINAL),
        rec(1, 0, 2, 0, 0, ANSWERED, FINAL, last_failed=True),
        (
            "Error: select_frames works on a video and this conversation has none; "
            "use crop_image(bbox_2d=[x1, y1, x2, y2], target_image=N) on an image instead",
        ),
    ),
    Case(
        # 4 operations are allowed; the 5th call is told so; the 6th turn's call ends the trajectory unrun.
        "operation_budget",
        (CROP,),
        rec(5, 4, 6, 4, 140, MAX_OPS, "Let me look.", last_failed=True),
        (CROP_TEXT, *(f"Image {n}: crop of image 1 (196x140)." for n in (3, 4, 5)), OPS_SPENT),
    ),
    Case(
        "no_tool_refuses",
        (CROP, FINAL),
        rec(1, 0, 2, 0, 0, ANSWERED, FINAL, RolloutMode.NO_TOOL, complied=False, last_failed=True),
        ("Error: no visual operations are available here; answer from the images you have",),
        mode=RolloutMode.NO_TOOL,
    ),
    Case(
        "force_tool_unmet",
        (FINAL,),
        rec(0, 0, 1, 0, 0, ANSWERED, FINAL, RolloutMode.FORCE_TOOL, complied=False),
        (),
        mode=RolloutMode.FORCE_TOOL,
    ),
]

# max_images 4: an image question holds its input and 3 more; the video's 16 sampled frames do not count.
FOUR_IMAGE_CASES = [
    Case(
        "image_budget",
        (CROP,),
        rec(4, 3, 5, 3, 105, MAX_IMAGES, "Let me look.", last_failed=True),
        (
            CROP_TEXT,
            "Image 3: crop of image 1 (196x140).",
            "Image 4: crop of image 1 (196x140).",
            "Error: this conversation already has 4 images, the maximum",
        ),
    ),
    Case(
        # "only 4 more fit" is fixable: the retry with 2 frames succeeds and the model answers.
        "video_frames_too_many_then_fewer",
        (FRAMES_1_TO_5, FRAMES_1_2, FINAL),
        rec(2, 1, 3, 2, 24, ANSWERED, FINAL, video=True),
        (
            "Error: target_frames asks for 5 frames but only 4 more images fit in this conversation",
            "Images 17 to 18: frames 1, 2 of the video (112x84 each).",
        ),
        video=True,
    ),
    Case(
        # 4 frames fill the budget; the next call is told so; the call after that ends the trajectory.
        "video_frames_fill_the_budget",
        (FRAMES_1_TO_4, FRAME_5, FRAME_5, FINAL),
        rec(2, 1, 3, 4, 48, MAX_IMAGES, "One more.", last_failed=True, video=True),
        (
            "Images 17 to 20: frames 1, 2, 3, 4 of the video (112x84 each).",
            "Error: this conversation already has 4 images besides the video's frames, the maximum",
        ),
        video=True,
    ),
    Case(
        "video_crop_a_selected_frame",
        (FRAMES_1_2, CROP_FRAME, FINAL),
        rec(2, 2, 3, 3, 28, ANSWERED, FINAL, video=True),
        ("Images 17 to 18: frames 1, 2 of the video (112x84 each).", "Image 19: crop of image 17 (56x56)."),
        video=True,
    ),
]

TURN_LIMIT_CASES = [
    Case("turn_limit", (CROP,), rec(1, 1, 2, 1, 35, MAX_TURNS_STOP, "Let me look."), (CROP_TEXT,)),
]

# budget_stop: end (Pixel Reasoner, experience_maker.py line 2246): 4 operations run; the 5th call ends the
# trajectory unrun, with no warning in between.
END_AT_ONCE_CASES = [
    Case(
        "operation_budget_ends_at_once",
        (CROP,),
        rec(4, 4, 5, 4, 140, MAX_OPS, "Let me look."),
        (CROP_TEXT, *(f"Image {n}: crop of image 1 (196x140)." for n in (3, 4, 5))),
    ),
    Case(
        "error_then_spent_budget",
        (CROP, CROP, CROP, BAD_JSON, CROP),
        rec(4, 3, 5, 3, 105, MAX_OPS, "Let me look.", last_failed=True),
        (
            CROP_TEXT,
            "Image 3: crop of image 1 (196x140).",
            "Image 4: crop of image 1 (196x140).",
            f"Error: tool call is not valid JSON (Expecting ',' delimiter at char 53); write {CALL_FORMAT}",
        ),
    ),
]

GROUPS = [  # (tool config overrides, max turns, cases)
    ({}, MAX_TURNS, DEFAULT_CASES),
    ({"max_images": 4}, MAX_TURNS, FOUR_IMAGE_CASES),
    ({}, 2, TURN_LIMIT_CASES),
    ({"budget_stop": "end"}, MAX_TURNS, END_AT_ONCE_CASES),
]


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _frame(index: int) -> Image.Image:
    return Image.new("RGB", FRAME_SIZE, (10 * index, 100, 200 - 10 * index))


def eval_row(case: Case) -> dict[str, Any]:
    """The case's benchmark row, as ``verl-pixel eval preprocess`` writes it (frames carry the frame budget)."""
    if case.video:
        images = tuple(ImageInput(data=_png(_frame(i)), max_pixels=400 * 28 * 28) for i in range(NUM_FRAMES))
    else:
        images = (ImageInput(data=_png(scene())),)
    sample = EvalSample(
        "parity", case.name, f"[{case.name}] What is it?", "multiple_choice", ("A",), ("red", "blue"), images,
        num_video_frames=NUM_FRAMES if case.video else 0,
    )  # fmt: skip
    # The frames layout: both sides show the model the 16 frames as images (video rows: tests/rollout/test_video*)
    return eval_rows([sample], EvalRowConfig(video_layout="frames"))[0]


def raw_prompt(row: dict[str, Any], prepared: PreparedSample) -> list[dict[str, Any]]:
    """The row's prompt as verl's dataset hands it to the agent loop: image items hold the decoded images."""
    messages = []
    for message in prepared.messages:
        content = []
        for item in message["content"]:
            if item.get("type") == "image":
                index = item["image"]
                budget = row["images"][index].get("max_pixels")
                item = {"type": "image", "image": prepared.originals[index]}
                item.update({"max_pixels": budget} if budget else {})
            content.append(item)
        messages.append({**message, "content": content})
    return messages


# ---- training: verl's AgentLoopWorker ----------------------------------------------------------------------------

_VISION = r"(?:<\|vision_start\|>(?:<\|image_pad\|>)*<\|vision_end\|>)*"
_TRAINING_TOOL_TEXT = re.compile(r"<tool_response>\n" + _VISION + r"(.*?)\n</tool_response>", re.DOTALL)


def training_tool_texts(out, tokenizer, i: int) -> tuple[str, ...]:
    """Each call's output text, from the tool tokens (mask 0) of rollout ``i`` as the chat template rendered them."""
    resp, mask = out.batch["responses"][i].tolist(), out.batch["response_mask"][i].tolist()
    n = int(out.batch["attention_mask"][i, -len(resp) :].sum())
    tool_tokens = [token if m == 0 else tokenizer.eos_token_id for token, m in zip(resp[:n], mask[:n], strict=True)]
    return tuple(_TRAINING_TOOL_TEXT.findall(tokenizer.decode(tool_tokens)))


def run_training(tiny_model_dir, tokenizer, tool_yaml, max_turns, cases, rows, prepared):
    overrides = [
        f"actor_rollout_ref.rollout.multi_turn.tool_config_path={tool_yaml}",
        f"actor_rollout_ref.rollout.multi_turn.max_assistant_turns={max_turns}",
        *LAYOUT,
    ]
    scripts = {case.name: case.script for case in cases}

    def script(generate_call):
        prompt = tokenizer.decode(generate_call.prompt_ids)
        name = next(name for name in scripts if f"[{name}]" in prompt)
        return scripts[name][min(generate_call.turn, len(scripts[name]) - 1)]

    prompts = [raw_prompt(row, sample) for row, sample in zip(rows, prepared, strict=True)]
    sessions = [SESSION_OF_MODE[case.mode] for case in cases]
    # extra_info carries num_video_frames, as verl hands the row's columns to the agent loop
    batch = prompt_batch(prompts, session_ids=sessions, extra_info=[row["extra_info"] for row in rows])
    worker = make_worker(compose_ppo_config(tiny_model_dir, overrides), ScriptedLLMServer(tokenizer, script))
    out = asyncio.run(worker.generate_sequences(batch))
    results = {}
    for i, case in enumerate(cases):
        record = TrajectoryRecord.from_mapping({key: values[i] for key, values in out.non_tensor_batch.items()})
        results[case.name] = (record, training_tool_texts(out, tokenizer, i))
    return results


# ---- evaluation: the endpoint episode ----------------------------------------------------------------------------

_EVAL_TOOL_TEXT = re.compile(r"<tool_response>\n(?:<IMG>)*(.*?)\n</tool_response>", re.DOTALL)


class ScriptedEndpoint:
    """The episode's endpoint: replies with the case's turn k, keeps the last request's messages."""

    def __init__(self, script: Sequence[str]) -> None:
        self.script = script
        self.last_messages: list[dict[str, Any]] = []

    async def complete(self, messages, tools=None) -> ChatReply:
        self.last_messages = [dict(message) for message in messages]
        turn = sum(1 for message in messages if message["role"] == "assistant")
        return ChatReply(content=self.script[min(turn, len(self.script) - 1)])

    def tool_texts(self) -> tuple[str, ...]:
        """Each call's output text, from the tool-output user turns after the first assistant turn."""
        roles = [message["role"] for message in self.last_messages]
        first_answer = roles.index("assistant") if "assistant" in roles else len(roles)
        texts = []
        for message in self.last_messages[first_answer:]:
            if message["role"] != "user":
                continue
            flat = "".join(part["text"] if part["type"] == "text" else "<IMG>" for part in message["content"])
            texts += _EVAL_TOOL_TEXT.findall(flat)
        return tuple(texts)


def run_eval_episode(case: Case, sample: PreparedSample, tool_yaml, max_turns: int):
    endpoint = ScriptedEndpoint(case.script)
    # as `verl-pixel eval run --tool-config <the run's YAML> --max-turns N` builds it
    config = EpisodeConfig(ops=read_ops_config(tool_yaml), mode=case.mode, max_turns=max_turns)
    outcome = asyncio.run(run_episode(endpoint, sample, config))
    return outcome.record, endpoint.tool_texts()


# ---- the table ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "max_turns", "cases"), GROUPS, ids=["default", "max_images_4", "max_turns_2", "end_at_once"]
)
def test_training_and_evaluation_follow_one_rule_book(tiny_model_dir, tiny_tokenizer, tmp_path, overrides, max_turns,
                                                       cases):  # fmt: skip
    ops = ops_config(overrides=overrides)
    tool_yaml = write_tools_yaml(tmp_path / "tools.yaml", ops)
    rows = [eval_row(case) for case in cases]
    prepared = [prepare_sample(row, ops) for row in rows]
    training = run_training(tiny_model_dir, tiny_tokenizer, tool_yaml, max_turns, cases, rows, prepared)
    mismatches = {}
    for case, sample in zip(cases, prepared, strict=True):
        expected = (case.record, case.tool_texts)
        evaluation = run_eval_episode(case, sample, tool_yaml, max_turns)
        got = {"training": training[case.name], "evaluation": evaluation}
        wrong = {path: value for path, value in got.items() if value != expected}
        if wrong:
            mismatches[case.name] = {"expected": expected, **wrong}
    assert mismatches == {}, json.dumps(mismatches, indent=1, default=str)
