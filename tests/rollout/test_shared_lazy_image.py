"""A GRPO group shares one not-yet-decoded PIL image: its trajectories decode it concurrently, safely.

verl's ``RLHFDataset`` puts ``Image.open(BytesIO(row_bytes))`` in ``raw_prompt`` (lazy: the pixels are read on
first use) and every rollout of the group receives that same object. In-process (no Ray pickling to decode it
first) the model view and the tools' originals decode the one object from several threads at once; PIL's lazy
loader is not thread-safe, and before the decoder serialised the first decode this failed the whole batch with
``OSError: image file is truncated`` or gave wrong pixels.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from verl_pixel.record import TrajectoryRecord
from verl_pixel.testing.agent_harness import call, image_prompt, tools_yaml

N = 8
# A multiple of 28 under image_max_pixels: the model's view keeps every pixel, so exact pixels can be asserted.
WIDTH, HEIGHT = 1120, 840
BOX = (280, 140, 560, 420)  # pixels; with padding 0 the crop is exactly this region (280x280, under the budget)


def _pattern() -> np.ndarray:
    """Pixels that differ from their neighbours, so a decode mix-up changes what is compared."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    return np.stack([x % 256, y % 256, (x * 7 + y * 13) % 256], axis=-1).astype(np.uint8)


def test_trajectories_sharing_one_lazy_image_get_its_exact_pixels(make_rollouts, tmp_path):
    pixels = _pattern()
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    shared = Image.open(io.BytesIO(buffer.getvalue()))  # lazy, as verl's RLHFDataset hands it to the group
    config = tools_yaml(tmp_path, padding=0.0, coordinates="pixels", crop_source="original")
    rollouts = make_rollouts(f"actor_rollout_ref.rollout.multi_turn.tool_config_path={config}")
    crop = call(bbox_2d=list(BOX))
    seen: list[tuple[np.ndarray, np.ndarray]] = []

    def script(c):
        if c.turn == 0:
            return crop
        seen.append((np.asarray(c.images[0].convert("RGB")), np.asarray(c.images[-1].convert("RGB"))))
        return "\\boxed{A}"

    out, _ = rollouts.batch(script, [image_prompt([shared], "Which colour?") for _ in range(N)])
    for i in range(N):
        record = TrajectoryRecord.from_mapping({k: v[i] for k, v in out.non_tensor_batch.items()})
        assert (record.ops_succeeded, record.ops_failed) == (1, 0), i
    assert len(seen) == N
    x1, y1, x2, y2 = BOX
    for view, cropped in seen:
        assert np.array_equal(view, pixels)
        assert np.array_equal(cropped, pixels[y1:y2, x1:x2])
