"""`verl-pixel view` on a verl 0.9.1 rollout dump written by verl's own writer from a real pixel_agent rollout."""

from __future__ import annotations

import argparse
import importlib
import io
import itertools
import json

import pytest
from PIL import Image

from verl_pixel.data.parquet_io import write_rl_parquet
from verl_pixel.ops import VisualOpsConfig
from verl_pixel.testing.agent_harness import call, image_prompt, scene
from verl_pixel.viewer.cli import add_parser
from verl_pixel.viewer.model import ImageRef, SpanKind, TextSpan, operation_colour
from verl_pixel.viewer.rollout_dump import rollout_view

QUESTION = "What color is the square?"
CROP = "Let me look." + call(bbox_2d=[0.1, 0.1, 0.5, 0.5])
CROP_OF_CROP = "Closer." + call(bbox_2d=[0.25, 0.25, 0.75, 0.75], target_image=2)
FINAL = "It is \\boxed{red}."
RED, BLUE = operation_colour(0), operation_colour(1)
# The trainers whose static ``_write_generations`` verl 0.9.1 calls for trainer.rollout_data_dir.
WRITERS = [("verl.trainer.ppo.ray_trainer", "RayPPOTrainer"), ("verl.trainer.ppo.v1.trainer_base", "PPOTrainer")]


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# The same two crops in each family's coordinates (Qwen3-VL: relative1000); their regions of the original agree.
FAMILY_CROPS = {
    "qwen2_5_vl": (CROP, CROP_OF_CROP, (140, 112)),
    "qwen3_vl": (
        "Let me look." + call(bbox_2d=[100, 100, 500, 500]),
        "Closer." + call(bbox_2d=[250, 250, 750, 750], target_image=2),
        (320, 224),
    ),
}


@pytest.fixture(scope="module")
def rollout(rollouts):
    out, _ = rollouts.one([CROP, CROP_OF_CROP, FINAL], image=scene(), question=QUESTION)
    return out


@pytest.fixture(scope="module")
def family_rollout(family, family_model_dir, family_tokenizer):
    from verl_pixel.testing.agent_harness import Rollouts

    crop, recrop, _ = FAMILY_CROPS[family]
    out, _ = Rollouts(family_model_dir, family_tokenizer).one([crop, recrop, FINAL], image=scene(), question=QUESTION)
    return out


def mask_runs(out, tokenizer) -> list[tuple[str, str]]:
    """The response as verl masks it: runs of response_mask decoded like the dump (special tokens skipped)."""
    ids, mask = out.batch["responses"][0].tolist(), out.batch["response_mask"][0].tolist()
    n = int(out.batch["attention_mask"][0, -len(ids) :].sum())
    runs = itertools.groupby(zip(ids[:n], mask[:n], strict=True), lambda pair: pair[1])
    decoded = [
        ("trained" if m else "masked", tokenizer.decode([t for t, _ in run], skip_special_tokens=True))
        for m, run in runs
    ]
    return [(kind, text) for kind, text in decoded if text]


def write_dump(out, tokenizer, folder, module: str, cls: str, step: int = 7) -> dict:
    """What verl's ``_log_rollout_data`` hands ``_write_generations``, then verl's own writer (first record back)."""
    trainer = getattr(importlib.import_module(module), cls)
    inputs = tokenizer.batch_decode(out.batch["prompts"], skip_special_tokens=True)
    outputs = tokenizer.batch_decode(out.batch["responses"], skip_special_tokens=True)
    n = len(inputs)
    extra = {k: v.tolist() for k, v in out.non_tensor_batch.items() if k.startswith("pixel/")}
    extra |= {"acc": [1.0] * n, "pixel/acc": [1.0] * n, "uid": [f"5f1c_{i}_2" for i in range(n)]}  # V1's uid key
    trainer._write_generations(inputs, outputs, ["red"] * n, [1.0] * n, extra, str(folder), step)
    return json.loads((folder / f"{step}.jsonl").read_text().splitlines()[0])


def run_cli(*argv: str) -> None:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["view", *argv])
    assert args.func(args) == 0


@pytest.mark.parametrize(("module", "cls"), WRITERS)
def test_dump_renders_with_images_joined_by_question(
    family, family_rollout, family_tokenizer, tmp_path, module, cls, conversation_spans, colour_pixels, outline_pixels
):
    rollout, tiny_tokenizer = family_rollout, family_tokenizer
    record = write_dump(rollout, tiny_tokenizer, tmp_path / "rollouts", module, cls)
    assert {"input", "output", "gts", "score", "step", "pixel/mode", "uid"} <= set(record)
    # The RL parquet the run read, with a decoy row first: the join must pick the row by its question.
    rows = [
        {
            "prompt": [{"role": "user", "content": "<image>How many squares?"}],
            "images": [{"bytes": png(scene(color="blue"))}],
        },
        {"prompt": [{"role": "user", "content": "<image>" + QUESTION}], "images": [{"bytes": png(scene())}]},
    ]
    write_rl_parquet(rows, tmp_path / "train.parquet")
    view_args = ("--data", str(tmp_path / "train.parquet"), "--out", str(tmp_path / "view"), "--family", family)
    run_cli(str(tmp_path / "rollouts"), *view_args)

    page = (tmp_path / "view" / "index.html").read_text()
    # Trained / masked spans are exactly verl's response_mask runs (the prompt is masked).
    assert conversation_spans(page) == [[("masked", record["input"]), *mask_runs(rollout, tiny_tokenizer)]]
    assert [kind for kind, _ in mask_runs(rollout, tiny_tokenizer)] == ["trained", "masked"] * 2 + ["trained"]
    # Scores and pixel/* fields as a table.
    for key, value in [
        ("score", "1"),
        ("gts", "red"),
        ("step", "7"),
        ("pixel/mode", "adaptive"),
        ("pixel/ops_succeeded", "2"),
    ]:
        assert f"<th>{key}</th><td>{value}</td>" in page
    # Image 1 is the joined row's (a red square on white, 320x240), not the decoy's and not a placeholder.
    image1 = tmp_path / "view" / "step7_0000_image1.png"
    assert Image.open(image1).size == (320, 240) and "placeholder" not in page
    assert Image.open(image1).convert("RGB").getpixel((60, 60)) == (255, 0, 0)
    # Crop 1: [.1,.1,.5,.5] of 320x240 = (32,24,160,120) (normalized, or relative1000 for Qwen3-VL), padded by
    # 0.1 of the image per side and clamped -> (0,0,192,144). Its label sits inside the corner (no room above), so
    # check the other edges.
    red = colour_pixels(image1, RED)
    assert {p for p in red if p[0] >= 100 or p[1] >= 40} == {
        p for p in outline_pixels(0, 0, 191, 143, 2) if p[0] >= 100 or p[1] >= 40
    }
    # Crop 2 (of crop 1): [.25,.75] of image 2's 196x140 view = (49,35,147,105), padded by 0.1 of that view ->
    # (29.4,21,166.6,119); to the original (x 192/196, y 144/140) -> (28.8,21.6,163.2,122.4) -> pixels (28,21,164,123).
    # Qwen3-VL: of the 320x224 view (80,56,240,168) -> (48,33.6,272,190.4) -> x 0.6, y 144/224 -> the same pixels.
    # Its label would collide with crop 1's above it, so it goes inside its own corner: check the far edges.
    blue = colour_pixels(image1, BLUE)
    assert {p for p in blue if p[0] >= 100 or p[1] >= 60} == {
        p for p in outline_pixels(28, 21, 163, 122, 2) if p[0] >= 100 or p[1] >= 60
    }
    width, height = FAMILY_CROPS[family][2]
    assert Image.open(tmp_path / "view" / "step7_0000_image3.png").size == (width, height)  # as the tool text says
    assert f"Image 3: crop of image 2 ({width}x{height})." in page


def test_dump_without_data_draws_on_a_placeholder(rollout, tiny_tokenizer, tmp_path, colour_pixels, outline_pixels):
    write_dump(rollout, tiny_tokenizer, tmp_path / "rollouts", *WRITERS[1])
    run_cli(str(tmp_path / "rollouts" / "7.jsonl"), "--out", str(tmp_path / "view"))
    page = (tmp_path / "view" / "index.html").read_text()
    assert "boxes drawn on a placeholder" in page
    image1 = tmp_path / "view" / "step7_0000_image1.png"
    assert Image.open(image1).size == (1008, 1008)
    # The boxes where the replay on the 1008x1008 placeholder puts them, outlines 4 px (round(1008 / 256)) thick.
    # Crop 1: normalized [.1,.1,.5,.5] = (100.8,100.8,504,504), padded by 0.1 x 1008 per side and clamped ->
    # (0,0,604.8,604.8), whole pixels outward -> (0,0,605,605): outline over 0..604. Its label has no room above the
    # box, so it sits inside the top-left corner: compare away from it.
    assert {p for p in colour_pixels(image1, RED) if p[0] >= 150 or p[1] >= 60} == {
        p for p in outline_pixels(0, 0, 604, 604, 4) if p[0] >= 150 or p[1] >= 60
    }
    # Crop 2, of image 2 (the 605x605 region): [.25,.75] padded by 0.1 of the view -> [.15,.85] of the region ->
    # (90.75, 90.75, 514.25, 514.25) -> (90,90,515,515): outline over 90..514, label above it (y < 90).
    assert {p for p in colour_pixels(image1, BLUE) if p[1] >= 90} == outline_pixels(90, 90, 514, 514, 4)


def test_no_tool_rollout_calls_are_refused_in_the_replay():
    record = {
        "input": "user\nQ?\nassistant\n",
        "output": CROP + "user\n<tool_response>\nError: no visual operations are available here\n</tool_response>"
        "\nassistant\n" + FINAL,
        "score": 0.0,
        "pixel/mode": "no_tool",
    }
    view = rollout_view(record, 0, VisualOpsConfig(), [scene()])
    assert [image.number for image in view.images] == [1]
    assert [(op.ok, op.message) for op in view.operations] == [
        (False, "no visual operations are available here; answer from the images you have")
    ]
    assert view.turns[2].parts == (TextSpan(record["output"][len(CROP) : -len(FINAL)], SpanKind.MASKED),)
    assert ImageRef(2) not in view.turns[2].parts


def test_dump_page_loads_in_a_real_browser(rollouts, tiny_tokenizer, tmp_path, browser):
    """Two trajectories of a real dump, opened in headless Chromium: both render, every image loads, no errors."""
    questions = (QUESTION, "How many squares?")
    images = (scene(), scene(color="blue"))
    prompts = [image_prompt([image], question) for image, question in zip(images, questions, strict=True)]
    out, _ = rollouts.batch([CROP, CROP_OF_CROP, FINAL], prompts, [0, 1])
    write_dump(out, tiny_tokenizer, tmp_path / "rollouts", *WRITERS[1])
    rows = [{"prompt": [{"role": "user", "content": "<image>" + q}], "images": [{"bytes": png(im)}]}
            for q, im in zip(questions, images, strict=True)]  # fmt: skip
    write_rl_parquet(rows, tmp_path / "train.parquet")
    run_cli(str(tmp_path / "rollouts"), "--data", str(tmp_path / "train.parquet"), "--out", str(tmp_path / "view"))

    report = browser.load(tmp_path / "view" / "index.html")
    assert report.errors == []
    # Every trajectory is on the page and laid out (non-zero height), with its five turns (user, 2x (assistant,
    # tool), assistant).
    assert [(s["id"], s["height"] > 0, s["turns"]) for s in report.sections] == [
        ("step7_0000", True, 6),
        ("step7_0001", True, 6),
    ]
    # Every <img> (figures and in-text thumbnails) decoded, at the size of the PNG written for it.
    assert report.images and report.missing_images == 0
    for image in report.images:
        width, height = Image.open(tmp_path / "view" / image["src"]).size
        assert (image["complete"], image["width"], image["height"]) == (True, width, height), image
    expected = {f"step7_000{i}_image{k}.png" for i in (0, 1) for k in (1, 2, 3)}
    assert {image["src"] for image in report.images} == expected
