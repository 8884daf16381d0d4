"""Per-trajectory numbering of images and the mapping from what the model saw back to the stored originals.

Images are numbered in the order the model saw them: the input images first, then every image a tool returned
(so ``target_image=2`` is the first crop when there is one input). For each numbered image the registry keeps

* which stored original it shows (``source``) and the region of that original it shows (``region``, in the
  original's pixels), and
* its size as the model sees it (``view_size``).

A box the model draws on image ``n`` is therefore mapped to the original by one affine step,
``region.x1 + x * region.width / view_width``; a crop's region is stored in original coordinates, so a crop of
a crop maps through the whole chain without accumulating rounding.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from enum import Enum
from typing import Protocol

from PIL import Image

from verl_pixel.ops.config import ORIGINAL_ASPECT_TOLERANCE, VisualOpsConfig
from verl_pixel.ops.coords import Box, scale_box
from verl_pixel.ops.resize import RESAMPLE, fit_to_budget, to_rgb

logger = logging.getLogger(__name__)


class ImageKind(str, Enum):
    """Where a numbered image came from."""

    INPUT = "input"  # an image of the prompt
    CROP = "crop"  # returned by crop_image
    FRAME = "frame"  # a video frame: returned by select_frames, or an input frame (frames as images, crop_video_frames)
    FOREIGN = "foreign"  # returned by some other tool; it is its own original


@dataclasses.dataclass(frozen=True)
class ImageView:
    """One numbered image as the model saw it.

    Attributes:
        number: 1-based number of the image in the conversation.
        kind: where it came from.
        source: index of the stored original it shows.
        region: the part of that original it shows, in the original's pixels.
        view_size: (width, height) the model sees it at.
        image: the image object the conversation holds (for inputs: the copy verl handed the tool).
    """

    number: int
    kind: ImageKind
    source: int
    region: Box
    view_size: tuple[int, int]
    image: Image.Image


class LazyOriginal(Protocol):
    """A stored original whose pixels are decoded on demand and may be shared between trajectories.

    :class:`verl_pixel.tools.original_cache.SharedOriginal` is the one implementation: the tools hand the registry
    those instead of decoded images, so a worker decodes each distinct original once, and lazily.
    """

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the full-resolution original, known without decoding it."""

    def image(self) -> Image.Image:
        """The whole original, decoded at full resolution."""

    def cut(self, box: tuple[int, int, int, int], at_least: tuple[int, int]) -> Image.Image:
        """The region ``box`` (original pixels), at a resolution of at least ``at_least`` (width, height) pixels."""


Original = Image.Image | LazyOriginal


def _aspects_agree(original: Original, model_image: Image.Image) -> bool:
    """Whether ``original`` plausibly is the picture ``model_image`` was resized from."""
    width, height = original.size
    original_aspect = width / height
    model_aspect = model_image.width / model_image.height
    return abs(original_aspect - model_aspect) <= ORIGINAL_ASPECT_TOLERANCE * model_aspect


class ImageRegistry:
    """Numbered images of one trajectory, their originals and the sampled frames of its video.

    Mutable: one instance per trajectory, grown by every successful operation. Not thread-safe; the tool
    adapters serialise the calls of one trajectory.
    """

    def __init__(self, config: VisualOpsConfig) -> None:
        self.config = config
        self.operations_attempted = 0
        self._originals: list[Original] = []
        self._views: list[ImageView] = []
        self._frames: list[Image.Image] = []
        self._frame_inputs = 0

    @classmethod
    def from_inputs(
        cls,
        config: VisualOpsConfig,
        model_images: Sequence[Image.Image] = (),
        originals: Sequence[Original | None] | None = None,
        video_frames: Sequence[Image.Image] = (),
        frame_images: int = 0,
    ) -> ImageRegistry:
        """Registry for a new trajectory.

        Args:
            config: the operation config (budgets decide each input's view size).
            model_images: the input images as the rollout holds them (verl's ``agent_data.image_data``).
            originals: the stored full-resolution images, aligned with ``model_images``; ``None`` entries (or a
                list of the wrong length) fall back to the model's copy.
            video_frames: the sampled frames of the input video, if any.
            frame_images: how many of ``model_images`` are the sampled frames of the input video (a row's
                ``extra_info.num_video_frames``): 0, or all of them, which then are also ``select_frames``' frames
                (their originals, else the model's copies) and do not count against ``max_images``.
        """
        registry = cls(config)
        if originals is not None and len(originals) != len(model_images):
            logger.warning(
                "got %d originals for %d input images; cropping the model's copies", len(originals), len(model_images)
            )
            originals = None
        if frame_images not in (0, len(model_images)):
            logger.warning("%d video frames for %d images: treating them as images", frame_images, len(model_images))
            frame_images = 0
        kind = ImageKind.FRAME if frame_images else ImageKind.INPUT
        for index, model_image in enumerate(model_images):
            registry.add_input(model_image, originals[index] if originals is not None else None, kind)
        registry._frames = list(video_frames)
        if frame_images:
            registry._frames = [registry.original(view.source) for view in registry._views]
        elif config.crop_video_frames and not model_images:
            for frame in registry._frames:
                registry.add_input(frame, kind=ImageKind.FRAME)
        return registry

    @property
    def num_images(self) -> int:
        """How many images are numbered so far."""
        return len(self._views)

    @property
    def num_frame_inputs(self) -> int:
        """How many numbered images are the input video's sampled frames (they are the video, see ``budgets``)."""
        return self._frame_inputs

    @property
    def num_frames(self) -> int:
        """How many sampled frames the input video has (0 without a video)."""
        return len(self._frames)

    def frame(self, number: int) -> Image.Image:
        """The 1-based sampled frame ``number``."""
        return self._frames[number - 1]

    def view(self, number: int) -> ImageView:
        """The 1-based numbered image ``number``."""
        return self._views[number - 1]

    def add_input(
        self, model_image: Image.Image, original: Original | None = None, kind: ImageKind = ImageKind.INPUT
    ) -> int:
        """Number an image that enters the conversation from outside the operation layer.

        Its view size is what the processor makes of ``model_image`` under ``image_max_pixels``; its original is
        ``original`` when that has a matching aspect ratio, else ``model_image`` itself.

        Returns:
            The image's number.
        """
        if original is not None and not _aspects_agree(original, model_image):
            logger.warning(
                "original %s does not match model image %s; cropping the model's copy", original.size, model_image.size
            )
            original = None
        source_image = original if original is not None else model_image
        view_size = fit_to_budget(
            model_image.size, self.config.factor, self.config.min_pixels, self.config.image_max_pixels
        )
        source = self.add_original(source_image)
        width, height = source_image.size
        region = Box(0.0, 0.0, float(width), float(height))
        if kind is ImageKind.FRAME:
            self._frame_inputs += 1
        return self._append(kind, source, region, view_size, model_image)

    def add_original(self, image: Original) -> int:
        """Store a new original (e.g. a sampled video frame) and return its source index."""
        self._originals.append(image)
        return len(self._originals) - 1

    def add_output(self, image: Image.Image, kind: ImageKind, source: int, region: Box) -> int:
        """Number an image an operation returned; it is shown to the model at exactly ``image.size``.

        Returns:
            The image's number.
        """
        return self._append(kind, source, region, image.size, image)

    def sync(self, conversation_images: Sequence[Image.Image]) -> None:
        """Number images the conversation gained from elsewhere (another tool) so the numbering stays aligned."""
        for image in conversation_images[self.num_images :]:
            self.add_input(image, kind=ImageKind.FOREIGN)

    def original(self, source: int) -> Image.Image:
        """The stored original ``source`` as an image (any mode: convert the cut, not the whole image)."""
        original = self._originals[source]
        return original if isinstance(original, Image.Image) else original.image()

    def original_size(self, source: int) -> tuple[int, int]:
        """(width, height) of the stored original ``source``, without decoding or converting it."""
        return self._originals[source].size

    def cut_original(self, source: int, box: tuple[int, int, int, int], at_least: tuple[int, int]) -> Image.Image:
        """The region ``box`` of original ``source``, at ``at_least`` pixels or more (a lazy one may decode less)."""
        original = self._originals[source]
        return original.crop(box) if isinstance(original, Image.Image) else original.cut(box, at_least)

    def view_pixels(self, number: int) -> Image.Image:
        """The pixels of image ``number`` exactly as the model saw them (``crop_source: model_view``)."""
        view = self.view(number)
        image = to_rgb(view.image)
        return image if image.size == view.view_size else image.resize(view.view_size, RESAMPLE)

    def to_original(self, number: int, box: Box) -> Box:
        """Map a box in image ``number``'s view pixels to the pixels of its stored original."""
        view = self.view(number)
        sx = view.region.width / view.view_size[0]
        sy = view.region.height / view.view_size[1]
        return scale_box(box, sx, sy, offset=(view.region.x1, view.region.y1))

    def _append(self, kind: ImageKind, source: int, region: Box, view_size: tuple[int, int], image: Image.Image) -> int:
        number = len(self._views) + 1
        self._views.append(ImageView(number, kind, source, region, view_size, image))
        return number
