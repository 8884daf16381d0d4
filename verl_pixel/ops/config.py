"""Constants and the typed configuration of the visual operations (METHOD.md §1).

Every knob of the operation layer lives in :class:`VisualOpsConfig`; the numbers it defaults to are named here once.
Pixel budgets are written as ``tokens * factor**2`` because that is how the Qwen processors and Pixel Reasoner state
them (one visual token covers a ``factor x factor`` patch after the 2x2 merge).
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Mapping
from enum import Enum
from typing import Any

from verl_pixel.plain_values import reject_unknown_keys

# Patch factor = vision patch size * spatial merge size: the side of the square one visual token covers.
QWEN2_5_VL_FACTOR = 28  # patch 14, merge 2
QWEN3_VL_FACTOR = 32  # patch 16, merge 2

# Processor defaults for the smallest image (transformers' Qwen2VLImageProcessor size["shortest_edge"] and
# the Qwen3-VL preprocessor_config.json "shortest_edge").
QWEN2_5_VL_MIN_PIXELS = 56 * 56
QWEN3_VL_MIN_PIXELS = 65536

# Pixel Reasoner training budgets, in visual tokens (METHOD.md §1).
ORIGINAL_MAX_TOKENS = 2000
CROP_MAX_TOKENS = 1000
FRAME_MAX_TOKENS = 400
# The input video's frames as the model sees them (not an operation's budget; the data writers put it on video
# entries as ``max_pixels``): Pixel Reasoner gives every video item max_pixels 512*28*28
# (curiosity_driven_rl/openrlhf/trainer/ppo_utils/data_processor.py:423).
VIDEO_FRAME_MAX_TOKENS = 512

DEFAULT_PADDING = 0.1  # fraction of the target image's size added on each side
MAX_ASPECT_RATIO = 200.0  # the Qwen processors' smart_resize refuses anything longer
DEFAULT_MAX_FRAMES_PER_CALL = 8
DEFAULT_MAX_OPERATIONS = 4  # per trajectory (Pixel Reasoner)
DEFAULT_MAX_IMAGES = 16  # per trajectory, inputs included (Pixel Reasoner)

# A coordinate beyond this is treated as garbage rather than clamped: it also keeps float() away from
# arbitrarily large JSON integers.
MAX_ABS_COORDINATE = 1e6

# Aspect ratios of a stored original and the image verl handed the tool may differ by rounding to the
# patch factor; beyond this relative difference the "original" is not the same picture and is not used.
ORIGINAL_ASPECT_TOLERANCE = 0.25

CROP_TOOL_NAME = "crop_image"
SELECT_FRAMES_TOOL_NAME = "select_frames"
# Names the crop operation is called by across Pixel Reasoner, verl-tool and DeepEyes.
CROP_TOOL_ALIASES = ("crop_image", "crop_image_normalized", "image_zoom_in_tool", "zoom_in")


class CoordinateConvention(str, Enum):
    """How the four numbers of ``bbox_2d`` are read."""

    PIXELS = "pixels"  # absolute pixels of the target image as the model saw it (after the processor's resize)
    NORMALIZED = "normalized"  # fractions of the width / height, in [0, 1]
    RELATIVE1000 = "relative1000"  # Qwen3-VL grounding: 0..1000 of the width / height
    AUTO = "auto"  # Pixel Reasoner's rule without its [.., 1.0] trap (see coords.resolve_convention)


class CropSource(str, Enum):
    """Which pixels a crop is cut from."""

    ORIGINAL = "original"  # the stored full-resolution image: new detail (ours, default)
    MODEL_VIEW = "model_view"  # the resized copy the model saw: Pixel Reasoner / DeepEyes behaviour


class BudgetStop(str, Enum):
    """What a call past a spent budget (``max_operations``, ``max_images``) does; see :mod:`verl_pixel.ops.budgets`."""

    WARN_THEN_END = "warn_then_end"  # ours: it is answered with a message; a further call ends the trajectory
    END = "end"  # Pixel Reasoner: it ends the trajectory unrun (experience_maker.py line 2246: num_toolcalls > 3)


class SmallBox(str, Enum):
    """What happens to a padded box with a side of ``min_side`` pixels or less."""

    GROW = "grow"  # ours: sides below min_side grow about the centre
    REJECT = "reject"  # Pixel Reasoner (``assert w > 28 and h > 28``) and DeepEyes (``min(h, w) > 30``): an error


class OutputStyle(str, Enum):
    """How a tool result is shown to the model."""

    QWEN = "qwen"  # a tool-role message, images inline
    PIXEL_REASONER = "pixel_reasoner"  # a user turn "Here is the cropped image (Image Size: WxH):"


@dataclasses.dataclass(frozen=True)
class VisualOpsConfig:
    """Knobs of crop / select_frames; defaults are Pixel Reasoner's training setup on Qwen2.5-VL.

    Attributes:
        coordinates: how ``bbox_2d`` is read.
        padding: fraction of the target image's width / height added to each side of the box (0 disables).
        min_side: smallest crop side in the frame the model sees; smaller boxes are grown about their centre.
        max_aspect_ratio: longer / shorter side above which a box is rejected.
        factor: processor patch factor (patch size * merge size); output sides are multiples of it.
        min_pixels: smallest pixel count of any image handed to the model (the processor's default).
        image_max_pixels: budget of the input images as the model sees them; must equal the processor's
            ``max_pixels`` so that ``pixels`` coordinates are mapped from the right frame.
        crop_max_pixels: budget a crop is resized to.
        frame_max_pixels: budget a selected video frame is resized to.
        crop_source: cut crops from the stored original or from the model's resized copy.
        max_frames_per_call: most frames one ``select_frames`` call may return.
        max_operations: most visual-operation calls per trajectory (well-formed or not).
        max_images: most images per trajectory, inputs and tool outputs together.
        output_style: how results are rendered for the model.
        crop_video_frames: when the input is a video and no image, number its sampled frames as images 1..F so
            ``crop_image`` can target them directly (Pixel Reasoner); otherwise cropping needs ``select_frames`` first.
        budget_stop: whether a call past a spent budget is first answered (``warn_then_end``) or ends the
            trajectory at once (``end``, Pixel Reasoner).
        small_box: grow a box whose side is below ``min_side`` (``grow``) or refuse one whose side is at most
            ``min_side`` (``reject``, as Pixel Reasoner and DeepEyes do).
        crop_tool_name: the name the crop tool is offered under (one of :data:`CROP_TOOL_ALIASES`); every alias is
            accepted in calls whatever the name.
    """

    coordinates: CoordinateConvention = CoordinateConvention.AUTO
    padding: float = DEFAULT_PADDING
    min_side: int = QWEN2_5_VL_FACTOR
    max_aspect_ratio: float = MAX_ASPECT_RATIO
    factor: int = QWEN2_5_VL_FACTOR
    min_pixels: int = QWEN2_5_VL_MIN_PIXELS
    image_max_pixels: int = ORIGINAL_MAX_TOKENS * QWEN2_5_VL_FACTOR**2
    crop_max_pixels: int = CROP_MAX_TOKENS * QWEN2_5_VL_FACTOR**2
    frame_max_pixels: int = FRAME_MAX_TOKENS * QWEN2_5_VL_FACTOR**2
    crop_source: CropSource = CropSource.ORIGINAL
    max_frames_per_call: int = DEFAULT_MAX_FRAMES_PER_CALL
    max_operations: int = DEFAULT_MAX_OPERATIONS
    max_images: int = DEFAULT_MAX_IMAGES
    output_style: OutputStyle = OutputStyle.QWEN
    crop_video_frames: bool = False
    budget_stop: BudgetStop = BudgetStop.WARN_THEN_END
    small_box: SmallBox = SmallBox.GROW
    crop_tool_name: str = CROP_TOOL_NAME

    def __post_init__(self) -> None:
        # Accept the YAML spellings of the enums so configs can be built from plain mappings.
        for name, enum in _ENUM_FIELDS.items():
            object.__setattr__(self, name, _enum_value(name, getattr(self, name), enum))
        _check_field_types(self)
        if not 0 <= self.padding < 1:
            raise ValueError(f"padding: must be in [0, 1), got {self.padding}")
        if self.max_aspect_ratio < 1:
            raise ValueError(f"max_aspect_ratio: must be >= 1, got {self.max_aspect_ratio}")
        for name in ("min_side", "factor", "min_pixels", "max_frames_per_call", "max_operations", "max_images"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.crop_tool_name not in CROP_TOOL_ALIASES:
            raise ValueError(f"crop_tool_name: {self.crop_tool_name!r} is not one of {', '.join(CROP_TOOL_ALIASES)}")
        for name in ("image_max_pixels", "crop_max_pixels", "frame_max_pixels"):
            if getattr(self, name) < max(self.min_pixels, self.factor**2):
                raise ValueError(f"{name}: must be >= min_pixels and >= factor**2, got {getattr(self, name)}")

    @classmethod
    def for_qwen3_vl(cls, **overrides: Any) -> VisualOpsConfig:
        """Qwen3-VL preset: 32-px patch factor, its processor minimum and 0..1000 grounding coordinates."""
        preset: dict[str, Any] = {
            "coordinates": CoordinateConvention.RELATIVE1000,
            "min_side": QWEN3_VL_FACTOR,
            "factor": QWEN3_VL_FACTOR,
            "min_pixels": QWEN3_VL_MIN_PIXELS,
            "image_max_pixels": ORIGINAL_MAX_TOKENS * QWEN3_VL_FACTOR**2,
            "crop_max_pixels": CROP_MAX_TOKENS * QWEN3_VL_FACTOR**2,
            "frame_max_pixels": FRAME_MAX_TOKENS * QWEN3_VL_FACTOR**2,
        }
        return cls(**{**preset, **overrides})

    @classmethod
    def from_mapping(
        cls, mapping: Mapping[str, Any], ignore: tuple[str, ...] = ("type",), path: str = ""
    ) -> VisualOpsConfig:
        """Build from a plain mapping such as a verl tool's ``config`` block.

        Args:
            mapping: field name -> value; enum fields take their string values.
            ignore: keys that belong to the caller (verl's ``type: native``) and are skipped.
            path: prefix naming where the mapping sits, e.g. ``"tools[0].config."``; every error starts with it
                followed by the key.

        Raises:
            ValueError: on an unknown key (listing the known ones) or an invalid value, naming the key.
        """
        known = sorted(field.name for field in dataclasses.fields(cls))
        reject_unknown_keys({k: v for k, v in mapping.items() if k not in ignore}, known, path.rstrip("."))
        try:
            return cls(**{key: value for key, value in mapping.items() if key in known})
        except ValueError as err:  # the dataclass names the field; name where it sits too
            raise ValueError(f"{path}{err}") from None

    def to_mapping(self) -> dict[str, Any]:
        """Plain-Python form (enums as strings), the inverse of :meth:`from_mapping`."""
        out: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            out[field.name] = value.value if isinstance(value, Enum) else value
        return out


_ENUM_FIELDS: dict[str, type[Enum]] = {
    "coordinates": CoordinateConvention,
    "crop_source": CropSource,
    "output_style": OutputStyle,
    "budget_stop": BudgetStop,
    "small_box": SmallBox,
}


def _enum_value(name: str, value: Any, enum: type[Enum]) -> Enum:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise ValueError(f"{name}: {value!r} is not one of {allowed}") from None


def _check_field_types(config: VisualOpsConfig) -> None:
    """Numbers must be numbers and flags flags: a YAML ``"4"`` or ``yes`` where an int belongs is named, not used."""
    hints = typing.get_type_hints(type(config))
    for field in dataclasses.fields(config):
        value, hint = getattr(config, field.name), hints[field.name]
        if hint is bool:
            ok = isinstance(value, bool)
        elif hint is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif hint is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        else:
            continue
        if not ok:
            raise ValueError(f"{field.name}: expected {hint.__name__}, got {value!r}")
