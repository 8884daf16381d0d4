"""Seed annotations to the RL schema, round-tripped through parquet and verl's own RLHFDataset."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf
from verl.utils.dataset.rl_dataset import RLHFDataset

from verl_pixel.constants import PIXEL_AGENT_NAME
from verl_pixel.data.parquet_io import write_rl_parquet
from verl_pixel.data.rl_dataset import PixelRLDataset
from verl_pixel.data.rl_prepare import RLPrepareConfig, seeds_to_rl_rows
from verl_pixel.data.seeds import SeedAnnotation
from verl_pixel.reward.scoring.ground_truth import AnswerType, parse_ground_truth


@pytest.fixture
def seeds(make_seeds, media_dir):
    choice = SeedAnnotation(
        seed_id="mc",
        question="Which letter?",
        answer="B",
        answer_type="multiple_choice",
        image=str(media_dir / "img1.png"),
        bbox=(10, 10, 30, 30),
        options=("K", "P", "X"),
    )
    return [*make_seeds(2, 1), choice]


def _verl_dataset(path, tokenizer, processor, cls=RLHFDataset):
    config = OmegaConf.create({"filter_overlong_prompts": False, "return_raw_chat": True})
    return cls(str(path), tokenizer, config, processor=processor)


def test_rows_round_trip_through_verl_rlhf_dataset(seeds, tiny_tokenizer, tiny_processor, tmp_path):
    path = write_rl_parquet(seeds_to_rl_rows(seeds), tmp_path / "rl.parquet")
    dataset = _verl_dataset(path, tiny_tokenizer, tiny_processor)
    assert len(dataset) == 4
    image_row, video_row, mc_row = dataset[0], dataset[2], dataset[3]

    assert image_row["agent_name"] == PIXEL_AGENT_NAME and image_row["index"] == 0
    content = image_row["raw_prompt"][0]["content"]
    assert content[0]["type"] == "image" and content[0]["image"].size == (320, 240)
    assert content[1]["text"].startswith("What is written on the tag?") and "\\boxed{}" in content[1]["text"]
    assert image_row["extra_info"]["cue_bbox"] == list(seeds[0].bbox) and image_row["extra_info"]["cue_frames"] == []

    video_item = video_row["raw_prompt"][0]["content"][0]
    assert video_item["type"] == "video" and len(video_item["video"]) == 16
    assert video_item["max_pixels"] == 512 * 28 * 28  # Pixel Reasoner's input video frame budget
    assert video_row["extra_info"]["cue_frames"] == list(seeds[2].frames)

    truth = parse_ground_truth(mc_row["reward_model"]["ground_truth"])
    assert truth.answer_type is AnswerType.MULTIPLE_CHOICE and truth.correct_option == 1
    assert truth.options == ("K", "P", "X") and "(B) P" in mc_row["raw_prompt"][0]["content"][1]["text"]
    number = parse_ground_truth(image_row["reward_model"]["ground_truth"])
    assert number.answer_type is AnswerType.NUMBER and number.answers == (seeds[0].answer,)
    assert image_row["reward_model"]["style"] == "rule"


def test_frames_layout_gives_images_the_pixel_rl_dataset_decodes(seeds, tiny_tokenizer, tiny_processor, tmp_path):
    rows = seeds_to_rl_rows(seeds, RLPrepareConfig(video_layout="frames", embed_images=False))
    assert rows[2]["videos"] == [] and len(rows[2]["images"]) == 16
    assert rows[2]["prompt"][0]["content"].startswith("<image>" * 16)
    dataset = _verl_dataset(
        write_rl_parquet(rows, tmp_path / "rl.parquet"), tiny_tokenizer, tiny_processor, PixelRLDataset
    )
    messages = dataset[2]["raw_prompt"]
    images, videos, _ = PixelRLDataset._process_multi_modal_info(messages, 14, OmegaConf.create({}))
    assert len(images) == 16 and videos is None


def test_pixel_rl_dataset_decodes_videos_with_or_without_torchvision(monkeypatch, media_dir):
    import importlib.util

    from PIL import Image

    from verl_pixel.data.rl_dataset import PixelRLDataset

    # Both branches run on every machine: torchvision is made absent, then present (the CPU stack lacks it, the GPU
    # stack has it), instead of skipping whichever branch the machine cannot show.
    real_find_spec = importlib.util.find_spec
    frame = media_dir / "frame01.png"
    video = {"type": "video", "video": [str(frame), {"bytes": frame.read_bytes()}], "max_pixels": 200 * 28 * 28}
    messages = [{"role": "user", "content": [video, {"type": "text", "text": "?"}]}]
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torchvision" else
                        real_find_spec(name, *a))  # fmt: skip
    images, videos, _ = PixelRLDataset._process_multi_modal_info(messages, 14, {})
    # Without torchvision: the one video decoder, qwen_vl_utils' rules. 64x48 frames -> 168x112 at factor 56
    # (fetch_image's image minimum, 4 * 56 * 56) -> up to the video minimum 128 * 28 * 28: 392x280.
    ((frames, metadata),) = videos
    assert images is None and tuple(frames.shape) == (2, 3, 280, 392)
    assert metadata == {"fps": 2.0, "frames_indices": [0, 1], "total_num_frames": 2.0, "video_backend": "pyav"}
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "torchvision" else
                        real_find_spec(name, *a))  # fmt: skip
    monkeypatch.setattr(RLHFDataset, "_process_multi_modal_info", classmethod(lambda cls, *args: ("verl's", args)))
    # With torchvision: verl's own path, given frames qwen_vl_utils can read (the bytes frame decoded to PIL).
    verl, (given, patch, config) = PixelRLDataset._process_multi_modal_info(messages, 14, {})
    path, decoded = given[0]["content"][0]["video"]
    assert verl == "verl's" and (patch, config) == (14, {}) and path == str(frame)
    assert isinstance(decoded, Image.Image) and decoded.tobytes() == Image.open(frame).convert("RGB").tobytes()
    assert given[0]["content"][0]["max_pixels"] == 200 * 28 * 28 and messages[0]["content"][0] is video
