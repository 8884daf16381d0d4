"""The look-or-not run files: SFT mixture by need (exact counts), RL rows split by data source, a crop-only tool
YAML, and tokenizer texts that keep the prompts short."""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter

import pandas as pd
import pytest
import yaml

from verl_pixel.configs import read_chat_template
from verl_pixel.constants import QWEN25_VL_TOOL_TEMPLATE
from verl_pixel.data.look_or_not import NEED_SOURCE, NO_NEED_SOURCE, LookOrNotSpec
from verl_pixel.data.look_or_not_sets import LookOrNotRun, tokenizer_texts, write_run_files
from verl_pixel.prompts import IMAGE_GUIDELINES
from verl_pixel.tiny_models.tokenizer import build_tokenizer

# Adaptive rows only (mode rows: their own test below).
RUN = LookOrNotRun(spec=LookOrNotSpec(n_train=40, n_val=4, n_test=8, seed=1), zoom_share_need=0.75,
                   zoom_share_no_need=0.25, mode_share=0.0)  # fmt: skip


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return write_run_files(tmp_path_factory.mktemp("run"), RUN)


def test_sft_mixture_zooms_on_the_configured_share_of_each_subset(files):
    rows = pd.read_parquet(files.sft_train)
    seeds = [json.loads(line) for line in (files.seeds_dir / "train" / "seeds.jsonl").read_text().splitlines()]
    need = {seed["id"]: seed["needs_zoom"] for seed in seeds}
    counts = Counter((need[row.seed_id], row.trajectory_type) for row in rows.itertuples())
    # 20 need questions: 15 zoom (0.75), 5 text-only; 20 no-need: 5 zoom (0.25), 15 text-only.
    assert counts == {(True, "single_pass"): 15, (True, "text_only"): 5, (False, "single_pass"): 5,
                      (False, "text_only"): 15}  # fmt: skip
    assert list(rows.seed_id) == [seed["id"] for seed in seeds]  # seed order kept


def test_rows_offer_crop_only_with_the_image_guidelines(files):
    rows = pd.read_parquet(files.sft_train)
    assert {name for tools in rows.tools for name in (t["function"]["name"] for t in json.loads(tools))} == {
        "crop_image"
    }
    first_user = rows.messages.iloc[0][0]
    assert first_user["role"] == "user" and first_user["content"].endswith(IMAGE_GUIDELINES)
    # Every zoom crops the asked object's anchor box, worked by hand from the layout (1600x1200, square side 160,
    # jitter 16 + margin 4, circle radius <= 140, inner margin 0.14, outer 16, gap 40), as fractions to 3 decimals.
    boxes = {
        ("square", "top-left"): [0.01, 0.103, 0.135, 0.27], ("square", "top-right"): [0.865, 0.103, 0.99, 0.27],
        ("square", "bottom-left"): [0.01, 0.73, 0.135, 0.897], ("square", "bottom-right"): [0.865, 0.73, 0.99, 0.897],
        ("circle", "top-left"): [0.16, 0.053, 0.36, 0.32], ("circle", "top-right"): [0.64, 0.053, 0.84, 0.32],
        ("circle", "bottom-left"): [0.16, 0.68, 0.36, 0.947], ("circle", "bottom-right"): [0.64, 0.68, 0.84, 0.947],
    }  # fmt: skip
    zooms = rows[rows.trajectory_type == "single_pass"].messages
    assert len(zooms) == 20
    for messages in zooms:
        question = messages[0]["content"]
        key = ("square" if "small square" in question else "circle", re.search(r"the (\S+) quadrant", question)[1])
        call = json.loads(messages[1]["tool_calls"][0]["function"]["arguments"])
        assert call["bbox_2d"] == boxes[key], key
        width, height = map(
            int, re.fullmatch(r"<image>Image 2: crop of image 1 \((\d+)x(\d+)\)\.", messages[2]["content"]).groups()
        )
        assert width % 28 == height % 28 == 0 and width * height <= 64 * 28 * 28  # the task's 64-token crop budget


def test_rl_rows_carry_the_need_label_only_as_data_source_and_extra_info(files):
    test = pd.read_parquet(files.rl_test)
    assert Counter(test.data_source) == {NEED_SOURCE: 4, NO_NEED_SOURCE: 4}
    pairs = zip(test.extra_info, test.data_source, strict=True)
    assert all(row["needs_zoom"] == (source == NEED_SOURCE) for row, source in pairs)
    assert set(test.reward_model.map(lambda rm: frozenset(rm["ground_truth"]))) == {
        frozenset({"answer", "answer_type", "options"})  # the reward's ground truth has no need label
    }
    assert test.prompt.iloc[0][0]["content"].endswith(IMAGE_GUIDELINES)


def test_tool_yaml_offers_crop_with_the_task_budgets(files):
    tools = yaml.safe_load(files.tools_yaml.read_text())["tools"]
    assert [tool["tool_schema"]["function"]["name"] for tool in tools] == ["crop_image"]
    config = tools[0]["config"]
    assert (config["image_max_pixels"], config["crop_max_pixels"]) == (40 * 28 * 28, 64 * 28 * 28)
    assert config["coordinates"] == "normalized"


def test_tokenizer_learning_the_prompts_keeps_them_short_and_newline_one_token(files):
    rows = pd.read_parquet(files.sft_train).to_dict("records")
    template = read_chat_template(QWEN25_VL_TOOL_TEMPLATE)
    texts = tokenizer_texts(rows)
    assert not any("<|" in text for text in texts)  # special tokens are the tokenizer's own, never merged
    tools = json.loads(rows[0]["tools"])
    prompt = [{"role": "user", "content": rows[0]["messages"][0]["content"].replace("<image>", "")}]

    def prompt_tokens(tokenizer):
        text = tokenizer.apply_chat_template(prompt, tools=tools, tokenize=False, add_generation_prompt=True)
        return len(tokenizer(text)["input_ids"])

    words = build_tokenizer(chat_template=template)
    lines = build_tokenizer(chat_template=template, extra_texts=texts, pieces="lines")
    assert prompt_tokens(words) > 400 and prompt_tokens(lines) < 100
    assert len(lines.encode("\n", add_special_tokens=False)) == 1
    # The model's own text is not learned whole: a box's coordinates stay several tokens.
    call = '{"name": "crop_image", "arguments": {"bbox_2d": [0.0, 0.5, 0.5, 1.0], "target_image": 1}}'
    assert len(lines.encode(call, add_special_tokens=False)) >= 8
    with pytest.raises(ValueError, match="pieces"):
        build_tokenizer(pieces="sentences")


def test_mode_rows_carry_the_instruction_pixel_agent_gives_the_mode_their_trajectory_obeys(tmp_path):
    from verl_pixel.data.look_or_not_sets import sft_rows
    from verl_pixel.data.seeds import read_seeds
    from verl_pixel.prompts import DEFAULT_MODE_INSTRUCTIONS, DEFAULT_SYSTEM_PROMPT
    from verl_pixel.record import RolloutMode
    from verl_pixel.rollout.modes import with_mode_instruction

    run = LookOrNotRun(spec=LookOrNotSpec(n_train=12, n_val=2, n_test=2, seed=1), mode_share=1.0)
    files = write_run_files(tmp_path, run)
    seeds = read_seeds(files.seeds_dir / "train" / "seeds.jsonl")
    rows, plain = sft_rows(seeds, run), sft_rows(seeds, dataclasses.replace(run, mode_share=0.0))
    for row, before in zip(rows, plain, strict=True):
        zooms = row["trajectory_type"] == "single_pass"
        mode = RolloutMode.FORCE_TOOL if zooms else RolloutMode.NO_TOOL
        # The system turn is the one pixel_agent builds for that mode from the same user turn.
        rendered = with_mode_instruction(
            [before["messages"][0]], DEFAULT_MODE_INSTRUCTIONS[mode], DEFAULT_SYSTEM_PROMPT
        )
        assert row["messages"] == [rendered[0], *before["messages"]]
        assert json.loads(row["tools"]) == (json.loads(before["tools"]) if zooms else [])  # no_tool offers none
    assert {row["trajectory_type"] for row in rows} == {"single_pass", "text_only"}
    assert all(row["messages"][0]["role"] == "user" for row in plain)  # mode_share 0: adaptive rows only
