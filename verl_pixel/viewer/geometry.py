"""Replaying a trajectory's tool calls with the real operation layer, and mapping every crop onto its ancestors.

Why replay instead of reading boxes off the arguments: a crop's region depends on the coordinate convention, the
padding, the clamping and the minimum-size growth, and a crop of a crop is relative to its parent. The operation
layer (:mod:`verl_pixel.ops`) already does all of that and records each numbered image's region in its stored
original; replaying the calls on an :class:`~verl_pixel.ops.ImageRegistry` gives exactly the regions the tools
produced (for the same :class:`~verl_pixel.ops.VisualOpsConfig`). The only geometry here is the inverse of the
registry's view -> original step, which puts an original-frame region onto the pixels of any ancestor image.

The drawn box is the region the resulting image shows (after padding / clamping / growth), not the raw ``bbox_2d``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping, Sequence

from PIL import Image

from verl_pixel.ops import (
    CROP_TOOL_NAME,
    OPERATIONS,
    SELECT_FRAMES_TOOL_NAME,
    Box,
    ImageKind,
    ImageRegistry,
    MalformedToolCall,
    OperationResult,
    ToolCall,
    run_tool_call,
)
from verl_pixel.ops.coords import scale_box
from verl_pixel.viewer.model import DrawnBox, NumberedImage, OperationView

logger = logging.getLogger(__name__)


def box_on_image(region: Box, frame: Box, image_size: tuple[int, int]) -> Box:
    """Map ``region`` (stored-original pixels) onto an image that shows ``frame`` of that original at ``image_size``.

    Args:
        region: the crop's region in the original's pixels.
        frame: the region of the same original the target image shows.
        image_size: (width, height) of the target image's pixels.
    """
    sx, sy = image_size[0] / frame.width, image_size[1] / frame.height
    return scale_box(region, sx, sy, offset=(-frame.x1 * sx, -frame.y1 * sy))


class CallReplay:
    """Runs a trajectory's calls, in conversation order, on one registry and remembers what each gave.

    Args:
        registry: the trajectory's registry, holding its input images.
        available: the operations offered (empty for a ``no_tool`` rollout: every call is refused, as it was).
    """

    def __init__(self, registry: ImageRegistry, available: Collection[str] = OPERATIONS) -> None:
        self.registry = registry
        self.available = tuple(available)
        self.calls: list[tuple[ToolCall | MalformedToolCall, OperationResult]] = []

    def run(self, call: ToolCall | MalformedToolCall) -> OperationResult:
        """Replay one parsed call (never raises)."""
        result = run_tool_call(self.registry, call, self.available)
        self.calls.append((call, result))
        return result

    def sync(self, conversation_images: Sequence[Image.Image]) -> None:
        """Number images the conversation holds but the replay did not produce, so later numbers stay aligned."""
        if len(conversation_images) > self.registry.num_images:
            logger.warning(
                "conversation has %d images, replay produced %d; numbering the rest as foreign images",
                len(conversation_images),
                self.registry.num_images,
            )
        self.registry.sync(conversation_images)

    def operations(self) -> tuple[OperationView, ...]:
        """The calls as the page lists them."""
        return tuple(_operation_view(index, call, result) for index, (call, result) in enumerate(self.calls))

    def numbered_images(self, shown: Mapping[int, Image.Image] | None = None) -> tuple[NumberedImage, ...]:
        """Every numbered image with the crops taken from it or its descendants drawn on it.

        Args:
            shown: images to draw on instead of the registry's, by number (an SFT row's stored crops, exactly as
                the model saw them in training). Inputs default to their stored original, outputs to the replay's.
        """
        shown = shown or {}
        boxes = self._boxes_by_image(shown)
        out = []
        for number in range(1, self.registry.num_images + 1):
            image = self._image(number, shown)
            out.append(NumberedImage(number, image, self._caption(number), tuple(boxes.get(number, ()))))
        return tuple(out)

    def _image(self, number: int, shown: Mapping[int, Image.Image]) -> Image.Image:
        if number in shown:
            return shown[number]
        view = self.registry.view(number)
        return self.registry.original(view.source) if view.kind is ImageKind.INPUT else view.image

    def _caption(self, number: int) -> str:
        view = self.registry.view(number)
        parent = self._parents().get(number)
        if view.kind is ImageKind.CROP and parent is not None:
            return f"crop of image {parent}"
        frames = {
            image: frame
            for _, result in self.calls
            if result.ok and result.operation == SELECT_FRAMES_TOOL_NAME
            for image, frame in zip(result.image_numbers, result.frames, strict=False)
        }
        return f"frame {frames[number]} of the video" if number in frames else view.kind.value

    def _parents(self) -> dict[int, int]:
        """Crop number -> the image it was cut from."""
        return {
            number: result.target_image
            for _, result in self.calls
            if result.ok and result.operation == CROP_TOOL_NAME and result.target_image is not None
            for number in result.image_numbers
        }

    def _boxes_by_image(self, shown: Mapping[int, Image.Image]) -> dict[int, list[DrawnBox]]:
        """Each crop's region drawn on its parent, grandparent, ... up to the input image."""
        parents = self._parents()
        boxes: dict[int, list[DrawnBox]] = {}
        for index, (_, result) in enumerate(self.calls):
            if not (result.ok and result.operation == CROP_TOOL_NAME):
                continue
            child = result.image_numbers[0]
            region = self.registry.view(child).region
            ancestor = parents.get(child)
            while ancestor is not None:
                view = self.registry.view(ancestor)
                size = self._image(ancestor, shown).size
                box = box_on_image(region, view.region, size)
                boxes.setdefault(ancestor, []).append(DrawnBox(box.as_tuple(), child, index))
                ancestor = parents.get(ancestor)
        return boxes


def _operation_view(index: int, call: ToolCall | MalformedToolCall, result: OperationResult) -> OperationView:
    if isinstance(call, ToolCall):
        name, arguments = call.name, json.dumps(call.arguments, ensure_ascii=False)
    else:
        name, arguments = call.name or "?", call.raw
    return OperationView(
        index=index,
        name=name,
        arguments=arguments,
        ok=result.ok,
        message=result.message,
        result_numbers=result.image_numbers,
        target_image=result.target_image,
    )
