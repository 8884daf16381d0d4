"""Token-by-token loss masks of PixelSFTDataset with the tiny processors (Qwen2.5-VL; Qwen3-VL where shared).

The trained tokens of a recrop-twice trajectory are exactly the correct crop call (with the text leading to it)
and the final analysis with the answer; the two wrong calls and every tool output are not trained; and the
per-message token ids equal rendering the whole conversation (verl's sanity check, mismatch not ignored).
"""

from __future__ import annotations

import itertools
import json

import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

from verl_pixel.data.parquet_io import write_sft_parquet
from verl_pixel.data.sft_dataset import PixelSFTDataset
from verl_pixel.data.synthesize import synthesize
from verl_pixel.model_family import family_spec
from verl_pixel.ops import OutputStyle

ONLY_RECROP_TWICE = {"single_pass": 0.0, "recrop_once": 0.0, "recrop_twice": 1.0, "further_zoom": 0.0, "text_only": 0.0}


def _dataset(path, processor, **config):
    options = {
        "max_length": 16384,
        "pad_mode": "no_padding",
        "truncation": "error",
        "ignore_input_ids_mismatch": False,
        **config,
    }
    return PixelSFTDataset(str(path), processor.tokenizer, OmegaConf.create(options), processor=processor)


def _trained_spans(sample, tokenizer) -> list[str]:
    ids, mask = sample["input_ids"].tolist(), sample["loss_mask"].tolist()
    spans, current = [], []
    for token, flag in zip(ids, mask, strict=True):
        if flag:
            current.append(token)
        elif current:
            spans.append(current)
            current = []
    if current:
        spans.append(current)
    return [tokenizer.decode(span, skip_special_tokens=False) for span in spans]


def _call_text(message) -> str:
    function = message["tool_calls"][0]["function"]
    return f'\n<tool_call>\n{{"name": "{function["name"]}", "arguments": {function["arguments"]}}}\n</tool_call>'


def _synthesized(make_seeds, fast_synthesis_config, tmp_path, style=OutputStyle.QWEN, family="qwen2_5_vl", **shares):
    # Small crops: 16 visual tokens (Qwen2.5-VL); Qwen3-VL's processor never goes below its 64-token minimum.
    spec = family_spec(family)
    tokens = max(16, spec.ops_config().min_pixels // spec.factor**2)
    ops = spec.ops_config(crop_max_pixels=spec.pixels(tokens), output_style=style)
    config = fast_synthesis_config(ops=ops, **shares)
    result = synthesize(make_seeds(2, 0), config)
    return result.rows, write_sft_parquet(result.rows, tmp_path / "rows.parquet")


# The Pixel Reasoner layout continues Qwen2.5-VL checkpoints; the Qwen layout is every family's.
@pytest.mark.parametrize(
    ("family", "style"),
    [("qwen2_5_vl", OutputStyle.QWEN), ("qwen2_5_vl", OutputStyle.PIXEL_REASONER), ("qwen3_vl", OutputStyle.QWEN)],
)
def test_recrop_twice_trains_exactly_the_correct_call_and_the_answer(
    family, style, make_seeds, fast_synthesis_config, processor_of, tmp_path
):
    tiny_processor = processor_of(family)
    rows, path = _synthesized(make_seeds, fast_synthesis_config, tmp_path, style, family, **ONLY_RECROP_TWICE)
    dataset = _dataset(path, tiny_processor)
    messages = rows[0]["messages"]
    observation = "tool" if style is OutputStyle.QWEN else "user"
    assert [m["role"] for m in messages] == ["user", *["assistant", observation] * 3, "assistant"]
    assert all(m.get("tool_output") for m in messages[2::2]) or style is OutputStyle.QWEN
    wrong1, wrong2, correct, answer = (m for m in messages if m["role"] == "assistant")
    assert [wrong1["loss_mask"], wrong2["loss_mask"], correct["loss_mask"], answer["loss_mask"]] == [0, 0, 1, 1]

    sample = dataset[0]
    spans = _trained_spans(sample, tiny_processor.tokenizer)
    assert spans == [
        correct["content"] + _call_text(correct) + "<|im_end|>\n",
        answer["content"] + "<|im_end|>\n",
    ]
    masked_text = tiny_processor.tokenizer.decode(sample["input_ids"][sample["loss_mask"] == 0])
    for wrong in (wrong1, wrong2):
        arguments = wrong["tool_calls"][0]["function"]["arguments"]
        assert arguments in masked_text and all(arguments not in span for span in spans)
    # Tool outputs carry the image pads; none of them is trained.
    image_pad = tiny_processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert (sample["input_ids"] == image_pad).sum() > 0
    assert sample["loss_mask"][sample["input_ids"] == image_pad].sum() == 0
    assert sample["multi_modal_inputs"]["image_grid_thw"].shape[0] == 4  # input + 3 crops


CROP_SCHEMA = {
    "type": "function",
    "function": {
        "name": "crop_image",
        "description": "Crop a region.",
        "parameters": {"type": "object", "properties": {"bbox_2d": {"type": "array"}}, "required": ["bbox_2d"]},
    },
}


def test_concatenated_ids_equal_whole_conversation(family_processor, tmp_path, media_dir):
    tiny_processor = family_processor  # the same hand-written expectation holds for every family's template
    arguments = '{"bbox_2d": [0.1, 0.2, 0.5, 0.6]}'
    call = {"type": "function", "function": {"name": "crop_image", "arguments": arguments}}
    row = {
        "messages": [
            {"role": "user", "content": "<image>What is on the tag?"},
            {"role": "assistant", "content": "Let me look.", "tool_calls": [call], "loss_mask": 0},
            {"role": "tool", "content": "<image>Image 2: crop of image 1."},
            {"role": "assistant", "content": "It says 7. \\boxed{7}"},
        ],
        "images": [{"path": str(media_dir / "img0.png")}, {"path": str(media_dir / "img1.png")}],
        "tools": json.dumps([CROP_SCHEMA]),
    }
    dataset = _dataset(write_sft_parquet([row], tmp_path / "r.parquet"), tiny_processor)
    # The conversation as the processor takes it, written out by hand: each <image> becomes an image item in
    # placeholder order, text around it a text item.
    image_1, image_2 = (Image.open(media_dir / name).convert("RGB") for name in ("img0.png", "img1.png"))
    messages = [
        {"role": "user", "content": [{"type": "image", "image": image_1},
                                     {"type": "text", "text": "What is on the tag?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Let me look."}], "tool_calls": [call]},
        {"role": "tool", "content": [{"type": "image", "image": image_2},
                                     {"type": "text", "text": "Image 2: crop of image 1."}]},
        {"role": "assistant", "content": [{"type": "text", "text": "It says 7. \\boxed{7}"}]},
    ]  # fmt: skip
    whole = tiny_processor.apply_chat_template(
        messages, tools=[CROP_SCHEMA], add_generation_prompt=False, tokenize=True, return_dict=True, return_tensors="pt"
    )
    sample = dataset[0]
    assert torch.equal(sample["input_ids"], whole["input_ids"][0])
    assert dataset.tools[0] == [CROP_SCHEMA]  # tools stored as JSON text come back as schemas
    # Only the final answer is trained (the call's message has loss_mask 0; tool outputs never train).
    assert _trained_spans(sample, tiny_processor.tokenizer) == ["It says 7. \\boxed{7}<|im_end|>\n"]


def test_loss_mask_zero_on_every_assistant_trains_nothing(tiny_processor, tmp_path, media_dir):
    row = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "<image>What is shown?"},
            {"role": "assistant", "content": "A square.", "loss_mask": 0},
            {"role": "user", "content": "And its colour?"},
            {"role": "assistant", "content": "Red.", "loss_mask": 1},
        ],
        "images": [{"path": str(media_dir / "img0.png")}],
    }
    dataset = _dataset(write_sft_parquet([row], tmp_path / "r.parquet"), tiny_processor)
    assert _trained_spans(dataset[0], tiny_processor.tokenizer) == ["Red.<|im_end|>\n"]


def test_video_stays_a_video_and_selected_frames_are_tool_images(
    make_seeds, fast_synthesis_config, tiny_processor, tmp_path
):
    config = fast_synthesis_config(video_single_pass=0.0, video_reselect=1.0, text_only=0.0)
    result = synthesize(make_seeds(0, 1), config)
    row = result.rows[0]
    assert row["videos"] == [
        {"video": row["videos"][0]["video"], "max_pixels": 16 * 28 * 28, "min_pixels": 4 * 28 * 28}
    ]
    sample = _dataset(write_sft_parquet(result.rows, tmp_path / "v.parquet"), tiny_processor)[0]
    selected = [
        len(json.loads(m["tool_calls"][0]["function"]["arguments"])["target_frames"])
        for m in row["messages"]
        if m.get("tool_calls")
    ]
    # The 16 frames of 64x48 are one video: 56x56 under the video budget (fetch_image rounds to 56, within 4 to 16
    # tokens), 8 temporal patches of 4x4 patches -> 8 * 16 / 4 = 32 <|video_pad|>. The selected frames (a wrong
    # selection, then the right one) are the tool turns' images: 56x56 each under the 8-token frame budget, 4 pads.
    inputs = sample["multi_modal_inputs"]
    assert inputs["video_grid_thw"].tolist() == [[8, 4, 4]]
    assert inputs["image_grid_thw"].tolist() == [[1, 4, 4]] * sum(selected) and len(selected) == 2
    tokenizer = tiny_processor.tokenizer
    ids = sample["input_ids"].tolist()
    runs = [(token, len(list(run))) for token, run in itertools.groupby(ids) if token in _pad_ids(tokenizer)]
    video_pad, image_pad = _pad_ids(tokenizer)
    assert runs == [(video_pad, 32)] + [(image_pad, 4)] * sum(selected)
    assert tuple(sample["position_ids"].shape) == (4, len(ids))  # text + 3 M-RoPE rows, verl's SFT layout
    spans = _trained_spans(sample, tokenizer)
    assert len(spans) == 2 and "select_frames" in spans[0] and "\\boxed{" in spans[1]


def _pad_ids(tokenizer) -> tuple[int, int]:
    return tokenizer.convert_tokens_to_ids("<|video_pad|>"), tokenizer.convert_tokens_to_ids("<|image_pad|>")
