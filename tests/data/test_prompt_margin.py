"""The overlong-prompt filter leaves room for the mode instruction ``pixel_agent`` appends after it.

The boundary is measured, not computed: the prompt length is what verl's ``AgentLoopWorker`` sends the server for a
force_tool session of the row, and the filter must keep the row exactly when that session fits
``max_prompt_length``. verl's filter alone (no instruction counted) keeps it one token too long, and the session then
fails with verl's "exceeding rollout.prompt_length" error.
"""

from __future__ import annotations

import io

import pytest

from verl_pixel.data.parquet_io import write_rl_parquet
from verl_pixel.testing.agent_harness import Rollouts, compose_ppo_config, scene

QUESTION = "What color is the square?"
FINAL = "It is \\boxed{red}."
LAYOUT = ["+pixel.rollout.mode_layout.adaptive=1", "+pixel.rollout.mode_layout.force_tool=1",
          "+pixel.rollout.mode_layout.no_tool=1"]  # fmt: skip
FROM_PIXEL = "+data.pixel_rollout=${oc.select:pixel.rollout,null}"  # as the recipes set it
ADAPTIVE_ONLY = "+data.pixel_rollout.mode_layout.adaptive=3"  # no instruction: verl's own measure


@pytest.fixture(scope="module")
def rl_file(tmp_path_factory):
    buffer = io.BytesIO()
    scene().save(buffer, format="PNG")
    row = {
        "data_source": "probe",
        "prompt": [{"role": "user", "content": "<image>" + QUESTION}],
        "images": [{"bytes": buffer.getvalue()}],
        "reward_model": {"style": "rule", "ground_truth": '{"answer": "red", "answer_type": "short_text"}'},
    }
    return write_rl_parquet([row], tmp_path_factory.mktemp("rl") / "rows.parquet")


def kept_rows(model_dir, tokenizer, processor, path, max_prompt_length, margin_source):
    from verl_pixel.data.rl_dataset import PixelRLDataset

    filtered = ["data.filter_overlong_prompts=True", f"data.max_prompt_length={max_prompt_length}"]  # as the recipes
    overrides = [*LAYOUT, margin_source, *filtered]
    config = compose_ppo_config(model_dir, overrides)
    return len(PixelRLDataset(str(path), tokenizer, config.data, processor=processor))


def first_prompt_length(model_dir, tokenizer, session_id, prompt_length=4096):
    rollouts = Rollouts(model_dir, tokenizer, [*LAYOUT, f"actor_rollout_ref.rollout.prompt_length={prompt_length}"])
    _, server = rollouts.one([FINAL], question=QUESTION, session_id=session_id)
    return len(server.calls[0].prompt_ids)


def test_a_prompt_is_kept_exactly_when_its_force_tool_session_fits(rl_file, tiny_model_dir, tiny_processor):
    tokenizer = tiny_processor.tokenizer
    forced = first_prompt_length(tiny_model_dir, tokenizer, session_id=1)  # force_tool: the longest instruction
    adaptive = first_prompt_length(tiny_model_dir, tokenizer, session_id=0)
    assert forced > adaptive  # the instruction costs tokens the dataset's own rendering does not have
    assert kept_rows(tiny_model_dir, tokenizer, tiny_processor, rl_file, forced, FROM_PIXEL) == 1
    assert kept_rows(tiny_model_dir, tokenizer, tiny_processor, rl_file, forced - 1, FROM_PIXEL) == 0
    # What verl's filter alone does at forced - 1: it keeps the row, and its force_tool session then fails.
    assert kept_rows(tiny_model_dir, tokenizer, tiny_processor, rl_file, forced - 1, ADAPTIVE_ONLY) == 1
    assert kept_rows(tiny_model_dir, tokenizer, tiny_processor, rl_file, adaptive, ADAPTIVE_ONLY) == 1
    with pytest.raises(ValueError, match=f"produced {forced} tokens, exceeding rollout.prompt_length={forced - 1}"):
        first_prompt_length(tiny_model_dir, tokenizer, session_id=1, prompt_length=forced - 1)


def test_without_the_runs_layout_the_longest_instruction_of_any_mode_is_assumed(
    rl_file, tiny_model_dir, tiny_processor
):
    tokenizer = tiny_processor.tokenizer
    forced = first_prompt_length(tiny_model_dir, tokenizer, session_id=1)
    no_key = "data.max_response_length=2048"  # a harmless override in place of data.pixel_rollout
    assert kept_rows(tiny_model_dir, tokenizer, tiny_processor, rl_file, forced, no_key) == 1
    assert kept_rows(tiny_model_dir, tokenizer, tiny_processor, rl_file, forced - 1, no_key) == 0
