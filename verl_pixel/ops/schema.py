"""OpenAI function schemas of the operations: the one source the tool YAML and prompts are generated from.

The descriptions state the coordinate convention in force, so the prompt and the parser cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from verl_pixel.ops.config import CROP_TOOL_NAME, SELECT_FRAMES_TOOL_NAME, CoordinateConvention, VisualOpsConfig

_CONVENTION_TEXT = {
    CoordinateConvention.PIXELS: "absolute pixel coordinates of the target image as you see it "
    "(x from 0 to its width, y from 0 to its height)",
    CoordinateConvention.NORMALIZED: "fractions of the target image's width and height, each between 0.0 and 1.0",
    CoordinateConvention.RELATIVE1000: "integers from 0 to 1000, relative to the target image's width and height",
    CoordinateConvention.AUTO: "either fractions of the target image's width and height between 0.0 and 1.0, "
    "or absolute pixel coordinates of the image as you see it",
}

_NUMBERING = (
    "Images are numbered in the order you saw them: the input image(s) first, then every image a tool returned."
)


def crop_tool_schema(config: VisualOpsConfig, name: str = CROP_TOOL_NAME) -> dict[str, Any]:
    """Schema of the crop operation under ``config``'s coordinate convention.

    Args:
        config: the operation config (its ``coordinates`` is described).
        name: the tool name to advertise (``crop_image`` or an alias such as ``crop_image_normalized``).
    """
    convention = _CONVENTION_TEXT[config.coordinates]
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": (
                "Zoom in: crop a region of an image you have seen and get it back as a new image with more detail. "
                f"Useful when an object or text is too small to see. {_NUMBERING} "
                f"Coordinates are {convention}."
            ),
            "parameters": {
                "type": "object",
                "properties": {
                    "bbox_2d": {
                        "type": "array",
                        "description": f"[x1, y1, x2, y2]: top-left and bottom-right corners, {convention}.",
                        "items": {"type": "number"},
                        "minItems": 4,
                        "maxItems": 4,
                    },
                    "target_image": {
                        "type": "integer",
                        "description": "Number of the image to crop, from 1 to the number of images so far "
                        "(default 1, the first input image).",
                    },
                },
                "required": ["bbox_2d"],
            },
        },
    }


def select_frames_tool_schema(config: VisualOpsConfig) -> dict[str, Any]:
    """Schema of the frame-selection operation."""
    limit = config.max_frames_per_call
    return {
        "type": "function",
        "function": {
            "name": SELECT_FRAMES_TOOL_NAME,
            "description": (
                "Select frames of the input video to look at closely; they come back as new images, numbered after "
                f"the images so far. Frames are numbered from 1 to the number of sampled frames. At most {limit} "
                "frames per call."
            ),
            "parameters": {
                "type": "object",
                "properties": {
                    "target_frames": {
                        "type": "array",
                        "description": f"Frame numbers to return (1-based), at most {limit} different frames.",
                        "items": {"type": "integer"},
                    },
                },
                "required": ["target_frames"],
            },
        },
    }


ALL_TOOLS = (CROP_TOOL_NAME, SELECT_FRAMES_TOOL_NAME)


def tool_schemas(config: VisualOpsConfig, names: Sequence[str] = ALL_TOOLS) -> list[dict[str, Any]]:
    """Schemas of the named operations in :data:`ALL_TOOLS` order (default: both; crop first, as crop_tool_name).

    An image-only task may offer ``crop_image`` alone: the schema text is most of a short prompt.

    Raises:
        ValueError: for an unknown or missing name.
    """
    unknown = sorted(set(names) - set(ALL_TOOLS))
    if unknown or not names:
        raise ValueError(f"tools: need a non-empty subset of {', '.join(ALL_TOOLS)}, got {list(names)}")
    builders = {
        CROP_TOOL_NAME: lambda: crop_tool_schema(config, config.crop_tool_name),  # offered under the run's name
        SELECT_FRAMES_TOOL_NAME: lambda: select_frames_tool_schema(config),
    }
    return [builders[name]() for name in ALL_TOOLS if name in names]
