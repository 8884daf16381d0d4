"""Exact crop regions for every convention on the non-square reference pair (1000x600 original, 560x336 view).

Expected regions are in original pixels; one view pixel = 1000/560 = 1.7857 original pixels. Output sizes are
transformers' smart_resize(factor 28, min 3136, max 1000*28*28) of the region: each side rounded to a multiple
of 28 (round(side / 28) * 28) because every region here is under the budget.
"""

from __future__ import annotations

import pytest
from PIL import Image

from verl_pixel.ops import CropSource, ImageKind, ImageRegistry, VisualOpsConfig, run_operation

# (convention, bbox_2d, expected region in the original, expected output size) with padding 0.
EXACT_CASES = [
    # pixels: view [112,56,224,168] * 1.7857 = [200,100,400,300]; 200x200 -> 7*28 = 196.
    ("pixels", [112, 56, 224, 168], (200, 100, 400, 300), (196, 196)),
    # normalized: [0.2,0.1,0.4,0.5] * 560x336 = [112,33.6,224,168] -> [200,60,400,300]; 240 -> 9*28 = 252.
    ("normalized", [0.2, 0.1, 0.4, 0.5], (200, 60, 400, 300), (196, 252)),
    # relative1000: [200,100,400,500] / 1000 = the normalized box above.
    ("relative1000", [200, 100, 400, 500], (200, 60, 400, 300), (196, 252)),
    # auto, the Pixel Reasoner trap: all values in [0,1] and some < 1 -> normalized, the bottom-right quarter
    # [280,168,560,336] -> [500,300,1000,600]; 500 -> 18*28 = 504, 300 -> 11*28 = 308.
    ("auto", [0.5, 0.5, 1.0, 1.0], (500, 300, 1000, 600), (504, 308)),
    # auto with values > 1 -> pixels: [100,50,300,250] -> [178.57,89.29,535.71,446.43], rounded outward
    # to [178,89,536,447]; 358 -> 13*28 = 364.
    ("auto", [100, 50, 300, 250], (178, 89, 536, 447), (364, 364)),
    # auto [0,0,1,1] -> normalized whole image; at the crop budget it gets more pixels than the 560x336 view:
    # 1000 -> 36*28 = 1008, 600 -> 21*28 = 588.
    ("auto", [0, 0, 1, 1], (0, 0, 1000, 600), (1008, 588)),
]


@pytest.mark.parametrize(("coordinates", "bbox", "region", "size"), EXACT_CASES)
def test_exact_crop_per_convention(make_registry, coordinates, bbox, region, size):
    registry = make_registry(padding=0.0, coordinates=coordinates)
    result = run_operation(registry, "crop_image", {"bbox_2d": bbox})
    assert result.ok, result.message
    assert result.region == region
    assert result.images[0].size == size
    assert result.image_numbers == (2,)  # one input image, so the first crop is image 2


# (bbox_2d in view pixels, expected region, expected size) with padding 0: clamping and growth.
EDGE_CASES = [
    # past the right/bottom edge: clamped to [500,300,560,336] -> [892.86,535.71,1000,600] -> outward
    # [892,535,1000,600]; 108 -> 4*28 = 112, 65 -> 2*28 = 56.
    ([500, 300, 600, 400], (892, 535, 1000, 600), (112, 56)),
    # negative start: clamped to [0,0,56,56] -> [0,0,100,100]; 100 -> 4*28 = 112.
    ([-20, -10, 56, 56], (0, 0, 100, 100), (112, 112)),
    # 10x4 box grown to 28x28 about its centre (105,102): [91,88,119,116] -> [162.5,157.14,212.5,207.14]
    # -> outward [162,157,213,208]; 51 -> 2*28 = 56.
    ([100, 100, 110, 104], (162, 157, 213, 208), (56, 56)),
    # 5x6 box at the bottom-right corner: grown to 28x28 then shifted inside to [532,308,560,336] ->
    # [950,550,1000,600].
    ([555, 330, 560, 336], (950, 550, 1000, 600), (56, 56)),
    # 1x1 box at the top-left corner: grown and shifted to [0,0,28,28] -> [0,0,50,50].
    ([1, 1, 2, 2], (0, 0, 50, 50), (56, 56)),
]


@pytest.mark.parametrize(("bbox", "region", "size"), EDGE_CASES)
def test_clamping_and_growth(make_registry, bbox, region, size):
    registry = make_registry(padding=0.0, coordinates="pixels")
    result = run_operation(registry, "crop_image", {"bbox_2d": bbox})
    assert result.ok, result.message
    assert (result.region, result.images[0].size) == (region, size)


PADDING_CASES = [
    # padding 0 leaves the box: [112,56,224,168] -> [200,100,400,300].
    (0.0, [112, 56, 224, 168], (200, 100, 400, 300), (196, 196)),
    # padding 0.1: +-0.1*560 = 56 in x, +-0.1*336 = 33.6 in y -> [56,22.4,280,201.6] -> [100,40,500,360];
    # 400 -> 14*28 = 392, 320 -> 11*28 = 308.
    (0.1, [112, 56, 224, 168], (100, 40, 500, 360), (392, 308)),
    # padding 0.1 at the corner is clamped: [-56,-33.6,112,89.6] -> [0,0,112,89.6] -> [0,0,200,160];
    # 200 -> 196, 160 -> 6*28 = 168.
    (0.1, [0, 0, 56, 56], (0, 0, 200, 160), (196, 168)),
]


@pytest.mark.parametrize(("padding", "bbox", "region", "size"), PADDING_CASES)
def test_padding(make_registry, padding, bbox, region, size):
    registry = make_registry(padding=padding, coordinates="pixels")
    result = run_operation(registry, "crop_image", {"bbox_2d": bbox})
    assert (result.region, result.images[0].size) == (region, size)


def test_crop_of_crop_maps_through_the_chain(make_registry):
    registry = make_registry(padding=0.0, coordinates="auto")
    # image 2: view [112,56,224,168] of image 1 = original [200,100,400,300], shown at 196x196.
    first = run_operation(registry, "crop_image", {"bbox_2d": [112, 56, 224, 168]})
    # image 3: the top-left half of image 2 in its own pixels, [0,0,98,98] * (200/196) -> [200,100,300,200].
    second = run_operation(registry, "crop_image", {"bbox_2d": [0, 0, 98, 98], "target_image": 2})
    # image 4: bottom-right quarter of image 3 (normalized) -> [250,150,300,200]; 50 -> 2*28 = 56.
    third = run_operation(registry, "crop_image", {"bbox_2d": [0.5, 0.5, 1.0, 1.0], "target_image": 3})
    assert [r.region for r in (first, second, third)] == [
        (200, 100, 400, 300),
        (200, 100, 300, 200),
        (250, 150, 300, 200),
    ]
    assert [r.image_numbers for r in (first, second, third)] == [(2,), (3,), (4,)]
    assert third.images[0].size == (56, 56)
    assert registry.view(4).kind is ImageKind.CROP and registry.view(4).source == 0


def test_crop_is_cut_from_the_original(make_registry, original):
    registry = make_registry(padding=0.0, coordinates="pixels")
    crop = run_operation(registry, "crop_image", {"bbox_2d": [112, 56, 224, 168]}).images[0]
    # the exact pixels: original [200,100,400,300] resized 200x200 -> 196x196 with bicubic
    expected = original.crop((200, 100, 400, 300)).resize((196, 196), Image.Resampling.BICUBIC)
    assert crop.tobytes() == expected.tobytes()


def test_model_view_source_reproduces_the_peers(make_registry, model_view):
    registry = make_registry(padding=0.0, coordinates="pixels", crop_source=CropSource.MODEL_VIEW)
    result = run_operation(registry, "crop_image", {"bbox_2d": [112, 56, 224, 168]})
    # cut from the 560x336 copy: 112x112 view pixels, already a multiple of 28, so not resized
    assert result.images[0].tobytes() == model_view.crop((112, 56, 224, 168)).tobytes()
    # the bookkeeping still maps to the original: [200,100,400,300]
    assert result.region == (200, 100, 400, 300)


def test_model_view_is_derived_with_the_processor_rule(original, view_config):
    # verl handed the tool the full 1000x600 image (fetch_image had a larger budget), but the processor shows
    # the model 560x336: pixel coordinates must be read in that frame.
    registry = ImageRegistry.from_inputs(view_config(padding=0.0, coordinates="pixels"), [original])
    assert registry.view(1).view_size == (560, 336)
    assert run_operation(registry, "crop_image", {"bbox_2d": [112, 56, 224, 168]}).region == (200, 100, 400, 300)


def test_qwen3_vl_preset_relative1000(original):
    # factor 32, min_pixels 65536, max 256*32*32 = 262144: beta = sqrt(600000/262144) = 1.51288,
    # view = floor(1000/1.51288/32)*32 x floor(600/1.51288/32)*32 = 640x384 (1.5625 original px per view px).
    config = VisualOpsConfig.for_qwen3_vl(image_max_pixels=256 * 32 * 32, padding=0.0)
    registry = ImageRegistry.from_inputs(config, [original])
    assert registry.view(1).view_size == (640, 384)
    # [250,250,500,500]/1000 of 640x384 = [160,96,320,192] -> original [250,150,500,300] (250x150).
    result = run_operation(registry, "crop_image", {"bbox_2d": [250, 250, 500, 500]})
    assert result.region == (250, 150, 500, 300)
    # 256x160 < 65536 px, so smart_resize scales up: beta = sqrt(65536/37500) = 1.32198,
    # ceil(250*1.32198/32)*32 = 352, ceil(150*1.32198/32)*32 = 224.
    assert result.images[0].size == (352, 224)


def test_mismatched_original_falls_back_to_the_model_copy(model_view, noise_image, view_config):
    # a 600x1000 "original" (portrait) cannot be the source of a landscape view
    registry = ImageRegistry.from_inputs(view_config(padding=0.0), [model_view], [noise_image((600, 1000))])
    assert registry.view(1).region.as_tuple() == (0.0, 0.0, 560.0, 336.0)


def test_image_without_original_is_its_own_original(model_view, view_config):
    registry = ImageRegistry.from_inputs(view_config(padding=0.0, coordinates="pixels"), [model_view], [None])
    assert run_operation(registry, "crop_image", {"bbox_2d": [112, 56, 224, 168]}).region == (112, 56, 224, 168)


def test_rgba_original_is_composited_on_white(model_view, view_config):
    transparent = Image.new("RGBA", (1000, 600), (0, 0, 0, 0))
    registry = ImageRegistry.from_inputs(view_config(padding=0.0), [model_view], [transparent])
    crop = run_operation(registry, "crop_image", {"bbox_2d": [0.1, 0.1, 0.2, 0.2]}).images[0]
    assert crop.mode == "RGB" and crop.getpixel((0, 0)) == (255, 255, 255)
