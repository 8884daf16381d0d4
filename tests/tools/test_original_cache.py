"""Originals shared by the trajectories of a worker: one decode per distinct image, lazy, bounded, released."""

from __future__ import annotations

import asyncio
import gc
import io
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from verl_pixel.ops import ImageRegistry, ToolCall, VisualOpsConfig, crop_image
from verl_pixel.tools import original_cache
from verl_pixel.tools.original_cache import OriginalCache, shared_cache
from verl_pixel.tools.session import answer_call, trajectory_registry

SIZE = (1920, 1080)
VIEW = (1008, 560)  # a 28-multiple view of it, as PixelRLDataset would hand the tools
PIXELS = 1920 * 1080 * 3


def pattern(seed: int = 0) -> np.ndarray:
    y, x = np.mgrid[0 : SIZE[1], 0 : SIZE[0]]
    return np.stack([(x + seed) % 256, (y * 3) % 256, (x // 7 + y // 5 + seed) % 256], axis=-1).astype(np.uint8)


def encoded(seed: int = 0, image_format: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pattern(seed)).save(buffer, format=image_format, quality=95)
    return buffer.getvalue()


def config(**overrides) -> VisualOpsConfig:
    return VisualOpsConfig(coordinates="pixels", padding=0.0, **overrides)


def crop(registry: ImageRegistry, box) -> Image.Image:
    result = crop_image(registry, {"bbox_2d": list(box)})
    assert result.ok, result
    return result.images[0]


def registry_with(handle, ops: VisualOpsConfig | None = None) -> ImageRegistry:
    return ImageRegistry.from_inputs(ops or config(), [Image.new("RGB", VIEW)], [handle])


def test_references_to_one_original_share_one_handle_and_one_decode(tmp_path):
    data = encoded()
    path = tmp_path / "a.jpg"
    path.write_bytes(data)
    cache = OriginalCache(max_bytes=10 * PIXELS)
    handles = [cache.handle(ref) for ref in (str(path), f"file://{path}", {"path": str(path)})]
    assert handles[0] is handles[1] is handles[2] and handles[0].size == SIZE
    same_bytes = [cache.handle(data), cache.handle({"bytes": bytes(data), "path": None})]
    assert same_bytes[0] is same_bytes[1] and same_bytes[0] is not handles[0]  # keyed by content, not the file
    assert cache.handle(encoded(seed=1)) is not same_bytes[0]
    assert cache.held_bytes == 0  # nothing is decoded until a crop needs it
    # Today's path: each trajectory decodes its own copy; the shared handle must give the same crop, pixel for pixel.
    eager = crop(registry_with(Image.open(io.BytesIO(data)).convert("RGB")), (100, 50, 400, 300))
    assert eager.size == (560, 476)  # original pixels 190..762 x 96..579 (572x483), smart_resize to 28-multiples
    for handle in handles:
        assert np.array_equal(np.asarray(crop(registry_with(handle), (100, 50, 400, 300))), np.asarray(eager))
    assert cache.held_bytes == PIXELS  # one full-resolution decode served the three trajectories


def test_a_crop_is_the_full_resolution_cut_of_the_original():
    pixels = pattern()[:840, :1120]  # 28-multiples under the view budget: the model's view keeps every pixel
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")  # lossless: exact pixels
    cache = OriginalCache(max_bytes=10 * PIXELS)
    registry = ImageRegistry.from_inputs(config(), [Image.new("RGB", (1120, 840))], [cache.handle(buffer.getvalue())])
    region = np.asarray(crop(registry, (280, 140, 560, 420)))  # 280x280: under the crop budget, not resized
    assert np.array_equal(region, pixels[140:420, 280:560])


def test_a_large_region_of_a_jpeg_decodes_at_a_reduced_scale_and_keeps_the_crops_size():
    data = encoded()
    ops = config(crop_max_pixels=16 * 28 * 28)  # a 16-token crop of the whole image: 140x84 of 1920x1080
    lazy = OriginalCache(max_bytes=10 * PIXELS)
    handle = lazy.handle(data)
    whole = crop(registry_with(handle, ops), (0, 0, *VIEW))
    assert lazy.held_bytes == 240 * 135 * 3  # decoded at 1/8 scale in the DCT domain (240 >= 140, 135 >= 84)
    decoded = Image.open(io.BytesIO(data)).convert("RGB")
    eager = crop(registry_with(decoded, ops), (0, 0, *VIEW))
    # smart_resize of 1920x1080 under 12544 px, by hand: beta = sqrt(2073600 / 12544) = 12.857, sides
    # floor(1920 / beta / 28) * 28 = 140 and floor(1080 / beta / 28) * 28 = 84
    assert whole.size == eager.size == (140, 84)
    difference = np.abs(np.asarray(whole, dtype=float) - np.asarray(eager, dtype=float)).mean()
    assert difference < 8.0  # the same picture (0-255 scale); the reduced decode only filters differently
    detail = (100, 50, 200, 150)  # ~191 original px a side, shown at 196x196: needs full resolution
    small = crop(registry_with(handle, ops), detail)
    assert np.array_equal(np.asarray(small), np.asarray(crop(registry_with(decoded, ops), detail)))
    assert lazy.held_bytes == PIXELS  # the full decode replaced the coarser copy, which it serves too


def test_decoded_pixels_stay_within_the_bound_and_are_decoded_again_when_needed():
    cache = OriginalCache(max_bytes=PIXELS + 1)  # room for one full-resolution original
    first, second = (cache.handle(encoded(image_format="PNG", seed=seed)) for seed in (0, 1))
    registries = [registry_with(first), registry_with(second)]
    box = (100, 50, 400, 300)
    before = np.asarray(crop(registries[0], box))
    crop(registries[1], box)
    assert cache.held_bytes == PIXELS  # the first original was evicted for the second
    assert np.array_equal(np.asarray(crop(registries[0], box)), before)  # decoded again, same pixels
    assert cache.held_bytes == PIXELS


def test_an_original_is_released_when_no_trajectory_holds_it():
    cache = OriginalCache(max_bytes=10 * PIXELS)
    registries = [registry_with(cache.handle(encoded(image_format="PNG"))) for _ in range(3)]
    crop(registries[0], (100, 50, 400, 300))
    assert (cache.live_handles, cache.held_bytes) == (1, PIXELS)
    del registries[:2]
    gc.collect()
    assert (cache.live_handles, cache.held_bytes) == (1, PIXELS)  # one trajectory still holds it
    registries.clear()
    gc.collect()
    assert (cache.live_handles, cache.held_bytes) == (0, 0)


def test_trajectories_of_a_group_share_the_original_through_the_tools_session(tmp_path, monkeypatch):
    path = tmp_path / "group.png"
    path.write_bytes(encoded(image_format="PNG"))
    monkeypatch.setattr(original_cache, "_shared", OriginalCache(max_bytes=10 * PIXELS))
    ops = config()

    def trajectory() -> SimpleNamespace:
        prompt = [{"role": "user", "content": [{"type": "image", "image": str(path)}, {"type": "text", "text": "?"}]}]
        return SimpleNamespace(image_data=[Image.new("RGB", VIEW)], messages=prompt, tools_kwargs={}, extra_fields={})

    group = [trajectory() for _ in range(8)]

    async def run_group():
        call = ToolCall("crop_image", {"bbox_2d": [100, 50, 400, 300]})
        return await asyncio.gather(*(answer_call(agent_data, ops, call) for agent_data in group))

    results = asyncio.run(run_group())
    assert all(result.ok for result in results)
    assert len({id(trajectory_registry(t)._originals[0]) for t in group}) == 1  # one handle for the group
    assert (shared_cache().live_handles, shared_cache().held_bytes) == (1, PIXELS)  # decoded once
    crops = {np.asarray(result.images[0]).tobytes() for result in results}
    assert len(crops) == 1


@pytest.mark.parametrize(("value", "megabytes"), [("", 1024), ("256", 256), (" 0 ", 0)])
def test_the_bound_comes_from_the_environment(monkeypatch, value, megabytes):
    monkeypatch.setattr(original_cache, "_shared", None)
    monkeypatch.setenv("VERL_PIXEL_ORIGINALS_CACHE_MB", value)
    assert shared_cache().max_bytes == megabytes * 1024 * 1024
    monkeypatch.setattr(original_cache, "_shared", None)
    monkeypatch.setenv("VERL_PIXEL_ORIGINALS_CACHE_MB", "1GB")
    with pytest.raises(ValueError, match="VERL_PIXEL_ORIGINALS_CACHE_MB='1GB': expected a whole number"):
        shared_cache()
