"""The look-or-not task: questions that need a zoom and questions that do not, on the same images (pure).

Every image (1600x1200 by default) is split into four quadrants. Each quadrant holds a large circle (one colour
per image) and a small square (160x160 px) filled with one of four patterns of equal mean grey, drawn per quadrant:
solid grey 128, horizontal stripes, vertical stripes, or a checkerboard (period 8 px, black and white at the
centre, faded to grey at the border by a Hann envelope). One question is asked per image, about a named quadrant,
as a 4-option multiple choice with a fixed option order per question type:

* *no-need* (``needs_zoom: false``): "What colour is the large circle in the top-left quadrant?" The circle is
  ~30 px wide in the model's downscaled view (:data:`VIEW_TOKENS` visual tokens, 196x140 px), so the view answers
  it.
* *need* (``needs_zoom: true``): "What pattern fills the small square in the top-left quadrant?" At the view
  budget (8.2 / 8.6 original px per view px) the 8-px period sits on the first null of the processor's bicubic
  filter and the four patterns become the same grey (to +-1 grey level); a crop of the square's region at
  :data:`CROP_TOKENS` visual tokens (196x196 px) shows it at full resolution.
  :mod:`verl_pixel.data.look_or_not_check` measures both claims. (At a 64-token view the x scale is 6.35 px and
  vertical stripes leak: a classifier reads them from the view.)

Where things are is learnable by a model trained from scratch on a few thousand images: each quadrant's square and
circle sit at fixed anchors (moved by up to ``jitter`` px), so the region to crop is one of four boxes per object
(:func:`anchor_boxes`; the seed's ``bbox``, which the synthesized zoom crops with the task's padding 0). The circles
share one colour per image because answering "which circle?" from a 196x140 view needs spatial grounding that a
model this small does not learn from a few thousand examples (measured: no progress in 2,400 teacher-forced
answers, while one colour per image is learned in a few hundred); the need questions keep per-quadrant patterns,
and their crop shows one square. ``needs_zoom`` is a label for evaluation and for choosing synthesized SFT
trajectory types; no reward reads it. Squares and circles keep ``inner_margin`` of the side away from the quadrants'
inner edges, so even a crop padded by 0.1 never shows another quadrant's square.

Splits (train / val / test) are drawn from disjoint image seeds: image ``i`` of a split is drawn by
``random.Random(spec.seed * SPLIT_STRIDE * 3 + offset(split) + i)`` with ``i < SPLIT_STRIDE``, so no image seed is
shared between splits. The split's data sources are ``lookornot/need`` and ``lookornot/no_need``, so verl's
validation (which averages per data source) reports accuracy and tool use for each subset.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from verl_pixel.constants import OPTION_LETTERS
from verl_pixel.data.seeds import SeedAnnotation, read_seeds, write_seeds

DATA_SOURCE_PREFIX = "lookornot"
NEED_SOURCE = f"{DATA_SOURCE_PREFIX}/need"
NO_NEED_SOURCE = f"{DATA_SOURCE_PREFIX}/no_need"
SPLITS = ("train", "val", "test")
SPLIT_STRIDE = 1_000_000  # image seeds per split: split k uses [k * STRIDE, (k + 1) * STRIDE) (+ spec offset)
QUADRANTS = ("top-left", "top-right", "bottom-left", "bottom-right")
COLORS = {"red": (215, 35, 35), "green": (30, 160, 60), "blue": (35, 80, 215), "yellow": (235, 200, 20)}
PATTERNS = ("solid grey", "horizontal stripes", "vertical stripes", "checkerboard")
VIEW_TOKENS = 40  # the model's view of the input image: 196x140 px
CROP_TOKENS = 64  # crops: a square's region 196x196 px, a circle's 224x224 px
SEEDS_FILE = "seeds.jsonl"
TARGETS_FILE = "targets.json"  # seed id -> the question's target (square or circle) box, for the label check
_STAMP_FILE = "look_or_not_spec.json"
_BACKGROUND = (236, 233, 226)
_OUTER = 16  # pixels kept free next to the image border
_GAP = 40  # pixels between the square's and the circle's regions
_ANCHOR_MARGIN = 4  # pixels an anchor box adds around every position its object can take (the square's frame: 2)


@dataclasses.dataclass(frozen=True)
class LookOrNotSpec:
    """What to draw.

    Attributes:
        n_train: training images (one question each).
        n_val: validation images.
        n_test: held-out test images.
        need_share: fraction of each split's questions that need a zoom (exact count per split, rounded down).
        image_size: (width, height); both even.
        square_side: side of the patterned square in pixels.
        pattern_period: stripe / checker period in pixels (half black, half white).
        circle_radius: range of the circles' radii in pixels.
        jitter: how far (pixels) the square and the circle move from their anchors in a quadrant.
        inner_margin: fraction of the image side kept free next to the quadrants' inner edges.
        seed: offsets every image seed; same spec -> same files.
    """

    n_train: int = 2000
    n_val: int = 32
    n_test: int = 96
    need_share: float = 0.5
    image_size: tuple[int, int] = (1600, 1200)
    square_side: int = 160
    pattern_period: int = 8
    circle_radius: tuple[int, int] = (120, 140)
    jitter: int = 16
    inner_margin: float = 0.14
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_train", "n_val", "n_test"):
            if not 0 <= getattr(self, name) < SPLIT_STRIDE:
                raise ValueError(f"{name} must be in [0, {SPLIT_STRIDE}), got {getattr(self, name)}")
        if not 0.0 <= self.need_share <= 1.0:
            raise ValueError(f"need_share must be in [0, 1], got {self.need_share}")
        if self.pattern_period < 2 or self.pattern_period % 2:
            raise ValueError(f"pattern_period must be an even number >= 2, got {self.pattern_period}")
        width, height = self.image_size
        if width % 2 or height % 2:
            raise ValueError(f"image_size must have even sides, got {self.image_size}")
        if self.jitter < 0:
            raise ValueError(f"jitter must be >= 0, got {self.jitter}")
        low, high = self.circle_radius
        if not 0 < low <= high:
            raise ValueError(f"circle_radius must be a range 0 < low <= high, got {self.circle_radius}")
        if not _fits(self):
            raise ValueError(f"a quadrant of {self.image_size} cannot hold the square and the circle apart")

    def count(self, split: str) -> int:
        """Images in ``split``."""
        return int(getattr(self, f"n_{split}"))


@dataclasses.dataclass(frozen=True)
class QuadrantContent:
    """What one quadrant shows: its circle's colour and its square's pattern and box (pixels, x2/y2 exclusive)."""

    color: str
    pattern: str
    square: tuple[int, int, int, int]
    circle: tuple[int, int, int, int]


def image_seed(spec: LookOrNotSpec, split: str, index: int) -> int:
    """The RNG seed of image ``index`` of ``split``: disjoint ranges per split (module docstring)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return spec.seed * SPLIT_STRIDE * len(SPLITS) + SPLITS.index(split) * SPLIT_STRIDE + index


def quadrant_box(quadrant: str, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The quadrant's box in pixels ``[x1, y1, x2, y2]`` (x2 / y2 exclusive)."""
    half_w, half_h = size[0] // 2, size[1] // 2
    column, row = QUADRANTS.index(quadrant) % 2, QUADRANTS.index(quadrant) // 2
    return column * half_w, row * half_h, (column + 1) * half_w, (row + 1) * half_h


@functools.cache
def pattern_tile(pattern: str, side: int, period: int) -> Image.Image:
    """A ``side`` x ``side`` greyscale square: grey 128 plus ``pattern`` under a Hann envelope.

    The carrier is +-127 (black / white at the centre) with ``period`` px; the envelope fades it to 128 at the
    square's border. Without the envelope the pattern's cut edges keep a low-frequency trace that survives the
    downscale to the view (a classifier on the view reads the pattern from the square's borders, measured); with
    it every pattern has mean 128 +- 0.5 and no energy near zero frequency.
    """
    if pattern not in PATTERNS:
        raise ValueError(f"unknown pattern {pattern!r} (known: {', '.join(PATTERNS)})")
    rows, columns = np.indices((side, side)) // (period // 2)
    phase = {
        "solid grey": None,
        "horizontal stripes": rows,
        "vertical stripes": columns,
        "checkerboard": rows + columns,
    }
    if phase[pattern] is None:
        return Image.new("L", (side, side), 128)
    carrier = np.where(phase[pattern] % 2 == 0, 1.0, -1.0)
    envelope = np.hanning(side + 2)[1:-1]  # > 0 everywhere inside the square
    values = 128 + 127 * carrier * envelope[:, None] * envelope[None, :]
    return Image.fromarray(np.clip(np.round(values), 0, 255).astype(np.uint8), mode="L")


def draw_image(rng: random.Random, spec: LookOrNotSpec) -> tuple[Image.Image, dict[str, QuadrantContent]]:
    """One image and what each quadrant shows (one circle colour per image, a pattern per quadrant)."""
    image = Image.new("RGB", spec.image_size, _BACKGROUND)
    draw = ImageDraw.Draw(image)
    color = rng.choice(sorted(COLORS))
    contents: dict[str, QuadrantContent] = {}
    for quadrant in QUADRANTS:
        pattern = rng.choice(PATTERNS)
        square, circle = _place(rng, spec, quadrant)
        draw.ellipse([circle[0], circle[1], circle[2] - 1, circle[3] - 1], fill=COLORS[color])
        # A dark frame just outside the square, then the pattern (the frame never covers pattern pixels).
        draw.rectangle([square[0] - 2, square[1] - 2, square[2] + 1, square[3] + 1], outline=(60, 60, 60), width=2)
        image.paste(pattern_tile(pattern, spec.square_side, spec.pattern_period).convert("RGB"), square[:2])
        contents[quadrant] = QuadrantContent(color, pattern, square, circle)
    return image, contents


def _anchors(spec: LookOrNotSpec, quadrant: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """The square's top-left corner and the circle's centre before jitter.

    The square sits on the quadrant's outer side, the circle beside it towards the image centre, both centred in
    the band clear of the inner edges (:func:`_fits` checks the horizontal margin).
    """
    x1, y1, x2, y2 = quadrant_box(quadrant, spec.image_size)
    margin_y = int(spec.inner_margin * spec.image_size[1])
    inner_right, inner_below = x1 == 0, y1 == 0  # where the quadrant's inner edges are
    top = y1 + (_OUTER if inner_below else margin_y)
    bottom = y2 - (margin_y if inner_below else _OUTER)
    centre_y = (top + bottom) // 2
    reach = spec.jitter + _ANCHOR_MARGIN  # how far an anchor box reaches past the object at its anchor
    radius = spec.circle_radius[1]
    if inner_right:
        square_x = x1 + _OUTER + reach
        circle_x = square_x + spec.square_side + reach + _GAP + reach + radius
    else:
        square_x = x2 - _OUTER - reach - spec.square_side
        circle_x = square_x - reach - _GAP - reach - radius
    return (square_x, centre_y - spec.square_side // 2), (circle_x, centre_y)


def anchor_boxes(spec: LookOrNotSpec, quadrant: str) -> dict[str, tuple[int, int, int, int]]:
    """``{"square": box, "circle": box}``: every position the object can take in ``quadrant``, plus a margin."""
    (square_x, square_y), (circle_x, circle_y) = _anchors(spec, quadrant)
    reach = spec.jitter + _ANCHOR_MARGIN
    side, radius = spec.square_side, spec.circle_radius[1] + reach
    return {
        "square": (square_x - reach, square_y - reach, square_x + side + reach, square_y + side + reach),
        "circle": (circle_x - radius, circle_y - radius, circle_x + radius, circle_y + radius),
    }


def _fits(spec: LookOrNotSpec) -> bool:
    """Whether every anchor box lies inside its quadrant, clear of the inner edges and of the other object."""
    margin_x, margin_y = int(spec.inner_margin * spec.image_size[0]), int(spec.inner_margin * spec.image_size[1])
    half_w, half_h = spec.image_size[0] // 2, spec.image_size[1] // 2
    boxes = anchor_boxes(spec, "top-left")  # the other quadrants mirror it
    square, circle = boxes["square"], boxes["circle"]
    inside = all(box[0] >= 0 and box[1] >= 0 and box[2] <= half_w - margin_x and box[3] <= half_h - margin_y
                 for box in (square, circle))  # fmt: skip
    return inside and square[2] <= circle[0]


def _place(
    rng: random.Random, spec: LookOrNotSpec, quadrant: str
) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
    """The square's and the circle's boxes in ``quadrant``: anchors moved by up to ``jitter``, a random radius."""
    (square_x, square_y), (circle_x, circle_y) = _anchors(spec, quadrant)

    def shift() -> int:
        return rng.randint(-spec.jitter, spec.jitter)

    square_x, square_y = square_x + shift(), square_y + shift()
    circle_x, circle_y, radius = circle_x + shift(), circle_y + shift(), rng.randint(*spec.circle_radius)
    return (
        (square_x, square_y, square_x + spec.square_side, square_y + spec.square_side),
        (circle_x - radius, circle_y - radius, circle_x + radius, circle_y + radius),
    )


def question_seed(
    seed_id: str, image_path: str, quadrant: str, content: QuadrantContent, spec: LookOrNotSpec, need: bool
) -> SeedAnnotation:
    """The seed of one question about ``quadrant`` (a pattern question if ``need``, else a colour question).

    Its ``bbox`` is the asked object's anchor box in the quadrant: the region a zoom should crop.
    """
    if need:
        question = f"What pattern fills the small square in the {quadrant} quadrant?"
        options, answer, target = PATTERNS, content.pattern, f"the small square in the {quadrant} quadrant"
    else:
        question = f"What colour is the large circle in the {quadrant} quadrant?"
        options, answer, target = tuple(COLORS), content.color, f"the large circle in the {quadrant} quadrant"
    return SeedAnnotation(
        seed_id=seed_id,
        question=question,
        answer=OPTION_LETTERS[options.index(answer)],
        answer_type="multiple_choice",
        image=image_path,
        bbox=tuple(float(v) for v in anchor_boxes(spec, quadrant)["square" if need else "circle"]),  # type: ignore[arg-type]
        options=tuple(options),
        target=target,
        needs_zoom=need,
        data_source=NEED_SOURCE if need else NO_NEED_SOURCE,
    )


def draw_split(folder: str | Path, spec: LookOrNotSpec, split: str) -> tuple[list[SeedAnnotation], dict[str, list]]:
    """Draw one split's images into ``folder/images``; exactly ``int(count * need_share)`` questions need a zoom.

    Returns:
        The seeds, and each seed's target box (the square or the circle asked about, original pixels).
    """
    out = Path(folder)
    (out / "images").mkdir(parents=True, exist_ok=True)
    count = spec.count(split)
    n_need = int(count * spec.need_share)
    needs = [True] * n_need + [False] * (count - n_need)
    random.Random(image_seed(spec, split, SPLIT_STRIDE - 1)).shuffle(needs)  # the split's last seed: never an image
    seeds, targets = [], {}
    for index, need in enumerate(needs):
        rng = random.Random(image_seed(spec, split, index))
        image, contents = draw_image(rng, spec)
        quadrant = rng.choice(QUADRANTS)
        seed_id = f"lookornot-{split}-{index:05d}"
        path = out / "images" / f"{seed_id}.png"
        image.save(path, compress_level=1)
        seeds.append(question_seed(seed_id, str(path), quadrant, contents[quadrant], spec, need))
        targets[seed_id] = list(contents[quadrant].square if need else contents[quadrant].circle)
    return seeds, targets


def write_look_or_not(folder: str | Path, spec: LookOrNotSpec | None = None) -> dict[str, Path]:
    """Draw every split into ``folder/<split>/`` (reused when the folder holds the same spec).

    Returns:
        ``{split: seeds file}``; the split's target boxes are in ``TARGETS_FILE`` next to it.
    """
    spec = spec or LookOrNotSpec()
    out = Path(folder)
    files = {split: out / split / SEEDS_FILE for split in SPLITS}
    stamp = json.dumps(dataclasses.asdict(spec), sort_keys=True)
    stamp_file = out / _STAMP_FILE
    if stamp_file.is_file() and stamp_file.read_text() == stamp and all(f.is_file() for f in files.values()):
        return files
    for split in SPLITS:
        seeds, targets = draw_split(out / split, spec, split)
        write_seeds(seeds, files[split])
        (out / split / TARGETS_FILE).write_text(json.dumps(targets))
    stamp_file.write_text(stamp)
    return files


def load_look_or_not(folder: str | Path, spec: LookOrNotSpec | None = None) -> dict[str, list[SeedAnnotation]]:
    """Every split's seeds (drawn first if needed)."""
    return {split: read_seeds(path) for split, path in write_look_or_not(folder, spec).items()}


def load_target_boxes(folder: str | Path) -> dict[str, tuple[float, float, float, float]]:
    """Seed id -> the box of the square or circle its question asks about, over every split of a drawn folder."""
    boxes = {}
    for split in SPLITS:
        path = Path(folder) / split / TARGETS_FILE
        if path.is_file():
            boxes.update({key: tuple(value) for key, value in json.loads(path.read_text()).items()})
    return boxes


def need_counts(seeds: Sequence[SeedAnnotation]) -> tuple[int, int]:
    """(questions that need a zoom, questions that do not)."""
    need = sum(1 for seed in seeds if seed.needs_zoom)
    return need, len(seeds) - need
