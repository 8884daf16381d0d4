"""A video row through verl's real AgentLoopWorker: the video as a video, select_frames, a crop of a frame, an answer.

The prompt holds one video item as verl's RLHFDataset builds it (16 frames of 84x56, frame i a flat colour
(10 i, 100, 200 - 10 i); ``min_pixels`` 4 and ``max_pixels`` 16 tokens of 28x28). PixelRLDataset decodes it with
qwen_vl_utils' rules (no torchvision here): fetch_image first rounds each frame to multiples of 56 (84 -> 112,
56 -> 56), within the budget, so the video is 16 frames of 112x56: grid (8, 4, 8), 8 temporal patches of 2 x 4
merged tokens = 64 ``<|video_pad|>``. Worked by hand:

* ``select_frames([3, 7])`` returns the decoded frames 3 and 7 (1-based over the 16 sampled frames, as Pixel
  Reasoner's ``execute_tool`` takes ``images[0][x - 1]``, experience_maker.py:1193) at the 400-token frame budget:
  112x56 stays, grid (1, 4, 8), 8 ``<|image_pad|>`` each; they are images 1 and 2 (the video is not an image).
* ``crop_image(image 2, [.25, .25, .75, .75])``: (28, 14, 84, 42) of 112x56, padded by 0.1 of the image (11.2, 5.6)
  -> (16.8, 8.4, 95.2, 47.6), cut outward (16, 8, 96, 48) = 80x40 -> smart_resize raises it to the 3136-px
  minimum: 84x56, grid (1, 4, 6), 6 pads; image 3.
* M-RoPE (verl's ``_compute_position_ids`` with transformers 5.10's ``get_rope_index``; verl passes no
  ``second_per_grid_ts``, so 1 s a temporal patch x ``tokens_per_second`` 2 = a step of 2): video token k at
  (t, h, w) = p0 + (2 (k // 8), (k // 4) % 2, k % 4); the text after it resumes at p0 + max(4, 8) / 2; an image
  block at q0 has (q0, q0 + k // grid_w, q0 + k % grid_w) and the text after it resumes at q0 + max(h, w) / 2.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from PIL import Image

from verl_pixel.record import StopReason, TrajectoryRecord
from verl_pixel.testing.agent_harness import call, image_prompt, scene, tools_yaml, video_prompt

FRAMES = [Image.new("RGB", (84, 56), (10 * i, 100, 200 - 10 * i)) for i in range(1, 17)]
VIDEO_KEYS = {"min_pixels": 4 * 28 * 28, "max_pixels": 16 * 28 * 28}
SELECT = "Frames 3 and 7." + call("select_frames", target_frames=[3, 7])
CROP = "Closer." + call("crop_image", bbox_2d=[0.25, 0.25, 0.75, 0.75], target_image=2)
FINAL = "It is \\boxed{7}."


def _colour(image: Image.Image) -> tuple[int, int, int]:
    (count, colour), *rest = image.getcolors(maxcolors=4)
    assert not rest and count == image.width * image.height
    return colour


def _record(out, i=0) -> TrajectoryRecord:
    return TrajectoryRecord.from_mapping({k: v[i] for k, v in out.non_tensor_batch.items()})


def _segments(out, tokenizer, i=0) -> list[tuple[int, str]]:
    resp, mask = out.batch["responses"][i].tolist(), out.batch["response_mask"][i].tolist()
    n = int(out.batch["attention_mask"][i, -len(resp) :].sum())
    return [
        (m, tokenizer.decode([t for t, _ in run]))
        for m, run in itertools.groupby(zip(resp[:n], mask[:n], strict=False), lambda x: x[1])
    ]


def _roll(rollouts, script, **keys):
    return rollouts.batch(script, [video_prompt(FRAMES, "Which digit?", **{**VIDEO_KEYS, **keys})], [0])


def test_video_select_frames_crop_answer_through_agent_loop_worker(rollouts, tiny_tokenizer):
    out, server = _roll(rollouts, [SELECT, CROP, FINAL])
    # Masks: model turn, tool turn, model turn, tool turn, model turn; 1 exactly on the model's tokens.
    segments = _segments(out, tiny_tokenizer)
    assert [m for m, _ in segments] == [1, 0, 1, 0, 1]
    assert [t for m, t in segments if m == 1] == [SELECT + "<|im_end|>", CROP + "<|im_end|>", FINAL + "<|im_end|>"]
    tool_texts = [t for m, t in segments if m == 0]
    assert "Images 1 to 2: frames 3, 7 of the video (112x56 each)." in tool_texts[0]
    assert "Image 3: crop of image 2 (84x56)." in tool_texts[1]
    # What the server was sent each turn: the video every time (decoded once: 16 frames 112x56 and qwen_vl_utils'
    # metadata for a list of frames), and the images so far in conversation order.
    assert [len(c.videos) for c in server.calls] == [1, 1, 1]
    frames, metadata = server.calls[-1].videos[0]
    assert tuple(frames.shape) == (16, 3, 56, 112)
    assert metadata == {
        "fps": 2.0,
        "frames_indices": list(range(16)),
        "total_num_frames": 16.0,
        "video_backend": "pyav",
    }
    assert [[(im.size, _colour(im)) for im in c.images] for c in server.calls] == [
        [],
        [((112, 56), (30, 100, 170)), ((112, 56), (70, 100, 130))],
        [((112, 56), (30, 100, 170)), ((112, 56), (70, 100, 130)), ((84, 56), (70, 100, 130))],
    ]
    # The processor's inputs of the whole trajectory: the video and the three images, in order.
    inputs = out.non_tensor_batch["multi_modal_inputs"][0]
    assert inputs["video_grid_thw"].tolist() == [[8, 4, 8]]
    assert inputs["image_grid_thw"].tolist() == [[1, 4, 8], [1, 4, 8], [1, 4, 6]]
    assert inputs["second_per_grid_ts"].tolist() == [1.0]  # 2 frames a patch at qwen_vl_utils' list rate, 2 fps
    # One <|video_pad|> run in the prompt, then the <|image_pad|> runs in the tool turns, each its grid / 4.
    valid = out.batch["attention_mask"][0].bool()
    ids = out.batch["input_ids"][0][valid].tolist()
    video_pad, image_pad = (tiny_tokenizer.convert_tokens_to_ids(t) for t in ("<|video_pad|>", "<|image_pad|>"))
    runs = [(token, len(list(run))) for token, run in itertools.groupby(ids) if token in (video_pad, image_pad)]
    assert runs == [(video_pad, 64), (image_pad, 8), (image_pad, 8), (image_pad, 6)]
    _check_positions(out.batch["position_ids"][0][:, valid], ids, video_pad, image_pad)
    assert _record(out) == TrajectoryRecord(
        mode=_record(out).mode, complied=True, ops_attempted=2, ops_succeeded=2, ops_failed=0, turns=3,
        images_added=3, tool_visual_tokens=22, stop_reason=StopReason.ANSWERED, answer_text=FINAL, video_input=True,
    )  # fmt: skip


def _check_positions(positions: torch.Tensor, ids: list[int], video_pad: int, image_pad: int) -> None:
    """The mixed sequence's positions (module docstring): row 0 text order, rows 1-3 M-RoPE (t, h, w)."""
    assert tuple(positions.shape) == (4, len(ids))
    assert positions[0].tolist() == list(range(len(ids)))
    rope = positions[1:]
    start = ids.index(video_pad)
    p0 = start  # only text before the video: positions 0 .. start - 1
    assert rope[:, :start].tolist() == [list(range(start))] * 3
    video = rope[:, start : start + 64]
    assert video[0].tolist() == [p0 + 2 * (k // 8) for k in range(64)]
    assert video[1].tolist() == [p0 + (k // 4) % 2 for k in range(64)]
    assert video[2].tolist() == [p0 + k % 4 for k in range(64)]
    assert rope[:, start + 64].tolist() == [p0 + 4] * 3  # <|vision_end|>
    blocks = [(first, length) for first, token, length in _runs(ids) if token == image_pad]
    for (first, length), grid_w in zip(blocks, (8, 8, 6), strict=True):
        q0 = int(rope[0, first - 1]) + 1  # right after the preceding text token, on every row
        block = rope[:, first : first + length]
        merged_w = grid_w // 2
        assert block[0].tolist() == [q0] * length
        assert block[1].tolist() == [q0 + k // merged_w for k in range(length)]
        assert block[2].tolist() == [q0 + k % merged_w for k in range(length)]
        assert rope[:, first + length].tolist() == [q0 + max(2, merged_w)] * 3


def _runs(ids: list[int]) -> list[tuple[int, int, int]]:
    """``(first index, token, length)`` of each run of equal tokens."""
    runs, start = [], 0
    for token, run in itertools.groupby(ids):
        length = len(list(run))
        runs.append((start, token, length))
        start += length
    return runs


@pytest.mark.parametrize(
    ("bad_turn", "message"),
    [
        (call("select_frames", target_frames=[0, 3]), "target_frames"),
        (call("select_frames", target_frames=[17]), "1 to 16"),
        (call("select_frames", target_frames=list(range(1, 10))), "at most 8"),
        (call("select_frames", target_frames=[2, 2]), "lists frame 2 more than once"),
        (call("select_frames", frames=[2]), "target_frames"),
        ('<tool_call>{"name": "select_frames", "arguments": {"target_frames": [1, </tool_call>', "not valid JSON"),
        (call("crop_image", bbox_2d=[0.1, 0.1, 0.5, 0.5]), "the input is a video: call select_frames first"),
    ],
)
def test_bad_frame_calls_on_a_video_are_answered(rollouts, tiny_tokenizer, bad_turn, message):
    out, server = _roll(rollouts, [bad_turn, FINAL])
    assert len(server.calls) == 2  # the trajectory went on after the error
    (tool,) = [t for m, t in _segments(out, tiny_tokenizer) if m == 0]
    assert message in tool and "<|image_pad|>" not in tool
    rec = _record(out)
    assert (rec.ops_attempted, rec.ops_succeeded, rec.ops_failed) == (1, 0, 1) and rec.answer_text == FINAL


def test_video_frames_do_not_count_and_selections_must_fit(make_rollouts, tiny_tokenizer, tmp_path):
    # max_images 4: the 16 frames of the video do not count; 5 frames do not fit, 4 do, then the budget is spent.
    rollouts = make_rollouts(
        f"actor_rollout_ref.rollout.multi_turn.tool_config_path={tools_yaml(tmp_path, max_images=4)}"
    )
    five = call("select_frames", target_frames=[1, 2, 3, 4, 5])
    four = call("select_frames", target_frames=[1, 2, 3, 4])
    out, _ = _roll(rollouts, [five, four, call("select_frames", target_frames=[9]), FINAL])
    tools = [t for m, t in _segments(out, tiny_tokenizer) if m == 0]
    assert "target_frames asks for 5 frames but only 4 more images fit in this conversation" in tools[0]
    assert "Images 1 to 4: frames 1, 2, 3, 4 of the video (112x56 each)." in tools[1]
    assert "this conversation already has 4 images besides the video's frames, the maximum" in tools[2]
    assert out.non_tensor_batch["multi_modal_inputs"][0]["image_grid_thw"].tolist() == [[1, 4, 8]] * 4


def test_select_frames_on_an_image_row_gets_the_existing_message(rollouts, tiny_tokenizer):
    out, _ = rollouts.batch([call("select_frames", target_frames=[1]), FINAL], [image_prompt([scene()], "?")], [0])
    (tool,) = [t for m, t in _segments(out, tiny_tokenizer) if m == 0]
    assert "select_frames works on a video and this conversation has none; use crop_image" in tool


def test_qwen3_vl_video_row_with_frame_timestamps_through_agent_loop_worker(processor_of, tiny_model_of):
    """Qwen3-VL: the video is one block of frames, each with its timestamp, each its own M-RoPE block.

    8 frames of 84x56 at ``min_pixels`` 4 and ``max_pixels`` 16 tokens of 32x32: fetch_image's factor is 64
    (qwen_vl_utils passes 2 x 16 x 2), 84x56 -> 64x64, kept by the video budget: grid (4, 4, 4), 4 temporal
    patches of 2 x 2 merged tokens. Qwen3-VL's processor writes each temporal patch as ``<t seconds>`` and its own
    vision block; t is the mean time of the patch's 2 frames at qwen_vl_utils' list rate of 2 fps: 0.25 s ->
    "0.2", 1.25 -> "1.2", ... The selected frames 3 and 7 are 64x64, below Qwen3-VL's 65536-px minimum: 256x256,
    grid (1, 16, 16), 64 pads. transformers' Qwen3-VL ``get_rope_index``: every frame and image block starts at the
    next text position q with t = q, h = q + row, w = q + column; the text after it resumes at q + max(h, w) / 2.
    """
    from verl_pixel.testing.agent_harness import Rollouts

    processor = processor_of("qwen3_vl")
    tokenizer = processor.tokenizer
    rollouts = Rollouts(tiny_model_of("qwen3_vl"), tokenizer, ["data.image_patch_size=16"])
    frames = [Image.new("RGB", (84, 56), (10 * i, 100, 200 - 10 * i)) for i in range(1, 9)]
    select = "Frames." + call("select_frames", target_frames=[3, 7])
    prompt = video_prompt(frames, "Which digit?", min_pixels=4 * 32 * 32, max_pixels=16 * 32 * 32)
    out, server = rollouts.batch([select, FINAL], [prompt], [0])
    assert [m for m, _ in _segments(out, tokenizer)] == [1, 0, 1]
    inputs = out.non_tensor_batch["multi_modal_inputs"][0]
    assert inputs["video_grid_thw"].tolist() == [[4, 4, 4]]
    assert inputs["image_grid_thw"].tolist() == [[1, 16, 16]] * 2
    frames_sent, metadata = server.calls[-1].videos[0]
    assert tuple(frames_sent.shape) == (8, 3, 64, 64) and metadata["fps"] == 2.0
    assert [im.size for im in server.calls[-1].images] == [(256, 256)] * 2
    valid = out.batch["attention_mask"][0].bool()
    ids = out.batch["input_ids"][0][valid].tolist()
    text = tokenizer.decode(ids)
    stamps = "".join(
        f"<{t} seconds><|vision_start|>{'<|video_pad|>' * 4}<|vision_end|>" for t in ("0.2", "1.2", "2.2", "3.2")
    )
    assert f"<|vision_start|>{stamps}<|vision_end|>Which digit?" in text
    assert "Images 1 to 2: frames 3, 7 of the video (256x256 each)." in text
    video_pad, image_pad = (tokenizer.convert_tokens_to_ids(t) for t in ("<|video_pad|>", "<|image_pad|>"))
    blocks = [(first, token, length) for first, token, length in _runs(ids) if token in (video_pad, image_pad)]
    assert [(token, length) for _, token, length in blocks] == [(video_pad, 4)] * 4 + [(image_pad, 64)] * 2
    rope = out.batch["position_ids"][0][1:, valid]
    for first, _, length in blocks:
        side = 2 if length == 4 else 8  # merged tokens per row
        q0 = int(rope[0, first - 1]) + 1
        block = rope[:, first : first + length]
        assert block[0].tolist() == [q0] * length
        assert block[1].tolist() == [q0 + k // side for k in range(length)]
        assert block[2].tolist() == [q0 + k % side for k in range(length)]
        assert rope[:, first + length].tolist() == [q0 + side] * 3
