"""M-RoPE positions of PixelSFTDataset for Qwen3-VL rows with a video: what the model's own rule gives.

Qwen3-VL's processor writes a video as one ``<t seconds><|vision_start|><|video_pad|>...<|vision_end|>`` block per
temporal patch. verl 0.9.1's SFT dataset computes positions with Qwen2-VL's rule for it and raised IndexError on
``video_grid_thw``; the RL path binds transformers' ``Qwen3VLModel.get_rope_index`` to the processor
(``verl/utils/tokenizer/tokenizer.py:217-220``, used by ``agent_loop.py:_compute_position_ids``). The expectations
here are that function and positions worked by hand per block, neither of which the dataset calls.
"""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from verl_pixel.data.parquet_io import write_sft_parquet
from verl_pixel.data.sft_dataset import PixelSFTDataset

MERGE = 2  # spatial merge of both families: one video token covers 2 x 2 patches


@pytest.fixture(scope="module")
def qwen3_setup(tmp_path_factory, tiny_model_of):
    """verl's loader of the tiny Qwen3-VL processor (Qwen3VLModel.get_rope_index bound) and two video rows."""
    from verl.utils.tokenizer import hf_processor

    from verl_pixel.data.seed_sample import SeedSampleSpec, load_seed_sample
    from verl_pixel.data.smoke_sample import SMOKE_INPUT_TOKENS, smoke_pixels, smoke_video
    from verl_pixel.data.synthesis_config import SynthesisConfig
    from verl_pixel.data.synthesize import synthesize

    folder = tmp_path_factory.mktemp("qwen3_positions")
    seeds = load_seed_sample(folder / "seed_sample", SeedSampleSpec(n_images=0, n_videos=2))
    config = SynthesisConfig(
        seed=0, input_max_pixels=smoke_pixels("qwen3_vl", SMOKE_INPUT_TOKENS), video=smoke_video("qwen3_vl"),
        video_single_pass=0.0, video_reselect=1.0, text_only=0.0,
    )  # fmt: skip
    rows = synthesize(seeds, config).rows
    processor = hf_processor(str(tiny_model_of("qwen3_vl")), trust_remote_code=True)
    options = OmegaConf.create({"max_length": 8192, "pad_mode": "no_padding", "truncation": "error"})
    path = write_sft_parquet(rows, folder / "videos.parquet")
    return processor, PixelSFTDataset(str(path), processor.tokenizer, options, processor=processor)


def _model_rule(processor, sample) -> torch.Tensor:
    """transformers' Qwen3-VL positions for the sample's ids and grids, as verl's RL agent loop asks for them."""
    ids, inputs = sample["input_ids"], sample["multi_modal_inputs"]
    token_types = torch.zeros_like(ids)  # agent_loop.py: 1 for image pads, 2 for video pads
    token_types[ids == processor.image_token_id] = 1
    token_types[ids == processor.video_token_id] = 2
    positions, _ = processor.get_rope_index(
        input_ids=ids[None],
        mm_token_type_ids=token_types[None],
        image_grid_thw=inputs.get("image_grid_thw"),
        video_grid_thw=inputs.get("video_grid_thw"),
        attention_mask=torch.ones_like(ids)[None],
    )
    return positions[:, 0]  # (3, seq_len)


def _pad_runs(ids: torch.Tensor, pad: int) -> list[tuple[int, int]]:
    """(start, length) of each run of ``pad`` tokens."""
    runs, start = [], None
    for i, is_pad in enumerate([*(ids == pad).tolist(), False]):
        if is_pad and start is None:
            start = i
        elif not is_pad and start is not None:
            runs.append((start, i - start))
            start = None
    return runs


def test_video_rows_get_the_positions_of_qwen3_vl_s_own_rule(qwen3_setup):
    processor, dataset = qwen3_setup
    assert len(dataset) == 2
    for sample in (dataset[i] for i in range(len(dataset))):
        ids, positions, inputs = sample["input_ids"], sample["position_ids"], sample["multi_modal_inputs"]
        # The row has a video and tool-turn images; the grid kept for the vision tower is the processor's own
        # (16 frames -> 8 temporal patches), not the per-block split the positions read.
        assert inputs["video_grid_thw"][:, 0].tolist() == [8] and len(inputs["image_grid_thw"]) > 0
        assert positions.shape == (4, len(ids))
        assert torch.equal(positions[0], torch.arange(len(ids)))  # verl's text row
        assert torch.equal(positions[1:], _model_rule(processor, sample))


def test_each_video_block_is_laid_out_by_hand(qwen3_setup):
    """Per block: one temporal index (the next position after the text before it), rows and columns offset from it;
    the text after the block continues from its largest position plus one."""
    processor, dataset = qwen3_setup
    sample = dataset[0]
    ids, positions = sample["input_ids"], sample["position_ids"][1:]
    _, h, w = sample["multi_modal_inputs"]["video_grid_thw"][0].tolist()
    rows, cols = h // MERGE, w // MERGE
    blocks = _pad_runs(ids, processor.video_token_id)
    assert [length for _, length in blocks] == [rows * cols] * 8  # one block per temporal patch
    for start, length in blocks:
        before = positions[:, start - 1]  # <|vision_start|>, a text token: equal on all three rows
        assert before.tolist() == [before[0].item()] * 3
        first = before[0].item() + 1
        grid = torch.arange(length)
        expected = torch.stack([torch.full((length,), first), first + grid // cols, first + grid % cols])
        assert torch.equal(positions[:, start : start + length], expected)
        after = first + max(rows, cols) - 1 + 1  # <|vision_end|>
        assert positions[:, start + length].tolist() == [after] * 3
