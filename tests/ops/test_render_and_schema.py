"""Rendering of results in both styles, the generated schemas, config parsing and event totals."""

from __future__ import annotations

import pytest

from verl_pixel.ops import (
    CoordinateConvention,
    ImageRegistry,
    OutputStyle,
    VisualOpsConfig,
    crop_tool_schema,
    render_tool_output,
    render_tool_outputs,
    run_operation,
    select_frames_tool_schema,
    summarize_events,
)


@pytest.fixture
def crop_result(make_registry):
    # padding 0: [112,56,224,168] -> 196x196 crop, image 2
    return run_operation(
        make_registry(padding=0.0, coordinates="pixels"), "crop_image", {"bbox_2d": [112, 56, 224, 168]}
    )


@pytest.fixture
def error_result(make_registry):
    return run_operation(make_registry(), "crop_image", {})


def test_qwen_style_crop(crop_result):
    message = render_tool_output(crop_result, OutputStyle.QWEN)
    assert message["role"] == "tool"
    image_item, text_item = message["content"]
    assert image_item == {"type": "image", "image": crop_result.images[0]}
    assert text_item == {"type": "text", "text": "Image 2: crop of image 1 (196x196)."}


def test_pixel_reasoner_style_crop(crop_result):
    message = render_tool_output(crop_result, OutputStyle.PIXEL_REASONER)
    assert message["role"] == "user"
    text_item, image_item = message["content"]
    assert text_item["text"] == "\nHere is the cropped image (Image Size: 196x196):"
    assert image_item["type"] == "image"


def test_error_styles(error_result):
    qwen = render_tool_output(error_result, OutputStyle.QWEN)
    assert qwen == {"role": "tool", "content": [{"type": "text", "text": f"Error: {error_result.message}"}]}
    pixel_reasoner = render_tool_output(error_result, OutputStyle.PIXEL_REASONER)
    assert pixel_reasoner["role"] == "user"
    assert pixel_reasoner["content"] == [{"type": "text", "text": f"\nExecution error:\n{error_result.message}\n"}]


def test_frames_in_both_styles(view_config, video_frames):
    registry = ImageRegistry.from_inputs(view_config(), video_frames=video_frames)
    result = run_operation(registry, "select_frames", {"target_frames": [2, 9]})
    qwen, pixel_reasoner = (render_tool_outputs([result], style)[0] for style in OutputStyle)
    assert qwen["content"][-1]["text"] == "Images 1 to 2: frames 2, 9 of the video (224x168 each)."
    assert (
        pixel_reasoner["content"][0]["text"] == "\nHere are the selected frames (Frame Size: 224x168, Numbered 1 to 2):"
    )
    assert [item["type"] for item in pixel_reasoner["content"]] == ["text", "image", "image"]


@pytest.mark.parametrize(
    ("convention", "phrase"),
    [
        (CoordinateConvention.PIXELS, "absolute pixel coordinates of the target image as you see it"),
        (CoordinateConvention.NORMALIZED, "fractions of the target image's width and height, each between 0.0 and 1.0"),
        (CoordinateConvention.RELATIVE1000, "integers from 0 to 1000"),
        (CoordinateConvention.AUTO, "either fractions of the target image's width and height"),
    ],
)
def test_crop_schema_states_the_convention(convention, phrase):
    schema = crop_tool_schema(VisualOpsConfig(coordinates=convention))
    function = schema["function"]
    assert function["name"] == "crop_image" and phrase in function["description"]
    assert phrase in function["parameters"]["properties"]["bbox_2d"]["description"]
    assert function["parameters"]["required"] == ["bbox_2d"]


def test_select_frames_schema_states_the_limit():
    schema = select_frames_tool_schema(VisualOpsConfig(max_frames_per_call=4))
    assert "At most 4 frames per call" in schema["function"]["description"]


def test_config_from_mapping():
    config = VisualOpsConfig.from_mapping({"type": "native", "coordinates": "pixels", "crop_source": "model_view"})
    assert config.coordinates is CoordinateConvention.PIXELS and config.crop_source.value == "model_view"
    assert VisualOpsConfig.from_mapping(config.to_mapping()) == config


KNOWN_OPS_KEYS = (
    "(known: budget_stop, coordinates, crop_max_pixels, crop_source, crop_tool_name, crop_video_frames, factor, "
    "frame_max_pixels, image_max_pixels, max_aspect_ratio, max_frames_per_call, max_images, max_operations, "
    "min_pixels, min_side, output_style, padding, small_box)"
)


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"cordinates": "pixels"}, f"tools[0].config.cordinates: unknown key {KNOWN_OPS_KEYS}"),  # typo
        ({"coordinates": "inches"}, "tools[0].config.coordinates: 'inches' is not one of pixels, normalized, "
         "relative1000, auto"),
        ({"crop_source": "orignal"}, "tools[0].config.crop_source: 'orignal' is not one of original, model_view"),
        ({"output_style": "html"}, "tools[0].config.output_style: 'html' is not one of qwen, pixel_reasoner"),
        ({"padding": -0.1}, "tools[0].config.padding: must be in [0, 1), got -0.1"),
        ({"padding": "0.1"}, "tools[0].config.padding: expected float, got '0.1'"),
        ({"max_operations": "4"}, "tools[0].config.max_operations: expected int, got '4'"),
        ({"max_images": 0}, "tools[0].config.max_images: must be >= 1, got 0"),
        ({"crop_video_frames": "no"}, "tools[0].config.crop_video_frames: expected bool, got 'no'"),
        ({"crop_max_pixels": 100}, "tools[0].config.crop_max_pixels: must be >= min_pixels and >= factor**2, got 100"),
        ({"budget_stop": "stop"}, "tools[0].config.budget_stop: 'stop' is not one of warn_then_end, end"),
        ({"small_box": "shrink"}, "tools[0].config.small_box: 'shrink' is not one of grow, reject"),
        ({"crop_tool_name": "zoom"}, "tools[0].config.crop_tool_name: 'zoom' is not one of crop_image, "
         "crop_image_normalized, image_zoom_in_tool, zoom_in"),
    ],
)  # fmt: skip
def test_config_rejects_bad_values_naming_the_key(mapping, message):
    with pytest.raises(ValueError) as err:
        VisualOpsConfig.from_mapping(mapping, path="tools[0].config.")
    assert str(err.value) == message


def test_summarize_events(make_registry):
    registry = make_registry()
    results = [
        run_operation(registry, "crop_image", {"bbox_2d": [1, 2, 30, 40]}),
        run_operation(registry, "crop_image", {}),
        run_operation(registry, "select_frames", {"target_frames": [1]}),
    ]
    summary = summarize_events(result.to_event() for result in results)
    assert summary["attempted"] == 3 and summary["succeeded"] == 1 and summary["failed"] == 2
    assert summary["failure_reasons"] == {"missing_argument": 1, "wrong_modality": 1}
    assert (
        summary["images_added"] == 1
        and summary["pixels_added"] == results[0].images[0].width * results[0].images[0].height
    )
