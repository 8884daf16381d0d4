"""An SFT (or trajectory) row of the project's schema as a :class:`~verl_pixel.viewer.model.TrajectoryView`.

The row (:mod:`verl_pixel.data.sft_schema`) holds every image the model saw, inputs and tool outputs, in
placeholder order, so image numbers are placeholder positions. The assistant tool calls are replayed with the
operation layer on the row's input images (see :mod:`verl_pixel.viewer.geometry`) to get each crop's region; the
images drawn for tool outputs are the row's own (what the model was trained on). A call whose replay disagrees
with the row (different config, a failed call the row shows as an image) is reported in the view's notes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from PIL import Image

from verl_pixel.data.images import ImageDecodeError, load_image
from verl_pixel.data.sft_schema import IMAGE_PLACEHOLDER, TOOL_CALL_TAG, count_placeholders, is_tool_output
from verl_pixel.data.videos import VideoDecodeError, load_video
from verl_pixel.ops import ImageRegistry, MalformedToolCall, ToolCall, VisualOpsConfig, parse_tool_calls
from verl_pixel.ops.frames import frames_from_array
from verl_pixel.ops.tool_call import parse_call_body
from verl_pixel.viewer.drawing import placeholder_image
from verl_pixel.viewer.fields import field_rows
from verl_pixel.viewer.geometry import CallReplay
from verl_pixel.viewer.model import TrajectoryView, Turn
from verl_pixel.viewer.spans import sft_turn

logger = logging.getLogger(__name__)

SFT_MEDIA_KEYS = ("messages", "images", "videos", "tools")


def message_calls(message: Mapping[str, Any]) -> list[ToolCall | MalformedToolCall]:
    """The calls of an assistant message: structured ``tool_calls``, then ``<tool_call>`` blocks in its text."""
    calls: list[ToolCall | MalformedToolCall] = []
    for call in message.get("tool_calls") or ():
        function = call.get("function", call) if isinstance(call, Mapping) else {}
        # parse_call_body applies the operation layer's own rules (JSON-string arguments, missing name).
        body = json.dumps({"name": function.get("name"), "arguments": function.get("arguments")})
        calls.append(parse_call_body(body))
    content = message.get("content") or ""
    if TOOL_CALL_TAG in content:
        calls += parse_tool_calls(content).calls
    return calls


def _decode_all(refs: Sequence[Any], field: str, notes: list[str]) -> list[Image.Image]:
    images = []
    for index, ref in enumerate(refs):
        try:
            images.append(load_image(ref))
        except ImageDecodeError as err:
            notes.append(f"{field}[{index}]: {err}; shown as a placeholder")
            images.append(placeholder_image(f"{field}[{index}] not readable"))
    return images


def _video_frames(entry: Any, notes: list[str]) -> list[Image.Image]:
    """The sampled frames of the row's video as training sees them (the one video decoder), or none with a note."""
    try:
        return frames_from_array(load_video(entry).frames)
    except VideoDecodeError as err:
        notes.append(f"videos[0]: {err}; select_frames calls are not replayed")
        return []


class _RowReplay:
    """Walks the messages in order, numbering inputs and replaying calls, and checks against the row's images."""

    def __init__(self, config: VisualOpsConfig, images: list[Image.Image], frames: list[Image.Image]) -> None:
        self.images = images
        self.replay = CallReplay(ImageRegistry.from_inputs(config, video_frames=frames))
        self.seen = 0  # images of the conversation so far
        self.notes: list[str] = []

    def message(self, message: Mapping[str, Any]) -> None:
        count = count_placeholders(message.get("content") or "", IMAGE_PLACEHOLDER)
        new = self.images[self.seen : self.seen + count]
        self.seen += len(new)
        if is_tool_output(message):
            self._check_outputs()
        elif message.get("role") == "assistant":
            for call in message_calls(message):
                self.replay.run(call)
        else:
            for image in new:
                self.replay.registry.add_input(image, image)

    def _check_outputs(self) -> None:
        registry = self.replay.registry
        if registry.num_images > self.seen:
            self.notes.append(
                f"replay produced {registry.num_images} images but the row shows {self.seen} so far: "
                "the config differs from the one the row was made with; later numbers may be off"
            )
        elif registry.num_images < self.seen:
            failed = [result.message for _, result in self.replay.calls if not result.ok]
            detail = f" (last replay error: {failed[-1]})" if failed else ""
            self.notes.append(f"the row shows images the replay did not produce{detail}; no boxes for them")
            self.replay.sync(self.images[: self.seen])

    def shown(self) -> dict[int, Image.Image]:
        """The row's own pixels for every numbered image it holds (tool outputs as the model saw them)."""
        return {number: image for number, image in enumerate(self.images[: self.replay.registry.num_images], 1)}


def sft_row_view(
    row: Mapping[str, Any], index: int, config: VisualOpsConfig, name: str | None = None
) -> TrajectoryView:
    """The view of one SFT row.

    Args:
        row: the row as plain Python values (``messages``, ``images``, optional ``videos`` and other columns).
        index: the row's position in its file (for the name and title).
        config: the visual-operation config the row's crops were made with (coordinate convention, padding).
        name: file-safe identifier; ``sft_<index>`` by default.
    """
    notes: list[str] = []
    images = _decode_all(list(row.get("images") or ()), "images", notes)
    videos = list(row.get("videos") or ())
    frames = _video_frames(videos[0], notes) if videos else []
    walk = _RowReplay(config, images, frames)
    turns: list[Turn] = []
    next_image = 1
    for message in row.get("messages") or ():
        walk.message(message)
        turn, next_image = sft_turn(message, next_image)
        turns.append(turn)
    name = name or f"sft_{index:04d}"
    return TrajectoryView(
        name=name,
        title=f"SFT row {index}",
        turns=tuple(turns),
        images=walk.replay.numbered_images(walk.shown()),
        operations=walk.replay.operations(),
        fields=field_rows(row, skip=SFT_MEDIA_KEYS),
        notes=tuple(notes + walk.notes),
    )
