"""Bounding-box geometry: reading ``bbox_2d`` in a coordinate convention, padding, clamping, growing.

All functions work in the pixel frame of one image *as the model saw it* (its "view"), sized ``(width, height)``.
Mapping a view box to the stored original is the registry's job (``registry.py``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from verl_pixel.ops.config import CoordinateConvention

RELATIVE1000_SCALE = 1000.0


@dataclasses.dataclass(frozen=True)
class Box:
    """An axis-aligned box ``[x1, x2) x [y1, y2)`` in some pixel frame."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        """Horizontal extent."""
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        """Vertical extent."""
        return self.y2 - self.y1

    @property
    def aspect_ratio(self) -> float:
        """Longer side over shorter side (inf for a zero-area box)."""
        short = min(self.width, self.height)
        return math.inf if short <= 0 else max(self.width, self.height) / short

    def as_tuple(self) -> tuple[float, float, float, float]:
        """``(x1, y1, x2, y2)``."""
        return (self.x1, self.y1, self.x2, self.y2)


def resolve_convention(values: Sequence[float], convention: CoordinateConvention) -> CoordinateConvention:
    """Decide how to read ``values`` when the convention is ``auto``.

    Pixel Reasoner reads a box as normalized when all four values are < 1, so ``[0.5, 0.5, 1.0, 1.0]`` became a
    one-pixel box. Here a box whose values all lie in [0, 1] and that contains a value < 1 is normalized; any other
    box is pixels.

    Args:
        values: the four numbers of ``bbox_2d``.
        convention: the configured convention; returned unchanged unless it is ``auto``.
    """
    if convention is not CoordinateConvention.AUTO:
        return convention
    if all(0 <= value <= 1 for value in values) and any(value < 1 for value in values):
        return CoordinateConvention.NORMALIZED
    return CoordinateConvention.PIXELS


def to_view_pixels(values: Sequence[float], convention: CoordinateConvention, view_size: tuple[int, int]) -> Box:
    """Convert ``bbox_2d`` values to a box in the view's pixels (no clamping).

    Args:
        values: ``[x1, y1, x2, y2]`` in ``convention``.
        convention: a resolved convention (not ``auto``).
        view_size: (width, height) of the image as the model saw it.
    """
    width, height = view_size
    x1, y1, x2, y2 = (float(value) for value in values)
    if convention is CoordinateConvention.NORMALIZED:
        return Box(x1 * width, y1 * height, x2 * width, y2 * height)
    if convention is CoordinateConvention.RELATIVE1000:
        sx, sy = width / RELATIVE1000_SCALE, height / RELATIVE1000_SCALE
        return Box(x1 * sx, y1 * sy, x2 * sx, y2 * sy)
    return Box(x1, y1, x2, y2)


def pad_box(box: Box, padding: float, view_size: tuple[int, int]) -> Box:
    """Grow each side by ``padding`` of the image's width (x) / height (y), as Pixel Reasoner does."""
    dx, dy = padding * view_size[0], padding * view_size[1]
    return Box(box.x1 - dx, box.y1 - dy, box.x2 + dx, box.y2 + dy)


def clamp_box(box: Box, view_size: tuple[int, int]) -> Box:
    """Intersect with the image; the result may have zero area when the box lies outside."""
    width, height = view_size
    x1, x2 = min(max(box.x1, 0.0), width), min(max(box.x2, 0.0), width)
    y1, y2 = min(max(box.y1, 0.0), height), min(max(box.y2, 0.0), height)
    return Box(x1, y1, x2, y2)


def _grow_interval(low: float, high: float, min_length: float, limit: float) -> tuple[float, float]:
    """Widen ``[low, high]`` about its centre to ``min_length`` (capped at ``limit``) and shift it into [0, limit]."""
    length = min(max(high - low, min_length), limit)
    if length <= high - low:
        return low, high
    centre = (low + high) / 2
    start = min(max(centre - length / 2, 0.0), limit - length)
    return start, start + length


def grow_to_min_side(box: Box, min_side: float, view_size: tuple[int, int]) -> Box:
    """Grow sides shorter than ``min_side`` about the box centre, shifted to stay inside the image.

    A side can only grow up to the image's own extent, so on an image smaller than ``min_side`` the box becomes
    the whole side.
    """
    x1, x2 = _grow_interval(box.x1, box.x2, min_side, view_size[0])
    y1, y2 = _grow_interval(box.y1, box.y2, min_side, view_size[1])
    return Box(x1, y1, x2, y2)


def scale_box(box: Box, sx: float, sy: float, offset: tuple[float, float] = (0.0, 0.0)) -> Box:
    """Map a box to another frame: ``x -> offset_x + x * sx``, ``y -> offset_y + y * sy``."""
    ox, oy = offset
    return Box(ox + box.x1 * sx, oy + box.y1 * sy, ox + box.x2 * sx, oy + box.y2 * sy)


def outer_pixel_box(box: Box, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """Smallest integer box containing ``box``, clamped to an image of ``size``, at least one pixel per side."""
    width, height = size
    # Tolerate float noise from chained scaling (e.g. 199.99999999 must not become 199).
    x1 = min(max(math.floor(box.x1 + 1e-6), 0), width - 1)
    y1 = min(max(math.floor(box.y1 + 1e-6), 0), height - 1)
    x2 = max(min(math.ceil(box.x2 - 1e-6), width), x1 + 1)
    y2 = max(min(math.ceil(box.y2 - 1e-6), height), y1 + 1)
    return x1, y1, x2, y2
