"""Fixtures of the data tests: small seed files (fast to crop and encode) and a cheap synthesis config."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from verl_pixel.data.seeds import SeedAnnotation
from verl_pixel.data.synthesis_config import SynthesisConfig
from verl_pixel.data.video_sampling import VideoBudget
from verl_pixel.ops import VisualOpsConfig

IMAGE_SIZE = (320, 240)
N_FRAMES = 16


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four 320x240 images and one 16-frame video (64x48 frames)."""
    folder = tmp_path_factory.mktemp("media")
    rng = random.Random(0)
    for index in range(4):
        image = Image.new("RGB", IMAGE_SIZE, (230, 230, 220))
        draw = ImageDraw.Draw(image)
        for _ in range(20):
            x, y = rng.randint(0, 300), rng.randint(0, 220)
            draw.rectangle([x, y, x + 15, y + 12], fill=(rng.randint(0, 255), 90, 90))
        image.save(folder / f"img{index}.png")
    for frame in range(1, N_FRAMES + 1):
        Image.new("RGB", (64, 48), (10 * frame, 100, 100)).save(folder / f"frame{frame:02d}.png")
    return folder


@pytest.fixture(scope="session")
def make_seeds(media_dir: Path) -> Callable[..., list[SeedAnnotation]]:
    """``make_seeds(n_images, n_videos, seed=0)``: seeds over the media with random small cues."""

    def build(n_images: int, n_videos: int, seed: int = 0) -> list[SeedAnnotation]:
        rng = random.Random(seed)
        seeds = []
        for index in range(n_images):
            w, h = rng.randint(8, 40), rng.randint(8, 30)
            x, y = rng.randint(0, IMAGE_SIZE[0] - w), rng.randint(0, IMAGE_SIZE[1] - h)
            seeds.append(
                SeedAnnotation(
                    seed_id=f"i{index}",
                    question="What is written on the tag?",
                    answer=str(rng.randint(1, 99)),
                    answer_type="number",
                    image=str(media_dir / f"img{index % 4}.png"),
                    bbox=(x, y, x + w, y + h),
                    target="the tag",
                    needs_zoom=rng.random() > 0.1,
                )
            )
        frames = tuple(str(media_dir / f"frame{f:02d}.png") for f in range(1, N_FRAMES + 1))
        for index in range(n_videos):
            first = rng.randint(1, N_FRAMES - 3)
            seeds.append(
                SeedAnnotation(
                    seed_id=f"v{index}",
                    question="Which digit flashes?",
                    answer=str(rng.randint(1, 9)),
                    answer_type="number",
                    video=frames,
                    frames=(first, first + rng.randint(0, 3)),
                    target="the digit",
                )
            )
        return seeds

    return build


def fast_config(**overrides) -> SynthesisConfig:
    """Small crop / frame / video budgets: planning and masks are what is tested, not pixels.

    The 64x48 frames of ``media_dir`` decode to 56x56 under the video budget (4 to 16 tokens a frame).
    """
    ops = VisualOpsConfig(crop_max_pixels=16 * 28 * 28, frame_max_pixels=8 * 28 * 28, image_max_pixels=64 * 28 * 28)
    video = VideoBudget(max_pixels=16 * 28 * 28, min_pixels=4 * 28 * 28)
    return SynthesisConfig(ops=overrides.pop("ops", ops), video=overrides.pop("video", video), **overrides)


@pytest.fixture(scope="session")
def fast_synthesis_config() -> Callable[..., SynthesisConfig]:
    """``fast_synthesis_config(**overrides)``: :func:`fast_config`."""
    return fast_config


@pytest.fixture(scope="session")
def seed_sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled seed sample (default spec), drawn once per session."""
    from verl_pixel.data.seed_sample import write_seed_sample

    folder = tmp_path_factory.mktemp("seed_sample")
    write_seed_sample(folder)
    return folder
