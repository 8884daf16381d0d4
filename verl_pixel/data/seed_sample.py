"""The bundled seed sample: procedurally drawn high-resolution images and short videos, generated from a seed.

Nothing binary ships with the package: :func:`write_seed_sample` draws the files (deterministically) into a
folder and writes ``seeds.jsonl`` next to them, so synthesis, preprocessing and the SFT smoke run work offline.

Image seeds (default 1600x1200) hide the answer in a small cue among distractors, legible only when zoomed:

* ``code``: the 4-digit number on a small coloured tag among grey tags (``number``);
* ``count``: how many tiny dots lie inside a small square frame (``number``);
* ``letter``: the letter on a small coloured tag, four options (``multiple_choice``);
* ``color``: the colour of a large circle (``short_text``, ``needs_zoom: false``, for text-only trajectories).

Video seeds (16 frames) show a digit in a small box during a few frames only (``number``, a frame window).
"""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from verl_pixel.constants import OPTION_LETTERS
from verl_pixel.data.seeds import SeedAnnotation, read_seeds, write_seeds

SAMPLE_DATA_SOURCE = "verl_pixel/seed_sample"
SEEDS_FILE = "seeds.jsonl"
_STAMP_FILE = "sample_spec.json"
_COLORS = {"red": (215, 35, 35), "blue": (35, 80, 215), "green": (30, 160, 60), "orange": (235, 140, 20)}
_GREYS = [(150, 150, 150), (170, 170, 165), (130, 135, 140)]
_LETTERS = "ACEFHKLMNPRSTUXZ"


@dataclasses.dataclass(frozen=True)
class SeedSampleSpec:
    """What to draw.

    Attributes:
        n_images: image seeds (the four kinds in turn).
        n_videos: video seeds.
        image_size: (width, height) of the images.
        frame_size: (width, height) of the video frames.
        n_frames: frames per video.
        seed: RNG seed; same spec -> same files.
    """

    n_images: int = 24
    n_videos: int = 6
    image_size: tuple[int, int] = (1600, 1200)
    frame_size: tuple[int, int] = (256, 192)
    n_frames: int = 16
    seed: int = 0


def write_seed_sample(folder: str | Path, spec: SeedSampleSpec | None = None) -> Path:
    """Draw the sample into ``folder`` (reused when it already holds the same spec) and return its seeds file."""
    spec = spec or SeedSampleSpec()
    out = Path(folder)
    stamp = json.dumps(dataclasses.asdict(spec), sort_keys=True)
    seeds_file = out / SEEDS_FILE
    if seeds_file.is_file() and (out / _STAMP_FILE).is_file() and (out / _STAMP_FILE).read_text() == stamp:
        return seeds_file
    (out / "images").mkdir(parents=True, exist_ok=True)
    rng = random.Random(spec.seed)
    seeds = [_image_seed(rng, out, index, spec) for index in range(spec.n_images)]
    seeds += [_video_seed(rng, out, index, spec) for index in range(spec.n_videos)]
    write_seeds(seeds, seeds_file)
    (out / _STAMP_FILE).write_text(stamp)
    return seeds_file


def load_seed_sample(folder: str | Path, spec: SeedSampleSpec | None = None) -> list[SeedAnnotation]:
    """The sample's seeds (drawn first if needed)."""
    return read_seeds(write_seed_sample(folder, spec))


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _background(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """A pale canvas with large soft shapes and many small grey distractor tags."""
    image = Image.new("RGB", size, (236, 233, 226))
    draw = ImageDraw.Draw(image)
    width, height = size
    for _ in range(14):
        x, y = rng.randint(0, width), rng.randint(0, height)
        radius = rng.randint(40, 160)
        shade = tuple(rng.randint(200, 230) for _ in range(3))
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=shade)
    font = _font(max(8, height // 110))
    for _ in range(30):
        x, y = rng.randint(0, width - 60), rng.randint(0, height - 20)
        draw.rectangle([x, y, x + 46, y + 16], fill=rng.choice(_GREYS))
        draw.text((x + 4, y + 2), str(rng.randint(1000, 9999)), fill=(245, 245, 245), font=font)
    return image


def _place(rng: random.Random, size: tuple[int, int], box_w: int, box_h: int) -> tuple[int, int]:
    """A position keeping the box away from the borders."""
    margin = size[0] // 10
    return rng.randint(margin, size[0] - margin - box_w), rng.randint(margin, size[1] - margin - box_h)


def _tag(rng: random.Random, draw: ImageDraw.ImageDraw, size: tuple[int, int], color: str, text: str) -> list[int]:
    x, y = _place(rng, size, 46, 16)
    draw.rectangle([x, y, x + 46, y + 16], fill=_COLORS[color])
    draw.text((x + 4, y + 2), text, fill=(255, 255, 255), font=_font(max(8, size[1] // 110)))
    return [x, y, x + 47, y + 17]


def _image_seed(rng: random.Random, out: Path, index: int, spec: SeedSampleSpec) -> SeedAnnotation:
    image = _background(rng, spec.image_size)
    draw = ImageDraw.Draw(image)
    kind = ("code", "count", "letter", "color")[index % 4]
    color = rng.choice(sorted(_COLORS))
    seed_id = f"img-{index:04d}-{kind}"
    fields: dict = {"data_source": SAMPLE_DATA_SOURCE}
    if kind == "code":
        code = str(rng.randint(1000, 9999))
        fields.update(
            question=f"What is the 4-digit number printed on the small {color} tag?",
            answer=code,
            answer_type="number",
            bbox=_tag(rng, draw, spec.image_size, color, code),
            target=f"the small {color} tag",
        )
    elif kind == "count":
        fields.update(_count_cue(rng, draw, spec.image_size, color))
    elif kind == "letter":
        letters = rng.sample(_LETTERS, 4)
        answer = rng.randrange(4)
        fields.update(
            question=f"Which letter is printed on the small {color} tag?",
            answer=OPTION_LETTERS[answer],
            answer_type="multiple_choice",
            options=letters,
            target=f"the small {color} tag",
            bbox=_tag(rng, draw, spec.image_size, color, f" {letters[answer]} "),
        )
    else:
        side = min(spec.image_size) // 4
        x, y = _place(rng, spec.image_size, side, side)
        draw.ellipse([x, y, x + side, y + side], fill=_COLORS[color])
        fields.update(
            question="What color is the large circle?",
            answer=color,
            answer_type="short_text",
            bbox=[x, y, x + side + 1, y + side + 1],
            target="the large circle",
            needs_zoom=False,
        )
    path = out / "images" / f"{seed_id}.png"
    image.save(path)
    return SeedAnnotation.from_mapping({"id": seed_id, "image": str(path), **fields})


def _count_cue(rng: random.Random, draw: ImageDraw.ImageDraw, size: tuple[int, int], color: str) -> dict:
    side = 54
    x, y = _place(rng, size, side, side)
    draw.rectangle([x, y, x + side, y + side], outline=(40, 40, 40), width=2)
    count = rng.randint(2, 7)
    spots: list[tuple[int, int]] = []
    while len(spots) < count:
        cx, cy = rng.randint(x + 8, x + side - 8), rng.randint(y + 8, y + side - 8)
        if all(abs(cx - a) > 9 or abs(cy - b) > 9 for a, b in spots):
            spots.append((cx, cy))
    for cx, cy in spots:
        draw.ellipse([cx - 3, cy - 3, cx + 3, cy + 3], fill=_COLORS[color])
    return {
        "question": f"How many {color} dots are inside the small square frame?",
        "answer": str(count),
        "answer_type": "number",
        "bbox": [x, y, x + side + 1, y + side + 1],
        "target": "the small square frame",
    }


def _video_seed(rng: random.Random, out: Path, index: int, spec: SeedSampleSpec) -> SeedAnnotation:
    seed_id = f"vid-{index:04d}"
    folder = out / "videos" / seed_id
    folder.mkdir(parents=True, exist_ok=True)
    width, height = spec.frame_size
    first = rng.randint(2, spec.n_frames - 4)
    last = first + rng.randint(1, 3)
    digit = str(rng.randint(1, 9))
    box_x, box_y = rng.randint(10, width - 30), rng.randint(10, height - 30)
    paths: list[str] = []
    for frame in range(1, spec.n_frames + 1):
        image = Image.new("RGB", spec.frame_size, (200, 215, 230))
        draw = ImageDraw.Draw(image)
        ball_x = int((frame - 1) / max(1, spec.n_frames - 1) * (width - 40)) + 10
        draw.ellipse([ball_x, height // 2, ball_x + 20, height // 2 + 20], fill=(90, 90, 90))
        draw.rectangle([box_x, box_y, box_x + 14, box_y + 14], fill=(250, 250, 250), outline=(60, 60, 60))
        if first <= frame <= last:
            draw.text((box_x + 4, box_y + 1), digit, fill=(20, 20, 20), font=_font(11))
        path = folder / f"{frame:02d}.png"
        image.save(path)
        paths.append(str(path))
    return SeedAnnotation.from_mapping(
        {
            "id": seed_id,
            "video": paths,
            "question": "Which digit is briefly shown in the small white box?",
            "answer": digit,
            "answer_type": "number",
            "frames": [first, last],
            "target": "the digit in the white box",
            "data_source": SAMPLE_DATA_SOURCE,
        }
    )
