"""What the viewer shows of one trajectory, independent of where it came from (SFT row or rollout dump).

Pure data: the sources (``sft_rows.py``, ``rollout_dump.py``) build a :class:`TrajectoryView`, the page
(``html_page.py``) and the PNGs (``drawing.py``) are rendered from it.
"""

from __future__ import annotations

import dataclasses
from enum import Enum

from PIL import Image

# One colour per operation (call order within the trajectory), chosen to stay distinct on photos and on each other.
OPERATION_COLOURS: tuple[tuple[int, int, int], ...] = (
    (230, 25, 75),  # red
    (0, 130, 200),  # blue
    (245, 130, 48),  # orange
    (60, 180, 75),  # green
    (145, 30, 180),  # purple
    (240, 50, 230),  # magenta
    (0, 128, 128),  # teal
    (128, 0, 0),  # maroon
)


def operation_colour(index: int) -> tuple[int, int, int]:
    """The RGB colour of the 0-based operation ``index`` (the palette repeats after eight operations)."""
    return OPERATION_COLOURS[index % len(OPERATION_COLOURS)]


class SpanKind(str, Enum):
    """Whether a piece of text gets loss (also the CSS class of its ``<span>``)."""

    TRAINED = "trained"  # assistant tokens with loss (SFT) / response_mask 1 (rollout)
    MASKED = "masked"  # prompt, tool outputs, masked assistant messages (SFT) / response_mask 0 (rollout)


@dataclasses.dataclass(frozen=True)
class TextSpan:
    """A run of text with one loss status."""

    text: str
    kind: SpanKind


@dataclasses.dataclass(frozen=True)
class ImageRef:
    """Where numbered image ``number`` appears in the conversation."""

    number: int


@dataclasses.dataclass(frozen=True)
class Turn:
    """One message of the conversation.

    Attributes:
        role: ``system`` | ``user`` | ``assistant`` | ``tool`` | ``prompt`` (a rollout's decoded prompt).
        parts: its text spans and image references, in order.
        note: a short remark shown next to the role (``loss_mask: 0``, ``tool output``).
    """

    role: str
    parts: tuple[TextSpan | ImageRef, ...]
    note: str = ""


@dataclasses.dataclass(frozen=True)
class DrawnBox:
    """A crop drawn on an image.

    Attributes:
        box: ``(x1, y1, x2, y2)`` in the pixels of the image it is drawn on (half-open, like ``ops.Box``).
        result_number: the number of the image the crop became (the box's label).
        operation_index: 0-based index of the call that made it (its colour).
    """

    box: tuple[float, float, float, float]
    result_number: int
    operation_index: int


@dataclasses.dataclass(frozen=True)
class NumberedImage:
    """One image of the trajectory as the viewer shows it.

    Attributes:
        number: 1-based number, as the model numbers images (inputs first, then tool outputs).
        image: the pixels to draw on: the stored original for an input, the crop for a crop.
        caption: what it is (``input``, ``crop of image 1``).
        boxes: the crops taken from it or from its descendants, mapped onto its pixels.
        placeholder: the real image was not available; boxes are drawn on a blank canvas.
    """

    number: int
    image: Image.Image
    caption: str
    boxes: tuple[DrawnBox, ...] = ()
    placeholder: bool = False


@dataclasses.dataclass(frozen=True)
class OperationView:
    """One tool call of the trajectory and what replaying it gave.

    Attributes:
        index: 0-based call order (its colour).
        name: the tool name the model wrote.
        arguments: the arguments as JSON text.
        ok: whether the call returned images.
        message: the error message the model got (empty on success).
        result_numbers: the numbers of the images it returned.
        target_image: the image a crop was cut from.
    """

    index: int
    name: str
    arguments: str
    ok: bool
    message: str = ""
    result_numbers: tuple[int, ...] = ()
    target_image: int | None = None


@dataclasses.dataclass(frozen=True)
class TrajectoryView:
    """Everything the page shows of one trajectory.

    Attributes:
        name: file-safe identifier (``sft_0003``); PNGs are ``<name>_image<k>.png``.
        title: heading text.
        turns: the conversation.
        images: the numbered images with their boxes.
        operations: the tool calls in order.
        fields: scores and other per-trajectory values, as (key, text) rows.
        notes: warnings for the reader (images missing, a call that did not replay as recorded).
    """

    name: str
    title: str
    turns: tuple[Turn, ...]
    images: tuple[NumberedImage, ...] = ()
    operations: tuple[OperationView, ...] = ()
    fields: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()

    def image_file(self, number: int) -> str:
        """File name of image ``number``'s PNG, relative to the page."""
        return f"{self.name}_image{number}.png"
