"""The procedural seed sample: reproducible, high resolution, small cues, every answer type, videos with windows."""

from __future__ import annotations

import filecmp
from collections import Counter

from PIL import Image

from verl_pixel.data.seed_sample import SeedSampleSpec, load_seed_sample, write_seed_sample
from verl_pixel.data.seeds import Modality, read_seeds


def test_default_sample_has_small_cues_in_large_images(seed_sample_dir):
    seeds = load_seed_sample(seed_sample_dir)  # reuses the drawn files (same spec)
    assert Counter(s.modality for s in seeds) == {Modality.IMAGE: 24, Modality.VIDEO: 6}
    assert Counter(s.answer_type for s in seeds) == {"number": 18, "multiple_choice": 6, "short_text": 6}
    for seed in seeds:
        if seed.modality is Modality.VIDEO:
            assert len(seed.video) == 16 and 1 <= seed.frames[0] <= seed.frames[1] <= 16
            continue
        with Image.open(seed.image) as image:
            assert image.size == (1600, 1200)
        x1, y1, x2, y2 = seed.bbox
        assert 0 <= x1 < x2 <= 1600 and 0 <= y1 < y2 <= 1200
        if seed.needs_zoom:  # the cue is a few tens of pixels in a 1600x1200 image
            assert (x2 - x1) * (y2 - y1) < 0.002 * 1600 * 1200
        else:
            assert seed.answer_type == "short_text" and (x2 - x1) >= 300


def test_same_spec_draws_identical_files(tmp_path):
    spec = SeedSampleSpec(n_images=4, n_videos=1, image_size=(400, 300), n_frames=6, seed=3)
    first = write_seed_sample(tmp_path / "a", spec)
    second = write_seed_sample(tmp_path / "b", spec)
    assert first.read_text() == second.read_text()
    for seed_a, seed_b in zip(read_seeds(first), read_seeds(second), strict=True):
        for path_a, path_b in zip((seed_a.image, *seed_a.video), (seed_b.image, *seed_b.video), strict=True):
            if path_a:
                assert filecmp.cmp(path_a, path_b, shallow=False)
    other = write_seed_sample(
        tmp_path / "c", SeedSampleSpec(n_images=4, n_videos=1, image_size=(400, 300), n_frames=6, seed=4)
    )
    assert other.read_text() != first.read_text()
