"""Typed configuration of trajectory synthesis (METHOD.md §4): trajectory types, their shares, box knobs.

Defaults are Pixel Reasoner's Table 2 shares; the text-only share defaults to its 2,000 of 7,500 trajectories.
"""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Literal

from verl_pixel.data.video_sampling import VideoBudget
from verl_pixel.ops import OutputStyle, VisualOpsConfig
from verl_pixel.ops.schema import ALL_TOOLS
from verl_pixel.prompts import DEFAULT_GUIDELINES

PIXEL_REASONER_TEXT_ONLY = 2000 / 7500


class TrajectoryType(str, Enum):
    """The kinds of synthesized trajectories."""

    SINGLE_PASS = "single_pass"  # image: one correct crop, then the answer
    RECROP_ONCE = "recrop_once"  # image: one wrong crop (no overlap with the cue), then the correct one
    RECROP_TWICE = "recrop_twice"  # image: two wrong crops, then the correct one
    FURTHER_ZOOM = "further_zoom"  # image: an oversized crop containing the cue, then the tight one
    VIDEO_SINGLE_PASS = "video_single_pass"  # video: select the cue's frames, then the answer
    VIDEO_RESELECT = "video_reselect"  # video: frames outside the cue's window first, then the right ones
    TEXT_ONLY = "text_only"  # no operation: answer from the whole image / video

    @property
    def category(self) -> Literal["image", "video", "text"]:
        """Which share table the type belongs to."""
        if self is TrajectoryType.TEXT_ONLY:
            return "text"
        return "video" if self.value.startswith("video") else "image"


IMAGE_TYPES = (
    TrajectoryType.SINGLE_PASS,
    TrajectoryType.RECROP_ONCE,
    TrajectoryType.RECROP_TWICE,
    TrajectoryType.FURTHER_ZOOM,
)
VIDEO_TYPES = (TrajectoryType.VIDEO_SINGLE_PASS, TrajectoryType.VIDEO_RESELECT)
# Types that insert an erroneous operation and need a feasible wrong / oversized choice.
ERROR_TYPES = (
    TrajectoryType.RECROP_TWICE,
    TrajectoryType.RECROP_ONCE,
    TrajectoryType.FURTHER_ZOOM,
    TrajectoryType.VIDEO_RESELECT,
)

_SHARE_TOLERANCE = 1e-6


@dataclasses.dataclass(frozen=True)
class SynthesisConfig:
    """Shares and knobs of trajectory synthesis.

    Attributes:
        single_pass: share of image trajectories with one correct crop.
        recrop_once: share with one wrong crop first.
        recrop_twice: share with two wrong crops first.
        further_zoom: share with an oversized crop first.
        video_single_pass: share of video trajectories selecting the right frames at once.
        video_reselect: share selecting wrong frames first.
        text_only: share of all trajectories that answer without an operation.
        seed: seed of every random choice (same seeds + config -> same rows).
        ops: the visual-operation config the crops and frame selections are run with (padding, budgets,
            coordinate convention of ``bbox_2d``, output style); keep it equal to the RL tool config.
        mask_oversized_call: whether the oversized crop of ``further_zoom`` counts as an erroneous operation
            (Pixel Reasoner trains only the last two assistant turns, which masks it).
        further_zoom_target: crop the tight box from the oversized crop (``crop``, a true further zoom) or from
            the original image (``original``).
        narration: ``full`` (default): an analysis before each operation and a sentence leading to the answer;
            ``terse``: nothing before an operation and only the spoken answer before the boxed letter (for a model
            trained from scratch: the decision to look is the first token, and there is little text to learn).
        wrong_box_scale: range of a wrong box's side relative to the cue's side.
        min_wrong_box_side: smallest side of a wrong box, as a fraction of the image side.
        oversize_scale: range of the oversized box's side relative to the cue's side.
        max_oversized_area: largest area of an oversized box, as a fraction of the image.
        coordinate_decimals: decimals of normalized ``bbox_2d`` values.
        input_max_pixels: resize stored input images / frames to this pixel budget (``None`` keeps the files).
        video: the per-frame pixel bounds written on each ``videos`` entry, as ``prepare rl`` writes them (the
            frames ``select_frames`` picks from are that video decoded, exactly as RL decodes it).
        max_frames_per_selection: most frames one synthesized ``select_frames`` call returns.
        guidelines: text appended to the question in the user turn.
        tools: the operations the rows offer (their ``tools`` column); keep it equal to the RL tool YAML's.
    """

    single_pass: float = 0.3
    recrop_once: float = 0.2
    recrop_twice: float = 0.2
    further_zoom: float = 0.3
    video_single_pass: float = 0.9
    video_reselect: float = 0.1
    text_only: float = PIXEL_REASONER_TEXT_ONLY
    seed: int = 0
    ops: VisualOpsConfig = dataclasses.field(default_factory=VisualOpsConfig)
    mask_oversized_call: bool = True
    further_zoom_target: Literal["crop", "original"] = "crop"
    narration: Literal["full", "terse"] = "full"
    wrong_box_scale: tuple[float, float] = (1.0, 2.0)
    min_wrong_box_side: float = 0.08
    oversize_scale: tuple[float, float] = (2.5, 4.0)
    max_oversized_area: float = 0.5
    coordinate_decimals: int = 3
    input_max_pixels: int | None = None
    video: VideoBudget = dataclasses.field(default_factory=VideoBudget)
    max_frames_per_selection: int = 8
    guidelines: str = DEFAULT_GUIDELINES
    tools: tuple[str, ...] = ALL_TOOLS

    def __post_init__(self) -> None:
        for name in (*(t.value for t in IMAGE_TYPES + VIDEO_TYPES), "text_only"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"share {name} must be in [0, 1], got {getattr(self, name)}")
        for label, types in (("image", IMAGE_TYPES), ("video", VIDEO_TYPES)):
            total = sum(self.share(t) for t in types)
            if abs(total - 1.0) > _SHARE_TOLERANCE:
                raise ValueError(f"{label} shares must sum to 1, got {total:.6f}")
        if self.further_zoom_target not in ("crop", "original"):
            raise ValueError(f"further_zoom_target must be 'crop' or 'original', got {self.further_zoom_target!r}")
        if self.narration not in ("full", "terse"):
            raise ValueError(f"narration must be 'full' or 'terse', got {self.narration!r}")
        for name in ("wrong_box_scale", "oversize_scale"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise ValueError(f"{name} must be a range 0 < low <= high, got {(low, high)}")
        if self.oversize_scale[0] <= 1.0:
            raise ValueError(f"oversize_scale must exceed 1, got {self.oversize_scale}")
        if not 0 < self.max_oversized_area <= 1 or not 0 < self.min_wrong_box_side < 1:
            raise ValueError("max_oversized_area must be in (0, 1] and min_wrong_box_side in (0, 1)")
        if not self.tools or not set(self.tools) <= set(ALL_TOOLS):
            raise ValueError(f"tools must be a non-empty subset of {ALL_TOOLS}, got {self.tools}")
        if not 1 <= self.max_frames_per_selection <= self.ops.max_frames_per_call:
            raise ValueError(f"max_frames_per_selection must be in [1, {self.ops.max_frames_per_call}]")

    def share(self, trajectory_type: TrajectoryType) -> float:
        """The configured share of ``trajectory_type`` within its category (text-only: of all trajectories)."""
        return float(getattr(self, trajectory_type.value))

    @property
    def output_style(self) -> OutputStyle:
        """How tool outputs are shown (the ops config's style)."""
        return self.ops.output_style

    @property
    def wrong_box_clearance(self) -> float:
        """Gap between a wrong box and the cue: the tool's padding plus a margin, so the crop misses the cue."""
        return self.ops.padding + 0.01
