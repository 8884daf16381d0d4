"""Importing Pixel Reasoner's SFT message lists: placeholders, observation turns, last-two masking, tokenization."""

from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from verl_pixel.data.parquet_io import write_sft_parquet
from verl_pixel.data.pixel_reasoner_import import (
    PixelReasonerImportConfig,
    import_pixel_reasoner,
    import_pixel_reasoner_file,
)
from verl_pixel.data.sft_dataset import PixelSFTDataset

CALL = '<tool_call>\n{"name": "crop_image_normalized", "arguments": {"bbox_2d": [0.1, 0.1, 0.3, 0.3], "target_image": 1}}\n</tool_call>'  # noqa: E501


def _item(frames=None):
    first_user = (
        [{"image": "img0.png"}, {"text": "How many dots?"}] if frames is None else [{"video": frames}, {"text": "Q?"}]
    )
    return {
        "question_image_path": "img0.png",
        "message_list": [
            {"role": "system", "content": [{"text": "You are a helpful assistant.\n\n# Tools\n..."}]},
            {"role": "user", "content": first_user},
            {"role": "assistant", "content": [{"text": "Let me zoom in. " + CALL}]},
            {
                "role": "user",
                "content": [{"text": "\nHere is the cropped image (Image Size: 56x56):"}, {"image": "img1.png"}],
            },
            {"role": "assistant", "content": [{"type": "text", "text": "Wrong area, again. " + CALL}]},
            {
                "role": "user",
                "content": [{"text": "\nHere is the cropped image (Image Size: 56x56):"}, {"image": "img2.png"}],
            },
            {"role": "assistant", "content": [{"text": "There are \\boxed{3} dots."}]},
        ],
    }


def test_items_become_rows_with_observations_and_last_two_masks(media_dir, tmp_path):
    source = tmp_path / "pr.json"
    source.write_text(json.dumps([_item(), _item(frames=["frame01.png", "frame02.png"])]))
    result = import_pixel_reasoner_file(source, PixelReasonerImportConfig(image_root=str(media_dir)))
    rows = result.rows
    messages = rows[0]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user", "assistant"]
    assert [m.get("tool_output") for m in messages] == [None, None, None, True, None, True, None]
    assert [m.get("loss_mask") for m in messages if m["role"] == "assistant"] == [0, 1, 1]
    assert messages[1]["content"] == "<image>How many dots?"
    # Pixel Reasoner's SFT budgets: 5120*28*28 per image, 420*360 per video frame (qwen_module.py).
    assert rows[0]["images"] == [{"path": str(media_dir / f"img{i}.png"), "max_pixels": 4014080} for i in range(3)]
    frames = [str(media_dir / "frame01.png"), str(media_dir / "frame02.png")]
    assert rows[1]["videos"] == [{"video": frames, "max_pixels": 151200}]
    assert rows[1]["messages"][1]["content"] == "<video>Q?" and len(rows[1]["images"]) == 2
    assert rows[0]["trajectory_type"] == "image_2_calls"
    assert result.summary() == f"{source}: 2 rows imported, 0 bad rows skipped"
    all_trained = import_pixel_reasoner(
        [_item()], PixelReasonerImportConfig(image_root=str(media_dir), mask_policy="all")
    ).rows
    assert [m.get("loss_mask") for m in all_trained[0]["messages"] if m["role"] == "assistant"] == [1, 1, 1]
    unbudgeted = PixelReasonerImportConfig(image_root=str(media_dir), image_max_pixels=None, frame_max_pixels=None)
    assert import_pixel_reasoner([_item()], unbudgeted).rows[0]["images"][0] == str(media_dir / "img0.png")


def test_imported_rows_tokenize_with_exactly_the_last_two_turns_trained(media_dir, tiny_processor, tmp_path):
    rows = import_pixel_reasoner([_item()], PixelReasonerImportConfig(image_root=str(media_dir))).rows
    path = write_sft_parquet(rows, tmp_path / "pr.parquet")
    config = OmegaConf.create({"max_length": 16384, "pad_mode": "no_padding", "ignore_input_ids_mismatch": False})
    sample = PixelSFTDataset(str(path), tiny_processor.tokenizer, config, processor=tiny_processor)[0]
    trained = tiny_processor.tokenizer.decode(sample["input_ids"][sample["loss_mask"] == 1])
    assert trained == "Wrong area, again. " + CALL + "<|im_end|>\nThere are \\boxed{3} dots.<|im_end|>\n"


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"messages_missing": []}, "message_list"),
        ({"message_list": [{"role": "user", "content": [{"video": "clip.mp4"}]}]}, "message_list[0]"),
        ({"message_list": [{"role": "user", "content": [{"audio": "a.wav"}]}]}, "message_list[0]"),
        (
            {
                "message_list": [
                    {"role": "user", "content": [{"image": "nope.png"}, {"text": "Q"}]},
                    {"role": "assistant", "content": "A"},
                ]
            },
            "images[0]",
        ),
    ],
)
def test_malformed_items_are_skipped_naming_the_item_and_field(item, field, media_dir):
    result = import_pixel_reasoner([_item(), item, _item()], PixelReasonerImportConfig(image_root=str(media_dir)))
    assert len(result.rows) == 2 and len(result.skipped) == 1
    assert (result.skipped[0].row_index, result.skipped[0].field) == (1, field)
