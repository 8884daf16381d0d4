"""SFT rows too long for ``data.max_length`` are found before training: counted as verl builds them, all named.

The count is checked against verl itself: for every synthesized trajectory (single pass, recrops, further zoom,
video frames, videos, text only; both families) it equals the length of the ``input_ids`` verl's
``MultiTurnSFTDataset`` builds for that row through :class:`PixelSFTDataset`.
Without the pre-check the same rows load, and verl raises for an over-long one only when it is built (in a
DataLoader worker, mid-run).
"""

from __future__ import annotations

import io

import pytest
from omegaconf import OmegaConf
from PIL import Image

from verl_pixel.cli import main
from verl_pixel.data.parquet_io import iter_rows, write_sft_parquet
from verl_pixel.data.row_checks import BadRowsError
from verl_pixel.data.sft_dataset import PixelSFTDataset
from verl_pixel.data.sft_lengths import ImageGeometry, token_counter
from verl_pixel.data.smoke_sample import write_synthesized_sft_sample


def sft_dataset(path, processor, max_length=16384, **config):
    options = {"max_length": max_length, "pad_mode": "no_padding", "truncation": "error", **config}
    return PixelSFTDataset(str(path), processor.tokenizer, OmegaConf.create(options), processor=processor)


@pytest.fixture(scope="module")
def sample(tmp_path_factory, family):
    train, _ = write_synthesized_sft_sample(tmp_path_factory.mktemp(f"sft_{family}"), family=family)
    return train


def test_the_count_is_the_length_verl_builds_for_every_row(sample, family_processor):
    dataset = sft_dataset(sample, family_processor)
    count = token_counter(family_processor)
    rows = list(iter_rows(sample))
    counts = [count(row) for _, row in rows]
    assert counts == [len(dataset[i]["input_ids"]) for i in range(len(dataset))]
    assert len(set(counts)) > 5  # rows of many shapes: the equality is not one number repeated
    assert len(dataset) == len(rows) and any(row.get("videos") for _, row in rows)  # video rows compared too


def test_an_image_reference_with_its_own_budget_is_counted_at_that_budget(tiny_processor, tmp_path):
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (20, 90, 160)).save(buffer, format="PNG")
    budget = 64 * 28 * 28
    row = {
        "messages": [{"role": "user", "content": "<image>Colour?"}, {"role": "assistant", "content": "\\boxed{blue}"}],
        "images": [{"bytes": buffer.getvalue(), "max_pixels": budget}],
        "videos": [],
    }
    path = write_sft_parquet([row], tmp_path / "budget.parquet")
    count = token_counter(tiny_processor)(next(iter_rows(path))[1])
    assert count == len(sft_dataset(path, tiny_processor)[0]["input_ids"])
    # 640x480 at 64 tokens, smart_resize by hand: beta = sqrt(307200 / 50176) = 2.474, sides
    # floor(640 / beta / 28) * 28 = 252 and floor(480 / beta / 28) * 28 = 168 -> 9 x 6 = 54 image tokens; without
    # the budget 644x476 -> 23 x 17 = 391.
    assert ImageGeometry.of(tiny_processor).tokens((640, 480), budget) == 54
    assert ImageGeometry.of(tiny_processor).tokens((640, 480)) == 23 * 17


def test_every_over_long_row_is_named_with_its_count_and_the_limit_at_load(sample, tiny_processor, family):
    if family != "qwen2_5_vl":
        pytest.skip("one family is enough for the policy; counts are checked per family above")
    counts = {index: token_counter(tiny_processor)(row) for index, row in iter_rows(sample)}
    limit = sorted(counts.values())[len(counts) // 2]
    over = sorted(index for index, n in counts.items() if n > limit)
    with pytest.raises(BadRowsError) as info:
        sft_dataset(sample, tiny_processor, max_length=limit)
    message = str(info.value)
    assert message.startswith(f"{len(over)} bad rows (set data.bad_rows=skip")
    for index in over[:20]:
        expected = f"{sample}: row {index}: field 'messages': {counts[index]} tokens, over the {limit}-token limit"
        assert f"\n  {expected} (data.max_length); images included" in message
    kept = sft_dataset(sample, tiny_processor, max_length=limit, bad_rows="skip")
    assert len(kept) == len(counts) - len(over)
    assert max(len(kept[i]["input_ids"]) for i in range(len(kept))) <= limit
    # Without the pre-check the rows load, and verl raises for an over-long one only when it is built.
    unchecked = sft_dataset(sample, tiny_processor, max_length=limit, check_lengths_on_load=False)
    with pytest.raises(ValueError, match=f"sequence_length={counts[over[0]]} is larger than self.max_length={limit}"):
        unchecked[over[0]]


def test_data_check_lists_over_long_rows_with_the_models_processor(sample, tiny_model_dir, tiny_processor, capsys):
    counts = [token_counter(tiny_processor)(row) for _, row in iter_rows(sample)]
    limit = max(counts) - 1
    longest = counts.index(max(counts))
    assert main(["data", "check", str(sample), "--max-length", str(limit), "--model", str(tiny_model_dir)]) == 1
    lines = capsys.readouterr().out.splitlines()
    too_long = f"{max(counts)} tokens, over the {limit}-token limit (--max-length); images included"
    assert f"{sample}: row {longest}: field 'messages': {too_long}" in lines
    assert lines[-1] == f"{sample}: sft rows: {len(counts)}, bad: {counts.count(max(counts))}"
    assert main(["data", "check", str(sample), "--max-length", str(max(counts)), "--model", str(tiny_model_dir)]) == 0
    with pytest.raises(SystemExit, match="--max-length needs --model"):
        main(["data", "check", str(sample), "--max-length", "10"])
