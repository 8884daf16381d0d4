"""Schema violations raise RowError naming the row and the field (and the file): pure validation and PixelSFTDataset."""

from __future__ import annotations

import copy

import pytest
from omegaconf import OmegaConf

from verl_pixel.data.parquet_io import write_sft_parquet
from verl_pixel.data.row_checks import BadRowsError
from verl_pixel.data.sft_dataset import PixelSFTDataset
from verl_pixel.data.sft_schema import RowError, check_row, validate_row

CALL = {"type": "function", "function": {"name": "crop_image", "arguments": '{"bbox_2d": [0.1, 0.1, 0.5, 0.5]}'}}


@pytest.fixture
def good_row(media_dir):
    return {
        "messages": [
            {"role": "user", "content": "<image>How many?"},
            {"role": "assistant", "content": "Zoom in.", "tool_calls": [CALL], "loss_mask": 0},
            {"role": "tool", "content": "<image>Image 2: crop of image 1."},
            {"role": "assistant", "content": "\\boxed{3}", "loss_mask": 1},
        ],
        "images": [{"path": str(media_dir / "img0.png")}, {"path": str(media_dir / "img1.png")}],
        "videos": [],
    }


def _mutated(row, mutate):
    bad = copy.deepcopy(row)
    mutate(bad)
    return bad


def _set(path, value):
    def mutate(row):
        target = row
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


VIOLATIONS = {
    "more placeholders than images": (lambda r: r["images"].pop(), "images", "2 <image> placeholders but 1"),
    "fewer placeholders than images": (lambda r: r["images"].append(r["images"][0]), "images", "but 3 images"),
    "missing file": (_set(("images", 1), {"path": "/nonexistent/x.png"}), "images[1]", "not found"),
    "assistant first": (lambda r: r["messages"].pop(0), "messages[0].role", "assistant out of order"),
    "two assistants": (lambda r: r["messages"].pop(2), "messages[2].role", "assistant out of order"),
    "ends with a tool": (lambda r: r["messages"].pop(), "messages[2].role", "must end with an assistant"),
    "tool without a call": (_set(("messages", 1, "tool_calls"), None), "messages[2].role", "tool_output out of"),
    "consecutive tools": (
        lambda r: r["messages"].insert(3, {"role": "tool", "content": "more"}),
        "messages[3].role",
        "in one tool message",
    ),
    "unmarked observation": (_set(("messages", 2, "role"), "user"), "messages[2].role", "user out of order"),
    "loss_mask 2": (_set(("messages", 1, "loss_mask"), 2), "messages[1].loss_mask", "must be 0 or 1"),
    "loss_mask bool": (_set(("messages", 1, "loss_mask"), True), "messages[1].loss_mask", "must be 0 or 1"),
    "loss_mask on user": (_set(("messages", 0, "loss_mask"), 0), "messages[0].loss_mask", "only assistant"),
    "loss_mask on tool": (_set(("messages", 2, "loss_mask"), 1), "messages[2].loss_mask", "only assistant"),
    "tool_output on assistant": (
        _set(("messages", 3, "tool_output"), True),
        "messages[3].tool_output",
        "user or tool message",
    ),
    "image in assistant": (_set(("messages", 3, "content"), "<image>"), "messages[3].content", "cannot hold"),
    "empty assistant": (_set(("messages", 3, "content"), " "), "messages[3].content", "empty assistant message"),
    "unknown role": (_set(("messages", 0, "role"), "human"), "messages[0].role", "'human' is not one of"),
    "bad arguments": (
        _set(("messages", 1, "tool_calls"), [{"function": {"name": "crop_image", "arguments": "{oops"}}]),
        "messages[1].tool_calls[0].function.arguments",
        "not valid JSON",
    ),
    "tools not json": (_set(("tools",), "[{"), "tools", "Expecting"),
    "missing video file": (
        lambda r: (r["messages"][0].update(content="<video><image>Q"), r.update(videos=[{"video": "clip.mp4"}])),
        "videos[0]",
        "video file not found: clip.mp4",
    ),
    "video without its placeholder": (
        lambda r: r.update(videos=[{"video": ["f1.png"]}]),
        "videos",
        "0 <video> placeholders but 1 videos",
    ),
    "empty video": (
        lambda r: (r["messages"][0].update(content="<video><image>Q"), r.update(videos=[{"video": []}])),
        "videos[0]",
        "a video file path or a non-empty list of frames",
    ),
}


@pytest.mark.parametrize("name", sorted(VIOLATIONS))
def test_validate_row_names_the_field(name, good_row):
    assert validate_row(good_row) == []
    mutate, field, fragment = VIOLATIONS[name]
    bad = _mutated(good_row, mutate)
    problems = validate_row(bad)
    assert problems, name
    assert problems[0].field == field and fragment in problems[0].message, problems
    with pytest.raises(RowError) as info:
        check_row(bad, 17)
    assert info.value.row_index == 17 and info.value.field == field
    assert str(info.value).startswith(f"row 17: field '{field}': ")


def _dataset(path, processor, **config):
    options = {"max_length": 16384, "pad_mode": "no_padding", **config}
    return PixelSFTDataset(str(path), processor.tokenizer, OmegaConf.create(options), processor=processor)


# Violations whose value types parquet can hold next to a good row (pure validation covers the rest).
PARQUET_VIOLATIONS = [
    "more placeholders than images",
    "missing file",
    "two assistants",
    "ends with a tool",
    "tool without a call",
    "loss_mask 2",
    "loss_mask on user",
    "image in assistant",
    "empty assistant",
]


@pytest.mark.parametrize("name", PARQUET_VIOLATIONS)
def test_dataset_refuses_bad_row_on_load_naming_file_row_and_field(name, good_row, tiny_processor, tmp_path):
    mutate, field, _ = VIOLATIONS[name]
    path = write_sft_parquet([good_row, good_row, _mutated(good_row, mutate)], tmp_path / "rows.parquet")
    with pytest.raises(BadRowsError) as info:
        _dataset(path, tiny_processor)
    assert f"\n  {path}: row 2: field '{field}'" in str(info.value)
    assert str(info.value).startswith("1 bad rows (set data.bad_rows=skip")


def test_corrupt_image_found_when_building_if_decoding_on_load_is_off(good_row, tiny_processor, tmp_path):
    corrupt = _mutated(good_row, _set(("images", 1), {"bytes": b"not an image at all", "path": None}))
    good = _mutated(good_row, _set(("images", 1), {"bytes": None, "path": good_row["images"][1]["path"]}))
    path = write_sft_parquet([good, corrupt], tmp_path / "rows.parquet")
    dataset = _dataset(path, tiny_processor, decode_images_on_load=False)
    assert len(dataset[0]["input_ids"]) > 0
    with pytest.raises(RowError, match=rf"^{path}: row 1: field 'images\[1\]': cannot decode image bytes"):
        dataset[1]


def test_missing_file_found_when_building_if_load_checks_are_off(good_row, tiny_processor, tmp_path):
    bad = _mutated(good_row, _set(("images", 0), {"path": "/nonexistent/y.png"}))
    path = write_sft_parquet([bad], tmp_path / "rows.parquet")
    dataset = _dataset(path, tiny_processor, check_image_files=False)
    with pytest.raises(RowError, match=rf"^{path}: row 0: field 'images\[0\]': image file not found"):
        dataset[0]
