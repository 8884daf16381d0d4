"""Drawing crop boxes and their labels on an image, and blank placeholders for images a dump does not hold.

Box outline: the half-open box ``[x1, x2) x [y1, y2)`` is rounded to whole pixels and its outline covers the
pixels ``x1 .. x2 - 1`` and ``y1 .. y2 - 1``, growing inward by :func:`outline_width` pixels, in the operation's
colour. The label (``image N``, the number of the image the crop became) sits on a filled tag just above the
box's top-left corner when there is room (else inside the corner, or below the box), away from other labels.
"""

from __future__ import annotations

import functools
import logging

from PIL import Image, ImageDraw, ImageFont, features

from verl_pixel.viewer.model import DrawnBox, operation_colour

logger = logging.getLogger(__name__)

Rect = tuple[int, int, int, int]  # inclusive pixel rectangle (left, top, right, bottom)

PLACEHOLDER_SIZE = (1008, 1008)  # a multiple of 28 within the default input budget, so the view is the canvas
PLACEHOLDER_FILL = (200, 200, 200)
LABEL_TEXT_COLOUR = (255, 255, 255)
_LABEL_PADDING = 2


def outline_width(size: tuple[int, int]) -> int:
    """Outline thickness for an image of ``size``: 2 px up to 512 px, then growing so boxes stay visible."""
    return max(2, round(max(size) / 256))


def label_font_size(size: tuple[int, int]) -> int:
    """Label text height for an image of ``size`` (at least 11 px)."""
    return max(11, round(max(size) / 40))


@functools.lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    # The scalable default font needs FreeType; without it Pillow's fixed bitmap font still gives a label.
    return ImageFont.load_default(size) if features.check("freetype2") else ImageFont.load_default()


def pixel_rect(box: tuple[float, float, float, float], size: tuple[int, int]) -> Rect:
    """The inclusive pixel rectangle ``(left, top, right, bottom)`` the outline of ``box`` covers on ``size``."""
    width, height = size
    left = min(max(round(box[0]), 0), width - 1)
    top = min(max(round(box[1]), 0), height - 1)
    right = min(max(round(box[2]) - 1, left), width - 1)
    bottom = min(max(round(box[3]) - 1, top), height - 1)
    return left, top, right, bottom


def draw_boxes(image: Image.Image, boxes: tuple[DrawnBox, ...]) -> Image.Image:
    """A copy of ``image`` (RGB) with every box outlined in its operation's colour and labelled.

    All outlines are drawn before any label, so a label may cover another box's outline but never its own.
    """
    canvas = image.convert("RGB")  # a copy, also when the image already is RGB
    draw = ImageDraw.Draw(canvas)
    width = outline_width(canvas.size)
    rects = [pixel_rect(drawn.box, canvas.size) for drawn in boxes]
    for drawn, rect in zip(boxes, rects, strict=True):
        draw.rectangle(rect, outline=operation_colour(drawn.operation_index), width=width)
    font = _font(label_font_size(canvas.size))
    placed: list[Rect] = []
    for drawn, rect in zip(boxes, rects, strict=True):
        text = f"image {drawn.result_number}"
        x1, y1, x2, y2 = draw.textbbox((0, 0), text, font=font)
        tag = label_rect(canvas.size, rect, (x2 - x1 + 2 * _LABEL_PADDING, y2 - y1 + 2 * _LABEL_PADDING), placed)
        placed.append(tag)
        draw.rectangle(tag, fill=operation_colour(drawn.operation_index))
        draw.text((tag[0] + _LABEL_PADDING - x1, tag[1] + _LABEL_PADDING - y1), text, fill=LABEL_TEXT_COLOUR, font=font)
    return canvas


def label_rect(size: tuple[int, int], rect: Rect, tag_size: tuple[int, int], placed: list[Rect]) -> Rect:
    """Where a box's label tag goes (inclusive pixel rectangle), avoiding the tags already ``placed``.

    Preference: just above the box (outside it, so the outline stays whole), then inside its top-left corner, just
    below it, inside its bottom-left corner; the first spot that fits the image and overlaps no placed tag wins.
    """
    left, top, _, bottom = rect
    tag_width, tag_height = tag_size
    inset = outline_width(size)
    candidates = [
        (left, top - tag_height),
        (left + inset, top + inset),
        (left, bottom + 1),
        (left + inset, bottom - inset - tag_height + 1),
    ]
    fitting = [
        (min(x, max(size[0] - tag_width, 0)), y) for x, y in candidates if y >= 0 and y + tag_height <= size[1]
    ] or [(min(left + inset, max(size[0] - tag_width, 0)), max(top + inset, 0))]
    tags = [(x, y, x + tag_width - 1, y + tag_height - 1) for x, y in fitting]
    return next((tag for tag in tags if not any(_overlap(tag, other) for other in placed)), tags[0])


def _overlap(a: Rect, b: Rect) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def placeholder_image(text: str, size: tuple[int, int] = PLACEHOLDER_SIZE) -> Image.Image:
    """A grey canvas saying ``text``, standing in for an image the input does not hold."""
    canvas = Image.new("RGB", size, PLACEHOLDER_FILL)
    draw = ImageDraw.Draw(canvas)
    font = _font(label_font_size(size))
    x1, y1, x2, y2 = draw.textbbox((0, 0), text, font=font)
    draw.text(((size[0] - (x2 - x1)) / 2 - x1, (size[1] - (y2 - y1)) / 2 - y1), text, fill=(90, 90, 90), font=font)
    return canvas
