"""Box geometry for trajectory synthesis, in normalized image coordinates (fractions of width and height).

Pure functions: the wrong, oversized and tight boxes of a synthesized trajectory are planned here, before any
image is touched. A box is ``(x1, y1, x2, y2)`` with ``0 <= x1 < x2 <= 1`` and ``0 <= y1 < y2 <= 1``.

Why normalized: the plan must not depend on the processor's resize, and every coordinate convention the tools
accept (normalized, relative1000, pixels of the model's view) is a scaling of it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

NormBox = tuple[float, float, float, float]

# Rejection sampling gives varied wrong boxes; the grid scan afterwards makes feasibility exact.
_RANDOM_ATTEMPTS = 64
_GRID_STEPS = 24


def normalize_box(pixel_box: Sequence[float], size: tuple[int, int]) -> NormBox:
    """A box in pixels of an image sized ``(width, height)``, as fractions, clamped to the image."""
    width, height = size
    x1, y1, x2, y2 = (float(value) for value in pixel_box)
    return (_clamp01(x1 / width), _clamp01(y1 / height), _clamp01(x2 / width), _clamp01(y2 / height))


def box_area(box: NormBox) -> float:
    """Area (0 for an inverted or empty box)."""
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def intersection_area(a: NormBox, b: NormBox) -> float:
    """Area of the overlap of ``a`` and ``b``."""
    return box_area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))


def iou(a: NormBox, b: NormBox) -> float:
    """Intersection over union (0 when either box is empty)."""
    inter = intersection_area(a, b)
    union = box_area(a) + box_area(b) - inter
    return inter / union if union > 0 else 0.0


def contains(outer: NormBox, inner: NormBox) -> bool:
    """Whether ``inner`` lies inside ``outer`` (edges may touch)."""
    return outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] and outer[3] >= inner[3]


def expand(box: NormBox, margin_x: float, margin_y: float) -> NormBox:
    """Grow each side by the margins, clamped to the image."""
    return (
        _clamp01(box[0] - margin_x),
        _clamp01(box[1] - margin_y),
        _clamp01(box[2] + margin_x),
        _clamp01(box[3] + margin_y),
    )


def round_outward(box: NormBox, decimals: int) -> NormBox:
    """Round to ``decimals`` places so that the rounded box contains ``box`` (for tight and oversized boxes)."""
    scale = 10**decimals
    return (
        _clamp01(math.floor(box[0] * scale) / scale),
        _clamp01(math.floor(box[1] * scale) / scale),
        _clamp01(math.ceil(box[2] * scale) / scale),
        _clamp01(math.ceil(box[3] * scale) / scale),
    )


def round_inward(box: NormBox, decimals: int) -> NormBox:
    """Round to ``decimals`` places so that the rounded box lies inside ``box`` (for wrong boxes)."""
    scale = 10**decimals
    return (
        math.ceil(box[0] * scale) / scale,
        math.ceil(box[1] * scale) / scale,
        math.floor(box[2] * scale) / scale,
        math.floor(box[3] * scale) / scale,
    )


def sample_disjoint_box(
    rng: random.Random,
    cue: NormBox,
    size: tuple[float, float],
    clearance: tuple[float, float],
    avoid: Sequence[NormBox] = (),
) -> NormBox | None:
    """A box of ``size`` (w, h) that keeps ``clearance`` (x, y) away from ``cue`` and does not repeat ``avoid``.

    "Away" means the box does not meet the cue grown by the clearance, so the crop the tool cuts (the box plus the
    tool's padding) still does not show the cue when the clearance is at least that padding.

    Args:
        rng: the seeded generator (the only source of randomness).
        cue: the reference box.
        size: width and height of the wanted box, each in (0, 1].
        clearance: horizontal and vertical gap to keep from the cue.
        avoid: earlier wrong boxes; the new one overlaps each by IoU < 0.5.

    Returns:
        The box, or ``None`` when no position fits (the cue covers too much of the image).
    """
    width, height = min(size[0], 1.0), min(size[1], 1.0)
    forbidden = expand(cue, clearance[0], clearance[1])

    def fits(x: float, y: float) -> bool:
        box = (x, y, x + width, y + height)
        return intersection_area(box, forbidden) == 0.0 and all(iou(box, other) < 0.5 for other in avoid)

    for _ in range(_RANDOM_ATTEMPTS):
        x, y = rng.uniform(0.0, 1.0 - width), rng.uniform(0.0, 1.0 - height)
        if fits(x, y):
            return (x, y, x + width, y + height)
    grid = [
        (i / _GRID_STEPS * (1.0 - width), j / _GRID_STEPS * (1.0 - height))
        for i in range(_GRID_STEPS + 1)
        for j in range(_GRID_STEPS + 1)
    ]
    candidates = [(x, y) for x, y in grid if fits(x, y)]
    if not candidates:
        return None
    x, y = rng.choice(candidates)
    return (x, y, x + width, y + height)


def sample_enclosing_box(rng: random.Random, cue: NormBox, scale: float, max_area: float) -> NormBox | None:
    """An oversized box that contains ``cue``: its sides are ``scale`` times the cue's, placed at random around it.

    Args:
        rng: the seeded generator.
        cue: the reference box.
        scale: side multiplier (> 1); sides are capped at the image size.
        max_area: the box must cover at most this fraction of the image (else zooming into it is no zoom).

    Returns:
        The box, or ``None`` when even the cue's own neighbourhood exceeds ``max_area`` or the box would not be
        larger than the cue.
    """
    cue_w, cue_h = cue[2] - cue[0], cue[3] - cue[1]
    width, height = min(cue_w * scale, 1.0), min(cue_h * scale, 1.0)
    if width * height > max_area or width * height <= box_area(cue) * 1.5:
        return None
    # The box's left edge may sit anywhere from (cue right - width) to cue left, intersected with the image.
    x1 = rng.uniform(max(0.0, cue[2] - width), min(cue[0], 1.0 - width))
    y1 = rng.uniform(max(0.0, cue[3] - height), min(cue[1], 1.0 - height))
    return (x1, y1, x1 + width, y1 + height)


def relative_to(box: NormBox, frame: NormBox) -> NormBox:
    """``box`` expressed in normalized coordinates of the sub-image ``frame`` (both in the same image), clamped."""
    fw, fh = frame[2] - frame[0], frame[3] - frame[1]
    return (
        _clamp01((box[0] - frame[0]) / fw),
        _clamp01((box[1] - frame[1]) / fh),
        _clamp01((box[2] - frame[0]) / fw),
        _clamp01((box[3] - frame[1]) / fh),
    )


def _clamp01(value: float) -> float:
    return min(max(value, 0.0), 1.0)
