"""`verl-pixel view` on an SFT row: crop, crop of the crop, answer -> exact box pixels and exact loss spans."""

from __future__ import annotations

import argparse
import json

import pytest
from PIL import Image, ImageDraw

from verl_pixel.data.parquet_io import write_sft_parquet
from verl_pixel.data.sft_schema import validate_row
from verl_pixel.data.trajectory_rows import encode_png
from verl_pixel.ops import ImageRegistry, OutputStyle, VisualOpsConfig, crop_image, result_text
from verl_pixel.viewer.cli import add_parser
from verl_pixel.viewer.drawing import outline_width
from verl_pixel.viewer.model import operation_colour
from verl_pixel.viewer.sft_rows import sft_row_view

BACKGROUND = (200, 200, 200)
RED, BLUE = operation_colour(0), operation_colour(1)  # first and second operation
QUESTION = "What is in the small square? <script>alert('x')</script>"
FINAL = "It is a dark square & nothing else. \\boxed{dark}"
CROP_1 = {"bbox_2d": [56, 28, 168, 140]}  # pixels of image 1 (280x224, which the model sees unresized)
CROP_2 = {"bbox_2d": [28, 28, 84, 84], "target_image": 2}  # pixels of image 2 (the 112x112 first crop)


def scene() -> Image.Image:
    image = Image.new("RGB", (280, 224), BACKGROUND)
    ImageDraw.Draw(image).rectangle([104, 76, 119, 91], fill=(20, 20, 20))
    return image


def call(arguments: dict) -> dict:
    return {"type": "function", "function": {"name": "crop_image", "arguments": json.dumps(arguments)}}


def three_turn_row(config: VisualOpsConfig) -> dict:
    """The row as synthesis writes it: crops made by the operation layer, the first call masked."""
    image = scene()
    registry = ImageRegistry.from_inputs(config, [image], [image])
    first, second = crop_image(registry, CROP_1), crop_image(registry, CROP_2)
    # padding 0: the regions in the original are the boxes themselves (the second offset by the first's corner)
    assert (first.region, first.images[0].size) == ((56, 28, 168, 140), (112, 112))
    assert (second.region, second.images[0].size) == ((84, 56, 140, 112), (56, 56))
    messages = [
        {"role": "user", "content": "<image>" + QUESTION},
        {"role": "assistant", "content": "Let me zoom in.", "tool_calls": [call(CROP_1)], "loss_mask": 0},
        {"role": "tool", "content": "<image>" + result_text(first, OutputStyle.QWEN)},
        {"role": "assistant", "content": "Closer.", "tool_calls": [call(CROP_2)], "loss_mask": 1},
        {"role": "tool", "content": "<image>" + result_text(second, OutputStyle.QWEN)},
        {"role": "assistant", "content": FINAL},
    ]
    images = [{"bytes": encode_png(im)} for im in (image, first.images[0], second.images[0])]
    row = {"messages": messages, "images": images, "trajectory_type": "further_zoom"}
    assert validate_row(row) == []
    return row


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sft_view")
    write_sft_parquet([three_turn_row(VisualOpsConfig(padding=0.0))], folder / "rows.parquet")
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["view", str(folder / "rows.parquet"), "--out", str(folder / "out"), "--padding", "0"])
    assert args.func(args) == 0
    return folder / "out"


def test_boxes_on_the_original_and_on_the_parent_crop(rendered, colour_pixels, outline_pixels):
    image1, image2, image3 = (rendered / f"sft_0000_image{k}.png" for k in (1, 2, 3))
    assert [Image.open(p).size for p in (image1, image2, image3)] == [(280, 224), (112, 112), (56, 56)]
    assert outline_width((280, 224)) == outline_width((112, 112)) == 2
    # Image 1: the first crop's region (56,28)-(168,140) in red and the crop of the crop mapped back to the
    # original, (84,56)-(140,112), in blue: outlines over pixels x1..x2-1, y1..y2-1, 2 px thick inward. The labels
    # sit above each box (outside it), so below each box's top edge the colour is exactly the outline.
    red = colour_pixels(image1, RED)
    blue = colour_pixels(image1, BLUE)
    assert {p for p in red if p[1] >= 28} == outline_pixels(56, 28, 167, 139, 2)
    assert {p for p in blue if p[1] >= 56} == outline_pixels(84, 56, 139, 111, 2)
    assert (57, 27) in red and (85, 55) in blue  # the label tags "image 2" / "image 3", just above the corners
    assert Image.open(image1).convert("RGB").getpixel((60, 100)) == BACKGROUND  # inside, off the outlines
    # Image 2 (the first crop): the second crop in its own pixels, (28,28)-(84,84), blue; no red box.
    assert {p for p in colour_pixels(image2, BLUE) if p[1] >= 28} == outline_pixels(28, 28, 83, 83, 2)
    assert colour_pixels(image2, RED) == set()
    # Image 3 is a leaf: nothing drawn.
    assert colour_pixels(image3, RED) == colour_pixels(image3, BLUE) == set()


def test_loss_spans_are_message_level(rendered, conversation_spans):
    page = (rendered / "index.html").read_text()
    calls = [
        f'<tool_call>\n{{"name": "crop_image", "arguments": {json.dumps(c)}}}\n</tool_call>' for c in (CROP_1, CROP_2)
    ]
    assert conversation_spans(page) == [
        [
            ("masked", QUESTION),  # user question
            ("masked", "Let me zoom in.\n" + calls[0]),  # assistant with loss_mask 0: call and its lead-in masked
            ("masked", "Image 2: crop of image 1 (112x112)."),  # tool output
            ("trained", "Closer.\n" + calls[1]),  # the correction is trained
            ("masked", "Image 3: crop of image 2 (56x56)."),
            ("trained", FINAL),
        ]
    ]


def test_page_escapes_text_and_links_images(rendered):
    page = (rendered / "index.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    for k in (1, 2, 3):
        assert f'src="sft_0000_image{k}.png"' in page
    assert "crop of image 1" in page and "crop of image 2" in page
    assert "<th>trajectory_type</th><td>further_zoom</td>" in page
    assert 'class="notes"' not in page  # the replay agreed with the row's images


def test_a_replay_that_disagrees_with_the_row_is_reported_and_numbering_kept():
    # Read as normalized, the pixel boxes are out of range: the replay fails where the row shows crops.
    view = sft_row_view(three_turn_row(VisualOpsConfig(padding=0.0)), 0, VisualOpsConfig(coordinates="normalized"))
    assert [(image.number, image.image.size, image.boxes) for image in view.images] == [
        (1, (280, 224), ()),
        (2, (112, 112), ()),
        (3, (56, 56), ()),
    ]
    assert [op.ok for op in view.operations] == [False, False]
    assert len(view.notes) == 2 and all("the row shows images the replay did not produce" in n for n in view.notes)


def test_sft_page_loads_in_a_real_browser(tmp_path, browser):
    """Two SFT rows opened in headless Chromium: both render, every image loads, no console errors."""
    one_shot = {
        "messages": [{"role": "user", "content": "<image>What is shown?"}, {"role": "assistant", "content": FINAL}],
        "images": [{"bytes": encode_png(scene())}],
    }
    write_sft_parquet([three_turn_row(VisualOpsConfig(padding=0.0)), one_shot], tmp_path / "rows.parquet")
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["view", str(tmp_path / "rows.parquet"), "--out", str(tmp_path / "out"), "--padding", "0"])
    assert args.func(args) == 0

    report = browser.load(tmp_path / "out" / "index.html")
    assert report.errors == []
    assert [(s["id"], s["height"] > 0, s["turns"]) for s in report.sections] == [
        ("sft_0000", True, 6),
        ("sft_0001", True, 2),
    ]
    assert report.missing_images == 0
    for image in report.images:
        width, height = Image.open(tmp_path / "out" / image["src"]).size
        assert (image["complete"], image["width"], image["height"]) == (True, width, height), image
    assert {image["src"] for image in report.images} == {"sft_0000_image1.png", "sft_0000_image2.png",
                                                          "sft_0000_image3.png", "sft_0001_image1.png"}  # fmt: skip


def test_missing_rollout_inputs_are_one_line_not_a_traceback(tmp_path, capsys):
    # (A missing SFT parquet: tests/data/test_data_check_cli.py.)
    from verl_pixel.cli import main

    assert main(["view", str(tmp_path / "absent"), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == f"verl-pixel: error: no <step>.jsonl rollout dump in {tmp_path / 'absent'}\n"
    (tmp_path / "dump").mkdir()
    (tmp_path / "dump" / "3.jsonl").write_text('{"input": "user\\nQ?\\nassistant\\n", "output": "A", "score": 0}\n')
    assert main(["view", str(tmp_path / "dump"), "--data", str(tmp_path / "no.parquet")]) == 2
    assert capsys.readouterr().err == f"verl-pixel: error: no such parquet file: {tmp_path / 'no.parquet'}\n"
    assert not (tmp_path / "out").exists()
