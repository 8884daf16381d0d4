"""pixel_agent through verl's real AgentLoopWorker: masks, image tokens, modes, malformed calls, limits."""

from __future__ import annotations

import itertools

import pytest
import torch

from verl_pixel.record import RolloutMode, StopReason, TrajectoryRecord
from verl_pixel.testing.agent_harness import call, image_prompt, scene, tools_yaml

FINAL = "It is \\boxed{red}."
CROP = "Let me look." + call(bbox_2d=[0.1, 0.1, 0.5, 0.5])
CROP_OF_CROP = "Closer." + call(bbox_2d=[0.25, 0.25, 0.75, 0.75], target_image=2)


def record(out, i=0) -> TrajectoryRecord:
    return TrajectoryRecord.from_mapping({k: v[i] for k, v in out.non_tensor_batch.items()})


def segments(out, tokenizer, i=0) -> list[tuple[int, str]]:
    """The response as (mask, decoded text) runs, padding excluded."""
    resp, mask = out.batch["responses"][i].tolist(), out.batch["response_mask"][i].tolist()
    n = int(out.batch["attention_mask"][i, -len(resp) :].sum())
    return [
        (m, tokenizer.decode([t for t, _ in run]))
        for m, run in itertools.groupby(zip(resp[:n], mask[:n], strict=False), lambda x: x[1])
    ]


def pad_runs(ids: list[int], pad_id: int) -> list[int]:
    return [len(list(run)) for is_pad, run in itertools.groupby(ids, lambda t: t == pad_id) if is_pad]


def tool_texts(out, tokenizer, i=0) -> list[str]:
    return [text for mask, text in segments(out, tokenizer, i) if mask == 0]


# Per family, worked by hand. Input 320x240 -> the model's view by smart_resize (factor 28: 308x252; factor 32:
# 320x256). Crop 1 is [.1,.1,.5,.5] of image 1 (Qwen2.5-VL: normalized fractions; Qwen3-VL: relative1000), i.e.
# (32,24,160,120) of the 320x240 original, padded by 0.1 of the image per side -> (0,0,192,144), resized within
# the crop budget: 196x140 (28) / 320x224 (32: 192x144 is under Qwen3-VL's 65536-px minimum, scaled up by
# sqrt(65536/27648) and rounded up to multiples of 32). Crop 2 is [.25,.75] of image 2, padded by 0.1 of image 2:
# Qwen2.5-VL (48,36,144,108) -> 134x100 of the original -> 140x112; Qwen3-VL (28,21,164,123) -> 136x102 -> 320x224.
THREE_TURNS = {
    "qwen2_5_vl": {
        "boxes": ([0.1, 0.1, 0.5, 0.5], [0.25, 0.25, 0.75, 0.75]),
        "sizes": [(308, 252), (196, 140), (140, 112)],
        "grids": [[1, 18, 22], [1, 10, 14], [1, 8, 10]],
        "pad_runs": [99, 35, 20],
    },
    "qwen3_vl": {
        "boxes": ([100, 100, 500, 500], [250, 250, 750, 750]),
        "sizes": [(320, 256), (320, 224), (320, 224)],
        "grids": [[1, 16, 20], [1, 14, 20], [1, 14, 20]],
        "pad_runs": [80, 70, 70],
    },
}


def test_three_turn_crop_of_crop_trajectory(family, family_rollouts, family_tokenizer):
    expected = THREE_TURNS[family]
    crop = "Let me look." + call(bbox_2d=expected["boxes"][0])
    recrop = "Closer." + call(bbox_2d=expected["boxes"][1], target_image=2)
    out, server = family_rollouts.one([crop, recrop, FINAL])
    # Response: model turn, tool turn, model turn, tool turn, model turn; mask 1 exactly on the model's tokens.
    segs = segments(out, family_tokenizer)
    assert [m for m, _ in segs] == [1, 0, 1, 0, 1]
    assert [t for m, t in segs if m == 1] == [crop + "<|im_end|>", recrop + "<|im_end|>", FINAL + "<|im_end|>"]
    # Images in conversation order, as the server saw them; each call shows the model every image so far.
    sizes = expected["sizes"]
    assert [[im.size for im in c.images] for c in server.calls] == [sizes[:1], sizes[:2], sizes]
    assert f"Image 3: crop of image 2 ({sizes[2][0]}x{sizes[2][1]})." in tool_texts(out, family_tokenizer)[1]
    # One <|image_pad|> run per image, in order, each grid.prod()/4 long.
    grid = out.non_tensor_batch["multi_modal_inputs"][0]["image_grid_thw"]
    assert grid.tolist() == expected["grids"]
    pad_id = family_tokenizer.convert_tokens_to_ids("<|image_pad|>")
    ids = out.batch["input_ids"][0][out.batch["attention_mask"][0].bool()].tolist()
    assert pad_runs(ids, pad_id) == expected["pad_runs"] == (grid.prod(-1) // 4).tolist()
    # verl's position ids: a text row, then the family's M-RoPE rows (temporal, height, width). Over the first
    # image's tokens, a merged h x w grid: t constant, h = row index, w = column index, all offset by the
    # image's start; text before it counts 0, 1, 2, ... in every row.
    positions = out.batch["position_ids"]
    assert tuple(positions.shape) == (1, 4, out.batch["input_ids"].shape[1])
    live = positions[0][:, out.batch["attention_mask"][0].bool()]
    start, (h, w) = ids.index(pad_id), (grid[0][1] // 2, grid[0][2] // 2)
    assert live[:, :start].tolist() == [list(range(start))] * 4
    image = live[1:, start : start + h * w]
    assert image[0].tolist() == [start] * (h * w)
    assert image[1].tolist() == [start + row for row in range(h) for _ in range(w)]
    assert image[2].tolist() == [start + col for _ in range(h) for col in range(w)]
    assert record(out) == TrajectoryRecord(
        mode=RolloutMode.ADAPTIVE, complied=True, ops_attempted=2, ops_succeeded=2, ops_failed=0, turns=3,
        images_added=2, tool_visual_tokens=sum(expected["pad_runs"][1:]), stop_reason=StopReason.ANSWERED,
        answer_text=FINAL,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("bad_turn", "message"),
    [
        # Bad JSON: verl's hermes parser would drop this call and end the trajectory as if it were an answer.
        ('<tool_call>{"name": "crop_image", "arguments": {"bbox_2d": [1, 2</tool_call>', "not valid JSON"),
        (call("rotate_image", angle=90), 'unknown tool "rotate_image"; available: crop_image, select_frames'),
        (call(bbox_2d=[0.1, 0.2, 0.3]), "bbox_2d"),
        (call(bbox_2d=[0.1, 0.1, 0.5, 0.5], target_image=7), "target_image"),
        (call("select_frames", target_frames=[1]), "select_frames"),
    ],
)
def test_malformed_calls_are_answered_and_the_model_continues(rollouts, tiny_tokenizer, bad_turn, message):
    out, server = rollouts.one([bad_turn, FINAL])
    assert len(server.calls) == 2  # the trajectory went on after the error
    (tool,) = tool_texts(out, tiny_tokenizer)
    assert message in tool and "<|image_pad|>" not in tool
    rec = record(out)
    assert (rec.ops_attempted, rec.ops_succeeded, rec.ops_failed) == (1, 0, 1)
    assert rec.stop_reason is StopReason.ANSWERED and rec.answer_text == FINAL


def test_alias_reaches_crop_tool(rollouts):
    out, _ = rollouts.one([call("zoom_in", bbox_2d=[0.1, 0.1, 0.5, 0.5]), FINAL])
    assert (record(out).ops_succeeded, record(out).images_added) == (1, 1)


LAYOUT = ("+pixel.rollout.mode_layout.adaptive=1", "+pixel.rollout.mode_layout.force_tool=1",
          "+pixel.rollout.mode_layout.no_tool=1")  # fmt: skip


def test_modes_follow_session_ids_and_are_enforced(make_rollouts, tiny_tokenizer):
    r = make_rollouts(*LAYOUT)

    def script(c):  # the question says whether this trajectory crops first or answers at once
        return CROP if c.turn == 0 and "Crop first." in tiny_tokenizer.decode(c.prompt_ids) else FINAL

    prompts = [image_prompt([scene()], q) for q in ["Crop first."] * 3 + ["Answer now."] * 3]
    out, server = r.batch(script, prompts, session_ids=[0, 1, 2, 0, 1, 2])
    recs = [record(out, i) for i in range(6)]
    assert [rec.mode for rec in recs] == [RolloutMode.ADAPTIVE, RolloutMode.FORCE_TOOL, RolloutMode.NO_TOOL] * 2
    crop, answer = recs[:3], recs[3:]
    # adaptive: always compliant. force_tool: compliant only with a successful operation.
    # no_tool: its call is refused (counted as a failed attempt) and makes it non-compliant.
    assert [(r.ops_attempted, r.ops_succeeded, r.complied) for r in crop] == [(1, 1, True), (1, 1, True), (1, 0, False)]
    assert [(r.ops_attempted, r.complied) for r in answer] == [(0, True), (0, False), (0, True)]
    assert "no visual operations are available here" in tool_texts(out, tiny_tokenizer, 2)[0]
    first = [tiny_tokenizer.decode(c.prompt_ids) for c in sorted(server.calls, key=lambda c: c.turn) if c.turn == 0]
    assert sum("<tools>" not in text for text in first) == 2  # no_tool rollouts are offered no tools
    assert sum("must inspect the image with at least one visual operation" in text for text in first) == 2


def test_modes_follow_the_rows_probe_plan(make_rollouts, caplog):
    # The static layout says adaptive, force_tool, no_tool; each row's plan (written by PixelRLDataset when the
    # necessity memory is on) overrides it: adaptive first, then force_tool, then no_tool.
    r = make_rollouts(*LAYOUT)
    leaning = {"key": "a", "adaptive": 1, "force_tool": 0, "no_tool": 2, "reason": "leaning"}
    settled = {"key": "b", "adaptive": 2, "force_tool": 0, "no_tool": 0, "reason": "settled"}
    broken = {"key": "c", "adaptive": -1, "force_tool": 0, "no_tool": 0}
    infos = [{"pixel_probe_plan": plan} for plan in [leaning] * 3 + [settled] * 2 + [broken] * 3]
    prompts = [image_prompt([scene()], "Answer now.")] * 8
    out, _ = r.batch(lambda c: FINAL, prompts, session_ids=[0, 1, 2, 0, 1, 0, 1, 2], columns={"extra_info": infos})
    ADAPT, FORCE, NO = RolloutMode.ADAPTIVE, RolloutMode.FORCE_TOOL, RolloutMode.NO_TOOL
    assert [record(out, i).mode for i in range(8)] == [ADAPT, NO, NO, ADAPT, ADAPT, ADAPT, FORCE, NO]
    assert "pixel_probe_plan.adaptive: expected an integer >= 0" in caplog.text  # and the static layout ran


def test_operation_budget_warns_once_then_ends(make_rollouts, tmp_path, tiny_tokenizer):
    r = make_rollouts("actor_rollout_ref.rollout.multi_turn.max_assistant_turns=10")
    out, server = r.one([CROP])  # the model crops forever
    rec = record(out)
    # 4 allowed operations; the 5th call is told the budget is spent; the 6th turn's call ends the trajectory
    # before it runs (so it is not counted).
    assert len(server.calls) == 6
    assert (rec.ops_attempted, rec.ops_succeeded, rec.ops_failed) == (5, 4, 1)
    assert rec.stop_reason is StopReason.MAX_OPERATIONS
    assert "used all 4 visual operations" in tool_texts(out, tiny_tokenizer)[-1]


def test_image_budget_warns_once_then_ends(make_rollouts, tmp_path, tiny_tokenizer):
    path = tools_yaml(tmp_path, max_images=3)
    r = make_rollouts(
        "actor_rollout_ref.rollout.multi_turn.max_assistant_turns=10",
        f"actor_rollout_ref.rollout.multi_turn.tool_config_path={path}",
    )
    out, _ = r.one([CROP])
    rec = record(out)
    # input + 2 crops = 3 images; the third crop is refused, the next call ends the trajectory.
    assert (rec.images_added, rec.ops_failed, rec.stop_reason) == (2, 1, StopReason.MAX_IMAGES)


def test_turn_limit_stops_with_reason(make_rollouts):
    r = make_rollouts("actor_rollout_ref.rollout.multi_turn.max_assistant_turns=2")
    out, _ = r.one([CROP])
    rec = record(out)
    assert (rec.turns, rec.ops_succeeded, rec.stop_reason) == (2, 1, StopReason.MAX_TURNS)


def test_truncation_at_every_position_of_a_tool_turn_keeps_images_whole(rollouts, tiny_tokenizer):
    small = scene(size=(112, 112))
    full, _ = rollouts.one([CROP, FINAL], image=small)
    mask = full.batch["response_mask"][0].tolist()
    start = mask.index(0)  # first tool token
    end = start + mask[start:].index(1)  # first model token after the tool turn
    pad_id = tiny_tokenizer.convert_tokens_to_ids("<|image_pad|>")
    for limit in range(start - 1, end + 3):
        out, _ = rollouts.one([CROP, FINAL], image=small, response_length=limit)
        ids = out.batch["input_ids"][0][out.batch["attention_mask"][0].bool()].tolist()
        grid = out.non_tensor_batch["multi_modal_inputs"][0]["image_grid_thw"]
        # Every image has exactly its features' worth of tokens, whatever the cut (verl#4050).
        assert pad_runs(ids, pad_id) == (grid.prod(-1) // 4).tolist(), limit
        assert ids.count(tiny_tokenizer.convert_tokens_to_ids("<|vision_start|>")) == len(grid), limit
        rec = record(out)
        tool_turn_fits = limit > end  # verl appends a tool turn only if the response stays under the limit
        assert rec.images_added == int(tool_turn_fits) == len(grid) - 1, limit
        assert int(out.batch["response_mask"][0].sum()) <= limit


def test_log_probs_and_mask_align(rollouts):
    import asyncio

    from verl_pixel.testing.agent_harness import make_worker, prompt_batch
    from verl_pixel.testing.fake_server import ScriptedLLMServer

    # Each generated token reports its own log-prob, -id/1e5, so a log-prob shifted by one position (or taken from
    # another turn) shows; tool-output tokens are no model output and carry 0.
    server = ScriptedLLMServer(rollouts.tokenizer, [CROP, FINAL], log_prob=lambda token: -token / 1e5)
    batch = prompt_batch([image_prompt([scene()], "What color is the square?")], session_ids=[0])
    out = asyncio.run(make_worker(rollouts.config, server).generate_sequences(batch))
    mask = out.batch["response_mask"][0].bool()
    lp, ids = out.batch["rollout_log_probs"][0], out.batch["responses"][0]
    generated = [t for call in server.calls for t in server._encode(server._text(call))]
    assert ids[mask].tolist() == generated  # the model's tokens are exactly the trained ones, in order
    assert torch.equal(lp[mask], -ids[mask].to(lp.dtype) / 1e5) and torch.all(lp[~mask] == 0)


def test_default_agent_loop_selects_pixel_agent_without_agent_name_column(rollouts):
    import asyncio

    from verl_pixel.testing.agent_harness import make_worker, prompt_batch
    from verl_pixel.testing.fake_server import ScriptedLLMServer

    batch = prompt_batch([image_prompt([scene()], "What color?")])
    del batch.non_tensor_batch["agent_name"]  # verl falls back to rollout.agent.default_agent_loop=pixel_agent
    server = ScriptedLLMServer(rollouts.tokenizer, [CROP, FINAL])
    out = asyncio.run(make_worker(rollouts.config, server).generate_sequences(batch))
    assert record(out).ops_succeeded == 1 and out.non_tensor_batch["pixel/mode"][0] == "adaptive"


def test_two_calls_in_one_turn_are_both_answered(rollouts, tiny_tokenizer):
    # verl runs only max_parallel_calls (default 1) calls of a turn; pixel_agent answers every call of a turn.
    two = CROP + call(bbox_2d=[0.5, 0.5, 0.9, 0.9])
    out, server = rollouts.one([two, FINAL])
    rec = record(out)
    assert (rec.ops_attempted, rec.ops_succeeded, rec.images_added) == (2, 2, 2)
    assert [c.num_images for c in server.calls] == [1, 3]


def test_crop_tool_registered_under_an_alias_name_still_answers_crop_image(make_rollouts, tmp_path):
    import yaml

    from verl_pixel.configs import PIXEL_TOOLS_YAML

    data = yaml.safe_load(PIXEL_TOOLS_YAML.read_text())
    data["tools"][0]["tool_schema"]["function"]["name"] = "image_zoom_in_tool"  # as DeepEyes-style configs do
    path = tmp_path / "alias_tools.yaml"
    path.write_text(yaml.safe_dump(data))
    r = make_rollouts(f"actor_rollout_ref.rollout.multi_turn.tool_config_path={path}")
    out, _ = r.one([CROP, FINAL])  # the model says crop_image
    assert record(out).ops_succeeded == 1


def test_qwen3_reads_a_qwen25_style_pixel_box_as_relative1000(qwen3_rollouts):
    # [40, 40, 80, 80] are the red square's pixels, as a Qwen2.5-VL model would write them. A Qwen3-VL run reads
    # them in its own convention: 4%..8% of the 320x256 view = (12.8,10.24,25.6,20.48), padded by 0.1 of the view
    # (32, 25.6) and clamped -> (0,0,57.6,46.08) -> (0,0,57.6,43.2) of the 320x240 original -> cut (0,0,58,44) ->
    # scaled up to 320x224. Only the square's top-left corner (x, y >= 40 of the original) is in that crop.
    out, server = qwen3_rollouts.one([call(bbox_2d=[40, 40, 80, 80]), FINAL])
    assert record(out).ops_succeeded == 1
    crop = server.calls[1].images[1].convert("RGB")
    assert crop.size == (320, 224)
    assert crop.getpixel((100, 100)) == (255, 255, 255)  # original (18, 20): outside the square
    red, green, blue = crop.getpixel((300, 220))  # original (54, 43): inside it
    assert red > 200 and green < 60 and blue < 60


def test_qwen3_box_out_of_range_gets_the_specific_message(qwen3_rollouts):
    out, _ = qwen3_rollouts.one([call(bbox_2d=[1200, 1200, 1400, 1400]), FINAL])
    (tool,) = tool_texts(out, qwen3_rollouts.tokenizer)
    assert (
        "bbox_2d [1200, 1200, 1400, 1400] lies outside image 1. "
        "bbox_2d is 0-1000 of image 1's size: 0 <= x1 < x2 <= 1000, 0 <= y1 < y2 <= 1000." in tool
    )
    assert (record(out).ops_failed, record(out).stop_reason) == (1, StopReason.ANSWERED)


@pytest.mark.parametrize("backend", ["sglang", "vllm", "hf"])
def test_sglang_requests_ban_the_vision_placeholders_as_verls_vllm_server_does(make_rollouts, tiny_tokenizer, backend):
    out, server = make_rollouts(f"actor_rollout_ref.rollout.name={backend}").one([CROP, FINAL])
    assert record(out).ops_succeeded == 1  # a two-turn trajectory: every request carries the ban
    pads = sorted(tiny_tokenizer.convert_tokens_to_ids(token) for token in ("<|image_pad|>", "<|video_pad|>"))
    expected = {str(token): float("-inf") for token in pads} if backend == "sglang" else None
    assert len(server.calls) == 2
    for request in server.calls:
        assert request.sampling_params.get("logit_bias") == expected  # vLLM bans them in verl; hf in its server
        assert {"temperature", "top_p", "top_k"} <= set(request.sampling_params)  # verl's own parameters kept
