"""Are the look-or-not labels true? Oracles that see the model's view or the zoomed crop, per subset (pure).

A question *needs* a zoom when its answer is not in the pixels the model gets without a tool call but is in the
crop it gets with one. Each oracle sees exactly those pixels (the view: the stored image resized to the view
budget with the processor's rule; the crop: :func:`verl_pixel.ops.crop_image` of the named quadrant, the call the
synthesized trajectories make) and is told where the target is (the oracle's advantage over the model):

* ``gradient energy`` (need, no fitting): mean |horizontal| and |vertical| pixel differences inside the square;
  solid if both are below a fixed threshold, vertical stripes if horizontal differences dominate, horizontal
  stripes if vertical ones do, checkerboard if both are high and balanced.
* ``fitted classifier`` (need, the stronger oracle): a ridge-regression classifier on what a pattern could leave
  in a downscaled square (row / column profiles, oriented spectral power; :func:`square_features`) of the whole
  square with its frame, fitted on one split's images and scored on another (held out).
* ``mean colour`` (no-need): nearest of the four palette colours to the circle's mean colour.

:func:`pattern_view_spread` makes the need claim without any oracle: it repaints the square with each pattern and
measures how much the view changes (at most 1 grey level, rounding, at the task's 40-token view).

The expected outcome, and what the benchmark states: need questions at chance (25 %) from the view and near 100 %
from the crop; no-need questions near 100 % from both.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
from PIL import Image

from verl_pixel.constants import OPTION_LETTERS
from verl_pixel.data.boxes import normalize_box
from verl_pixel.data.images import load_image
from verl_pixel.data.look_or_not import COLORS, PATTERNS, pattern_tile
from verl_pixel.data.seeds import SeedAnnotation
from verl_pixel.ops import ImageRegistry, VisualOpsConfig, crop_image, resize_to_budget

_FLAT_THRESHOLD = 6.0  # mean |difference| (grey levels) below which a patch reads as flat
_CENTRE = 0.5  # central part of a target the rules read (the circle's colour, the square's gradients)
_MARGIN = 4  # original pixels around the square the classifier also sees (its frame and its border)
_RIDGE = 1e-3
_RADIAL_BINS = ((0.0, 0.1), (0.1, 0.2), (0.2, 0.35), (0.35, 0.8))  # cycles per pixel of the patch
_ANGLE_BINS = ((0.0, 0.4), (0.4, 1.17), (1.17, 1.58))  # radians from the x axis: vertical / diagonal / horizontal


@dataclasses.dataclass(frozen=True)
class OracleLine:
    """One line of the label check: an oracle's accuracy on one subset from the view and from the crop."""

    subset: str
    oracle: str
    n: int
    view_accuracy: float
    crop_accuracy: float


@dataclasses.dataclass(frozen=True)
class TargetPixels:
    """What an oracle may look at: the target's pixels without a tool call (view) and with one (crop).

    ``*_whole`` is the target's box plus a small margin; ``*_centre`` its central half.
    """

    view_whole: np.ndarray
    view_centre: np.ndarray
    crop_whole: np.ndarray
    crop_centre: np.ndarray
    label: int  # option index of the answer


def target_pixels(seed: SeedAnnotation, target_box: Sequence[float], ops: VisualOpsConfig) -> TargetPixels:
    """The target's pixels in the model's view and in the crop of its quadrant (``seed.bbox``, normalized)."""
    original = load_image(seed.image)
    view = resize_to_budget(original, ops.factor, ops.min_pixels, ops.image_max_pixels)
    registry = ImageRegistry.from_inputs(ops, model_images=[view], originals=[original])
    result = crop_image(registry, {"bbox_2d": list(normalize_box(seed.bbox, original.size))})
    if not result.ok or result.region is None:
        raise ValueError(f"seed {seed.seed_id!r}: the quadrant crop failed: {result.message}")
    x1, y1, x2, y2 = result.region
    (crop,) = result.images
    view_map = ((0.0, 0.0), (view.width / original.width, view.height / original.height))
    crop_map = ((x1, y1), (crop.width / (x2 - x1), crop.height / (y2 - y1)))
    box = tuple(float(v) for v in target_box)
    grown = (box[0] - _MARGIN, box[1] - _MARGIN, box[2] + _MARGIN, box[3] + _MARGIN)
    return TargetPixels(
        view_whole=_pixels(view, grown, *view_map),
        view_centre=_pixels(view, _central(box, _CENTRE), *view_map),
        crop_whole=_pixels(crop, grown, *crop_map),
        crop_centre=_pixels(crop, _central(box, _CENTRE), *crop_map),
        label=OPTION_LETTERS.index(seed.answer),
    )


def _central(box: Sequence[float], fraction: float) -> tuple[float, float, float, float]:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    half_w, half_h = (box[2] - box[0]) * fraction / 2, (box[3] - box[1]) * fraction / 2
    return cx - half_w, cy - half_h, cx + half_w, cy + half_h


def _pixels(image: Image.Image, box: Sequence[float], origin: tuple[float, float], scale: tuple[float, float]):
    """``box`` (original pixels) mapped into ``image`` through ``origin`` / ``scale``; at least 2x2 pixels."""
    left = max(0, math.floor((box[0] - origin[0]) * scale[0]))
    top = max(0, math.floor((box[1] - origin[1]) * scale[1]))
    right = min(image.width, max(left + 2, math.ceil((box[2] - origin[0]) * scale[0])))
    bottom = min(image.height, max(top + 2, math.ceil((box[3] - origin[1]) * scale[1])))
    return np.asarray(image.convert("RGB"))[top:bottom, left:right]


def gradient_energy_pattern(patch: np.ndarray) -> int:
    """The pattern index the gradient-energy rule reads from a patch (module docstring)."""
    grey = patch.astype(np.float64).mean(axis=2)
    dx = np.abs(np.diff(grey, axis=1)).mean()
    dy = np.abs(np.diff(grey, axis=0)).mean()
    if max(dx, dy) < _FLAT_THRESHOLD:
        return PATTERNS.index("solid grey")
    if dx > 2 * dy:
        return PATTERNS.index("vertical stripes")
    if dy > 2 * dx:
        return PATTERNS.index("horizontal stripes")
    return PATTERNS.index("checkerboard")


def square_features(patch: np.ndarray, profile_length: int = 16) -> np.ndarray:
    """Features of a square's patch for the classifier: what a pattern could leave behind after a downscale.

    Row and column mean profiles (resampled to ``profile_length``: traces at the borders), the power in radial x
    orientation bins of the spectrum (log; stripes and checks put it in different orientations), std and mean.
    """
    grey = patch.astype(np.float64).mean(axis=2)
    centred = grey - grey.mean()
    where = np.linspace(0.0, 1.0, profile_length)
    rows = np.interp(where, np.linspace(0.0, 1.0, grey.shape[0]), centred.mean(axis=1))
    columns = np.interp(where, np.linspace(0.0, 1.0, grey.shape[1]), centred.mean(axis=0))
    power = np.abs(np.fft.fft2(centred)) ** 2 / grey.size
    fy, fx = np.fft.fftfreq(grey.shape[0])[:, None], np.fft.fftfreq(grey.shape[1])[None, :]
    radius, angle = np.hypot(fx, fy), np.arctan2(np.abs(fy), np.abs(fx))
    bins = [
        power[(radius >= r0) & (radius < r1) & (angle >= a0) & (angle < a1)].sum()
        for r0, r1 in _RADIAL_BINS
        for a0, a1 in _ANGLE_BINS
    ]
    return np.concatenate([rows, columns, np.log1p(bins), [centred.std(), grey.mean()]])


def fit_ridge(features: np.ndarray, labels: np.ndarray, n_classes: int) -> Callable[[np.ndarray], np.ndarray]:
    """A one-vs-rest ridge-regression classifier (closed form, standardized features); returns its predictor."""
    mean, std = features.mean(axis=0), features.std(axis=0) + 1e-9
    x = np.hstack([(features - mean) / std, np.ones((len(features), 1))])
    targets = np.eye(n_classes)[labels]
    weights = np.linalg.solve(x.T @ x + _RIDGE * len(x) * np.eye(x.shape[1]), x.T @ targets)

    def predict(new: np.ndarray) -> np.ndarray:
        return (np.hstack([(new - mean) / std, np.ones((len(new), 1))]) @ weights).argmax(axis=1)

    return predict


def nearest_colour(patch: np.ndarray) -> int:
    """Index (in option order) of the palette colour nearest to the patch's mean colour."""
    mean = patch.reshape(-1, 3).astype(np.float64).mean(axis=0)
    palette = np.array(list(COLORS.values()), dtype=np.float64)
    return int(np.linalg.norm(palette - mean, axis=1).argmin())


def pattern_view_spread(seed: SeedAnnotation, square_box: Sequence[float], period: int, ops: VisualOpsConfig) -> int:
    """Largest difference (grey levels) between the model's views of this image with each of the four patterns.

    The square at ``square_box`` is repainted with every pattern and the whole image resized to the view budget;
    0 or 1 (rounding) means the view holds no trace of which pattern fills the square, whatever an oracle does.
    """
    original = load_image(seed.image)
    x1, y1, x2, _ = (int(v) for v in square_box)
    views = []
    for pattern in PATTERNS:
        painted = original.copy()
        painted.paste(pattern_tile(pattern, x2 - x1, period).convert("RGB"), (x1, y1))
        view = resize_to_budget(painted, ops.factor, ops.min_pixels, ops.image_max_pixels)
        views.append(np.asarray(view).astype(np.int16))
    return int(max(np.abs(view - views[0]).max() for view in views[1:]))


def check_labels(
    fit_seeds: Sequence[SeedAnnotation],
    test_seeds: Sequence[SeedAnnotation],
    target_boxes: Mapping[str, Sequence[float]],
    ops: VisualOpsConfig,
) -> list[OracleLine]:
    """Every oracle's view and crop accuracy on ``test_seeds`` (the classifier is fitted on ``fit_seeds``).

    Args:
        fit_seeds: questions the classifier is fitted on (its need questions are used).
        test_seeds: held-out questions scored per subset.
        target_boxes: seed id -> box of the square or circle asked about, original pixels
            (:func:`verl_pixel.data.look_or_not.load_target_boxes`).
        ops: the tool config (``image_max_pixels``: the view budget; ``crop_max_pixels``, ``padding``: the crop).
    """

    def pixels(seeds: Iterable[SeedAnnotation]) -> list[TargetPixels]:
        return [target_pixels(seed, target_boxes[seed.seed_id], ops) for seed in seeds]

    need_test = pixels(s for s in test_seeds if s.needs_zoom)
    need_fit = pixels(s for s in fit_seeds if s.needs_zoom)
    lines = [_rule_line("need", "gradient energy", need_test, gradient_energy_pattern)]
    labels = np.array([sample.label for sample in need_fit])
    truth = np.array([sample.label for sample in need_test])
    accuracy = {}
    for side in ("view", "crop"):
        fitted = np.stack([square_features(getattr(s, f"{side}_whole")) for s in need_fit])
        predict = fit_ridge(fitted, labels, len(PATTERNS))
        tested = np.stack([square_features(getattr(s, f"{side}_whole")) for s in need_test])
        accuracy[side] = float(np.mean(predict(tested) == truth)) if len(truth) else float("nan")
    lines.append(OracleLine("need", "fitted classifier", len(need_test), accuracy["view"], accuracy["crop"]))
    no_need_test = pixels(s for s in test_seeds if not s.needs_zoom)
    lines.append(_rule_line("no_need", "mean colour", no_need_test, nearest_colour))
    return lines


def _rule_line(subset: str, name: str, samples: Sequence[TargetPixels], rule: Callable[[np.ndarray], int]):
    def accuracy(side: str) -> float:
        hits = [rule(getattr(s, f"{side}_centre")) == s.label for s in samples]
        return float(np.mean(hits)) if hits else float("nan")

    return OracleLine(subset, name, len(samples), accuracy("view"), accuracy("crop"))


def format_oracle_table(lines: Sequence[OracleLine]) -> str:
    """A fixed-width table of :func:`check_labels`' lines."""
    header = f"{'subset':<8} {'oracle':<20} {'n':>4} {'from view':>9} {'from crop':>9}"
    body = [
        f"{line.subset:<8} {line.oracle:<20} {line.n:>4} {line.view_accuracy:>9.1%} {line.crop_accuracy:>9.1%}"
        for line in lines
    ]
    return "\n".join([header, "-" * len(header), *body])
