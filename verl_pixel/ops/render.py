"""How an operation's result is shown to the model, in the OpenAI / Qwen content-list message form.

Two styles (``VisualOpsConfig.output_style``):

* ``qwen``: a ``tool`` message (the chat template wraps it in ``<tool_response>``), images first, then a text
  line naming the new image numbers; errors as ``Error: ...``.
* ``pixel_reasoner``: a ``user`` turn with Pixel Reasoner's exact wording, text first, then the images;
  errors as ``Execution error: ...``. Needed to continue from the released Pixel Reasoner checkpoints.

Image items carry the image object under ``"image"`` (the form verl's agent loop and processors take).
"""

from __future__ import annotations

from typing import Any

from verl_pixel.ops.config import CROP_TOOL_NAME, OutputStyle
from verl_pixel.ops.result import OperationResult


def _size(result: OperationResult) -> str:
    first = result.images[0]
    return f"{first.width}x{first.height}"


def _qwen_text(result: OperationResult) -> str:
    if not result.ok:
        return f"Error: {result.message}"
    numbers = result.image_numbers
    if result.operation == CROP_TOOL_NAME:
        return f"Image {numbers[0]}: crop of image {result.target_image} ({_size(result)})."
    frames = ", ".join(str(frame) for frame in result.frames)
    return f"Images {numbers[0]} to {numbers[-1]}: frames {frames} of the video ({_size(result)} each)."


def _pixel_reasoner_text(result: OperationResult) -> str:
    if not result.ok:
        return f"\nExecution error:\n{result.message}\n"
    if result.operation == CROP_TOOL_NAME:
        return f"\nHere is the cropped image (Image Size: {_size(result)}):"
    numbers = result.image_numbers
    return f"\nHere are the selected frames (Frame Size: {_size(result)}, Numbered {numbers[0]} to {numbers[-1]}):"


def result_text(result: OperationResult, style: OutputStyle) -> str:
    """The text part of the tool output in ``style`` (also what the verl tool adapter returns as text)."""
    return _pixel_reasoner_text(result) if style is OutputStyle.PIXEL_REASONER else _qwen_text(result)


def render_tool_output(result: OperationResult, style: OutputStyle) -> dict[str, Any]:
    """One message showing ``result`` to the model.

    Returns:
        ``{"role": "tool" | "user", "content": [{"type": "image", "image": ...}, {"type": "text", "text": ...}]}``
        with the items ordered for ``style``.
    """
    text_item = {"type": "text", "text": result_text(result, style)}
    image_items = [{"type": "image", "image": image} for image in result.images]
    if style is OutputStyle.PIXEL_REASONER:
        return {"role": "user", "content": [text_item, *image_items]}
    return {"role": "tool", "content": [*image_items, text_item]}


def render_tool_outputs(results: list[OperationResult], style: OutputStyle) -> list[dict[str, Any]]:
    """Messages for the calls of one assistant turn, in call order."""
    return [render_tool_output(result, style) for result in results]
