"""Importing the peers' released data as published: literal <image> text, pixel budgets, RL parquets, bad rows.

Layouts (TIGER-AI-Lab/Pixel-Reasoner a3a6c3a): the SFT JSON list of ``message_list`` s
(``instruction_tuning/sft_tool.py``); the RL ``release.parquet`` with ``qid``, ``question``, ``answer``, ``image``
(relative paths), ``is_video`` (``openrlhf/datasets/prompts_dataset.py`` lines 143-161, ``experience_maker.py``
lines 1425-1438, ``onestep_evaluation/rename_imagepath.py``). DeepEyes (``ChenShawn/DeepEyes-Datasets-47k``, read by
volcengine/verl ``recipe/deepeyes/deepeyes47k_preprocess.py``): ``prompt`` [system, user], ``images`` [{bytes,
path}], ``reward_model.ground_truth``, ``extra_info``, ``env_name``.
"""

from __future__ import annotations

import io
import json
import shutil

import pandas as pd
import pytest
from omegaconf import OmegaConf
from PIL import Image

from verl_pixel.cli import main
from verl_pixel.data.parquet_io import read_rows, write_rl_parquet, write_sft_parquet
from verl_pixel.data.peer_rl_import import (
    PeerRLImportConfig,
    import_deepeyes,
    import_pixel_reasoner_rl,
    pixel_reasoner_rl_row,
)
from verl_pixel.data.pixel_reasoner_import import PixelReasonerImportConfig, import_pixel_reasoner
from verl_pixel.data.row_checks import RowCheckConfig, RowKind, check_file
from verl_pixel.data.sft_dataset import PixelSFTDataset
from verl_pixel.prompts import DEFAULT_GUIDELINES

QUESTION = "<image>\nWhat animal is depicted on the sign?\nchoices:\nA: Lion  \nB: Sheep  \nC: Tiger  \nD: Elephant"


def _sft_item(question: str = QUESTION) -> dict:
    return {
        "message_list": [
            {"role": "system", "content": [{"text": "You are a helpful assistant."}]},
            {"role": "user", "content": [{"image": "img0.png"}, {"text": question}]},
            {"role": "assistant", "content": [{"text": "It is \\boxed{B}."}]},
        ]
    }


def _sample(processor, rows, tmp_path, name="pr.parquet"):
    path = write_sft_parquet(rows, tmp_path / name)
    config = OmegaConf.create({"max_length": 16384, "pad_mode": "no_padding", "ignore_input_ids_mismatch": False})
    return PixelSFTDataset(str(path), processor.tokenizer, config, processor=processor)[0]


def test_literal_image_text_stays_text(media_dir, tiny_processor, tmp_path):
    # Today's failure: "2 <image> placeholders but 1 images". Pixel Reasoner's Qwen template renders the literal
    # "<image>" of the text as text after the image's vision tokens (experience_maker.py line 2753).
    result = import_pixel_reasoner([_sft_item()], PixelReasonerImportConfig(image_root=str(media_dir)))
    assert result.skipped == [] and len(result.rows[0]["images"]) == 1
    assert result.rows[0]["messages"][1]["content"] == "<image>\\" + QUESTION
    sample = _sample(tiny_processor, result.rows, tmp_path)
    text = tiny_processor.tokenizer.decode(sample["input_ids"])
    user = text.split("<|im_start|>user\n")[1].split("<|im_end|>")[0]
    pads = user.count("<|image_pad|>")
    assert user == "<|vision_start|>" + "<|image_pad|>" * pads + "<|vision_end|>" + QUESTION


def test_image_budget_is_applied_by_the_dataset(media_dir, tiny_processor, tmp_path):
    # img0 is 320x240. smart_resize(factor 28, min 3136, max 112*112): beta = sqrt(76800 / 12544) = 2.4744;
    # height floor(240 / 2.4744 / 28) * 28 = 84, width floor(320 / 2.4744 / 28) * 28 = 112 -> 3 x 4 = 12 tokens.
    small = PixelReasonerImportConfig(image_root=str(media_dir), image_max_pixels=112 * 112)
    sample = _sample(tiny_processor, import_pixel_reasoner([_sft_item("Q?")], small).rows, tmp_path, "small.parquet")
    pad = tiny_processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert int((sample["input_ids"] == pad).sum()) == 12
    # Pixel Reasoner's default budget (5120*28*28) leaves it at the processor's own size: 252x308 -> 9 x 11 = 99.
    default = PixelReasonerImportConfig(image_root=str(media_dir))
    sample = _sample(tiny_processor, import_pixel_reasoner([_sft_item("Q?")], default).rows, tmp_path, "d.parquet")
    assert int((sample["input_ids"] == pad).sum()) == 99


def test_sft_cli_skips_bad_rows_with_a_count_and_writes_nothing_without_good_rows(media_dir, tmp_path, capsys):
    bad = _sft_item()
    bad["message_list"][1]["content"][0]["image"] = "missing.png"
    source = tmp_path / "sft.json"
    source.write_text(json.dumps([_sft_item(), bad, _sft_item()]))
    out = tmp_path / "out.parquet"
    args = ["prepare", "pixel-reasoner", "--json", str(source), "--image-root", str(media_dir), "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert f"{source}: row 1: field 'images[0]': image file not found: {media_dir / 'missing.png'}" in printed
    assert f"{source}: 2 rows imported, 1 bad rows skipped" in printed
    assert len(read_rows(out)) == 2
    source.write_text(json.dumps([bad]))
    out.unlink()
    assert main(args) == 1 and not out.exists()
    assert "no good rows" in capsys.readouterr().out
    source.write_text("[{")
    assert main(args) == 2 and "not valid JSON" in capsys.readouterr().err


def test_a_failed_write_leaves_no_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    out = tmp_path / "rows.parquet"
    write_rl_parquet([{"a": 1}], out)

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", fail)
    with pytest.raises(OSError, match="disk full"):
        write_rl_parquet([{"a": 2}], out)
    assert read_rows(out) == [{"a": 1}] and [p.name for p in tmp_path.iterdir()] == ["rows.parquet"]


def _release(tmp_path, media_dir):
    """A PixelReasoner-RL-Data folder as published: release.parquet plus the unzipped images/ and videos/."""
    folder = tmp_path / "PixelReasoner-RL-Data"
    (folder / "images").mkdir(parents=True)
    (folder / "videos" / "clip").mkdir(parents=True)
    shutil.copy(media_dir / "img0.png", folder / "images" / "a.png")
    for k in range(1, 4):
        shutil.copy(media_dir / f"frame{k:02d}.png", folder / "videos" / "clip" / f"{k}.png")
    frames = [f"videos/clip/{k}.png" for k in range(1, 4)]
    rows = [
        {"qid": "sa1b-0", "question": QUESTION, "answer": "B", "image": ["images/a.png"], "is_video": False},
        {"qid": "star-1", "question": "How many?", "answer": "2", "image": frames, "is_video": True},
        {"qid": "web-2", "question": "Colour?", "answer": "Red", "image": ["images/a.png"], "is_video": False},
        {"qid": "web-3", "question": "Colour?", "answer": "red", "image": ["images/gone.png"], "is_video": False},
        {"qid": "web-4", "question": "", "answer": "red", "image": ["images/a.png"], "is_video": False},
    ]  # fmt: skip
    pd.DataFrame(rows).to_parquet(folder / "release.parquet")
    return folder


def test_pixel_reasoner_rl_rows(tmp_path, media_dir):
    folder = _release(tmp_path, media_dir)
    result = import_pixel_reasoner_rl(folder / "release.parquet", PeerRLImportConfig())
    assert [(e.row_index, e.field) for e in result.skipped] == [(3, "image[0]"), (4, "question")]
    image, video, listed = result.rows
    # Pixel Reasoner's prompt: images first, then question + its vcot guidelines; the literal <image> stays text.
    assert image["prompt"] == [{"role": "user", "content": "<image>\\" + QUESTION + DEFAULT_GUIDELINES}]
    assert image["images"] == [{"bytes": (folder / "images" / "a.png").read_bytes()}]
    assert image["reward_model"]["ground_truth"] == {
        "answer": "B", "answers": ["B"], "answer_type": "multiple_choice",
        "options": ["Lion", "Sheep", "Tiger", "Elephant"],
    }  # fmt: skip
    assert image["data_source"] == "sa1b" and image["extra_info"]["qid"] == "sa1b-0"
    # A video's frames become images with Pixel Reasoner's per-frame RL budget, marked as the video's frames.
    assert video["prompt"][0]["content"] == "<image>" * 3 + "How many?" + DEFAULT_GUIDELINES
    assert [ref["max_pixels"] for ref in video["images"]] == [512 * 28 * 28] * 3
    assert video["extra_info"]["num_video_frames"] == 3 and video["extra_info"]["is_video"] is True
    assert video["reward_model"]["ground_truth"]["answer_type"] == "number"
    truth = listed["reward_model"]["ground_truth"]
    assert (truth["answer_type"], truth["answers"]) == ("short_text", ["Red"])
    # An answer may be a list of acceptable answers (experience_maker.py rule_reward).
    item = {"qid": "q", "question": "Colour?", "answer": ["Red", "crimson"], "image": ["images/a.png"]}
    truth = pixel_reasoner_rl_row(item, 0, folder, PeerRLImportConfig())["reward_model"]["ground_truth"]
    assert (truth["answer_type"], truth["answers"]) == ("short_text", ["Red", "crimson"])
    # The rows pass the load-time checks of PixelRLDataset (`verl-pixel data check`).
    out = write_rl_parquet(result.rows, tmp_path / "rl.parquet")
    check = check_file(out, RowCheckConfig(RowKind.RL))
    assert (check.rows, len(check.bad), len(check.unreadable)) == (3, 0, 0)
    layout = import_pixel_reasoner_rl(folder / "release.parquet", PeerRLImportConfig(video_layout="video")).rows[1]
    assert layout["prompt"][0]["content"].startswith("<video>How many?") and layout["images"] == []
    assert layout["videos"] == [{"video": [str((folder / f"videos/clip/{k}.png").resolve()) for k in (1, 2, 3)]}]


def test_pixel_reasoner_rl_prompt_keeps_literal_image_text_through_the_dataset(tmp_path, media_dir, tiny_processor):
    from verl_pixel.data.rl_dataset import PixelRLDataset

    folder = _release(tmp_path, media_dir)
    rows = import_pixel_reasoner_rl(folder / "release.parquet", PeerRLImportConfig()).rows[:1]
    path = write_rl_parquet(rows, tmp_path / "rl.parquet")
    config = OmegaConf.create({"prompt_key": "prompt", "max_prompt_length": 4096, "filter_overlong_prompts": False})
    dataset = PixelRLDataset([str(path)], tiny_processor.tokenizer, config, processor=tiny_processor)
    content = dataset[0]["raw_prompt"][0]["content"]
    assert [item["type"] for item in content] == ["image", "text"]
    assert content[1]["text"] == QUESTION + DEFAULT_GUIDELINES


def _png(color) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buffer, format="PNG")
    return buffer.getvalue()


def test_deepeyes_rows(tmp_path):
    system = {"role": "system", "content": "You are a helpful assistant.\n\n# Tools\n..."}

    def row(user, images, truth, env="visual_toolbox_v2"):
        return {
            "data_source": "vstar", "prompt": [system, {"role": "user", "content": user}],
            "images": [{"bytes": data, "path": None} for data in images], "ability": "vqa",
            "reward_model": {"ground_truth": truth, "style": "model"},
            "extra_info": {"question": user.replace("<image>\n", ""), "answer": truth, "index": 0, "split": "train"},
            "env_name": env,
        }  # fmt: skip

    rows = [
        row("<image>\nWhat color is the cup?\n(A) red\n(B) blue", [_png((200, 0, 0))], "A"),
        row("<image>\nHow many cups?", [_png((0, 0, 200))], "3", env=None),
        row("<image><image>\nWhich?", [_png((0, 200, 0))], "left"),
        row("<image>\nBroken?", [b"not an image"], "no"),
    ]
    pd.DataFrame(rows).to_parquet(tmp_path / "data_0.1.2_visual_toolbox_v2.parquet")
    result = import_deepeyes(tmp_path / "data_0.1.2_visual_toolbox_v2.parquet", PeerRLImportConfig())
    assert [(e.row_index, e.field) for e in result.skipped] == [(2, "images"), (3, "images[0]")]
    assert "2 <image> placeholders but 1 images" in str(result.skipped[0])
    choice, count = result.rows
    assert choice["prompt"] == [{"role": "user", "content": "<image>\nWhat color is the cup?\n(A) red\n(B) blue"}]
    assert choice["reward_model"]["ground_truth"]["options"] == ["red", "blue"]
    assert (choice["agent_name"], count["agent_name"]) == ("pixel_agent", "single_turn_agent")
    assert count["reward_model"]["ground_truth"]["answer_type"] == "number" and choice["data_source"] == "vstar"
    out = write_rl_parquet(result.rows, tmp_path / "rl.parquet")
    assert len(check_file(out, RowCheckConfig(RowKind.RL)).bad) == 0
