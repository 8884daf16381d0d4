r"""Turning a trajectory plan into an SFT row: run the planned operations, lay out the turns, fill in the text.

Template (METHOD.md §4): whole-image analysis -> "Now I will zoom in to look clearer at ..." -> ``crop_image`` call
-> tool output (the crop) -> analysis of the crop -> ``\boxed{answer}``. Erroneous operations (a wrong crop, wrong
frames, by default the oversized crop) sit in their own assistant turn together with the text that leads to them,
and that turn gets ``loss_mask: 0``; the correction and everything after it are trained.

The crops and frame selections are produced by the same pure operations the RL tools run
(:mod:`verl_pixel.ops`), so a tool output looks exactly as it will during RL: same padding, budgets and text.
Building happens in two phases so that a slow writer can batch all texts: :func:`draft_trajectory` runs the
operations and collects :class:`~verl_pixel.data.writers.TextRequest` objects, :meth:`TrajectoryDraft.compose`
fills in the written texts and returns the row.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image

from verl_pixel.constants import OPTION_LETTERS
from verl_pixel.data.boxes import NormBox, normalize_box, relative_to, round_outward
from verl_pixel.data.images import load_image
from verl_pixel.data.seeds import SeedAnnotation
from verl_pixel.data.synthesis_config import SynthesisConfig, TrajectoryType
from verl_pixel.data.synthesis_plan import CropStep, StepRole, TrajectoryPlan
from verl_pixel.data.videos import load_video
from verl_pixel.data.writers import TextKind, TextRequest
from verl_pixel.ops import (
    CROP_TOOL_NAME,
    SELECT_FRAMES_TOOL_NAME,
    CoordinateConvention,
    ImageRegistry,
    OperationResult,
    OutputStyle,
    crop_image,
    resize_to_budget,
    result_text,
    select_frames,
    tool_schemas,
)
from verl_pixel.ops.frames import frames_from_array


class SynthesisError(RuntimeError):
    """A planned operation failed when run (a bug in planning, or an unreadable seed file)."""


@dataclasses.dataclass(frozen=True)
class _AssistantTurn:
    request: TextRequest
    suffix: str
    call: dict[str, Any] | None
    trained: bool


@dataclasses.dataclass
class TrajectoryDraft:
    """A row whose assistant texts are still to be written."""

    plan: TrajectoryPlan
    seed: SeedAnnotation
    turns: list[_AssistantTurn | dict[str, Any]]
    images: list[dict[str, bytes]]
    videos: list[dict[str, Any]]
    tools: str

    @property
    def requests(self) -> list[TextRequest]:
        """The text requests of the assistant turns, in order."""
        return [turn.request for turn in self.turns if isinstance(turn, _AssistantTurn)]

    def compose(self, texts: Iterator[str]) -> dict[str, Any]:
        """The SFT row, taking one written text per request from ``texts``."""
        messages: list[dict[str, Any]] = []
        for turn in self.turns:
            if not isinstance(turn, _AssistantTurn):
                messages.append(turn)
                continue
            content = " ".join(part for part in (next(texts), turn.suffix) if part)
            messages.append(
                {
                    "role": "assistant",
                    "content": content,
                    "tool_calls": [turn.call] if turn.call else None,
                    "loss_mask": 1 if turn.trained else 0,
                }
            )
        return {
            "messages": messages,
            "images": self.images,
            "videos": self.videos,
            "tools": self.tools,
            "trajectory_type": self.plan.trajectory_type.value,
            "seed_id": self.seed.seed_id,
            "data_source": self.seed.data_source,
        }


def draft_trajectory(
    seed: SeedAnnotation, plan: TrajectoryPlan, config: SynthesisConfig, attach_images: bool = False
) -> TrajectoryDraft:
    """Run the plan's operations and lay out its turns.

    Args:
        seed: the annotation the plan was made for.
        plan: its plan.
        config: synthesis config (ops config, output style, masking).
        attach_images: put the images seen at each step into the text requests (for VLM writers).

    Raises:
        SynthesisError: if a planned operation fails.
    """
    builder = _Builder(seed, plan, config, attach_images)
    if seed.video:
        builder.run_video()
    else:
        builder.run_image()
    return TrajectoryDraft(
        plan, seed, builder.turns, builder.images, builder.videos, json.dumps(tool_schemas(config.ops, config.tools))
    )


def spoken_answer(seed: SeedAnnotation) -> str:
    """The answer as the analysis text says it (an option's text for multiple choice)."""
    if seed.options:
        return f"{seed.options[OPTION_LETTERS.index(seed.answer)]} (option {seed.answer})"
    return seed.answer


class _Builder:
    """Accumulates the turns and media of one row (one instance per draft)."""

    def __init__(self, seed: SeedAnnotation, plan: TrajectoryPlan, config: SynthesisConfig, attach: bool) -> None:
        self.seed, self.plan, self.config, self.attach = seed, plan, config, attach
        self.turns: list[_AssistantTurn | dict[str, Any]] = []
        self.images: list[dict[str, bytes]] = []
        self.videos: list[dict[str, Any]] = []
        self.question = seed.question_text()
        self.answer_suffix = f"The answer is \\boxed{{{seed.answer}}}."

    def request(self, step: str, kind: TextKind, images: tuple[Image.Image, ...] = ()) -> TextRequest:
        return TextRequest(
            f"{self.seed.seed_id}/{step}",
            kind,
            self.question,
            spoken_answer(self.seed),
            self.seed.target,
            images if self.attach else (),
        )

    def run_image(self) -> None:
        original = load_image(self.seed.image)
        stored, stored_bytes = self._stored(original, self.seed.image)
        self.images.append({"bytes": stored_bytes})
        self.turns.append({"role": "user", "content": "<image>" + self.question + self.config.guidelines})
        if self.plan.trajectory_type is TrajectoryType.TEXT_ONLY:
            self.turns.append(self._final(TextKind.TEXT_ONLY_ANSWER, (stored,)))
            return
        registry = ImageRegistry.from_inputs(self.config.ops, model_images=[stored], originals=[original])
        kind, seen = TextKind.IMAGE_OVERVIEW, (stored,)
        for number, step in enumerate(self.plan.crops):
            arguments = {"bbox_2d": self._call_box(registry, step, original.size), "target_image": step.target_image}
            call = {"type": "function", "function": {"name": CROP_TOOL_NAME, "arguments": json.dumps(arguments)}}
            self.turns.append(
                _AssistantTurn(
                    self.request(f"crop{number}", kind, seen), self._zoom_sentence(kind), call, self._trained(step.role)
                )
            )
            result = self._checked(crop_image(registry, arguments), arguments)
            self._tool_output(result)
            seen = result.images
            kind = {StepRole.WRONG: TextKind.WRONG_CROP, StepRole.OVERSIZED: TextKind.OVERSIZED_CROP}.get(
                step.role, TextKind.CROP_ANSWER
            )
        self.turns.append(self._final(TextKind.CROP_ANSWER, seen))

    def run_video(self) -> None:
        stored = [self._stored(load_image(path), path) for path in self.seed.video]
        video = self.config.video.entry([{"bytes": data} for _, data in stored])
        self.videos.append(video)
        self.turns.append({"role": "user", "content": "<video>" + self.question + self.config.guidelines})
        if self.plan.trajectory_type is TrajectoryType.TEXT_ONLY:
            self.turns.append(self._final(TextKind.TEXT_ONLY_ANSWER, tuple(image for image, _ in stored)))
            return
        # select_frames picks from the frames RL gives the tools: the row's video through the one video decoder
        registry = ImageRegistry.from_inputs(self.config.ops, video_frames=frames_from_array(load_video(video).frames))
        kind: TextKind = TextKind.VIDEO_OVERVIEW
        seen: tuple[Image.Image, ...] = tuple(image for image, _ in stored)
        for number, step in enumerate(self.plan.frame_steps):
            arguments = {"target_frames": list(step.frames)}
            call = {
                "type": "function",
                "function": {"name": SELECT_FRAMES_TOOL_NAME, "arguments": json.dumps(arguments)},
            }
            sentence = (
                ""
                if self.config.narration == "terse"
                else (f"Now I will select frames {', '.join(map(str, step.frames))} to look closer.")
            )
            self.turns.append(
                _AssistantTurn(self.request(f"frames{number}", kind, seen), sentence, call, self._trained(step.role))
            )
            result = self._checked(select_frames(registry, arguments), arguments)
            self._tool_output(result)
            seen = result.images
            kind = TextKind.WRONG_FRAMES if step.role is StepRole.WRONG else TextKind.FRAMES_ANSWER
        self.turns.append(self._final(TextKind.FRAMES_ANSWER, seen))

    def _final(self, kind: TextKind, seen: tuple[Image.Image, ...]) -> _AssistantTurn:
        return _AssistantTurn(self.request("answer", kind, seen), self.answer_suffix, None, True)

    def _zoom_sentence(self, kind: TextKind) -> str:
        if self.config.narration == "terse":
            return ""
        if kind is TextKind.OVERSIZED_CROP:
            return f"Now I will zoom in further on {self.seed.target}."
        return f"Now I will zoom in to look clearer at {self.seed.target}."

    def _trained(self, role: StepRole) -> bool:
        if role is StepRole.WRONG:
            return False
        return not (role is StepRole.OVERSIZED and self.config.mask_oversized_call)

    def _stored(self, image: Image.Image, path: str | None) -> tuple[Image.Image, bytes]:
        """The input as stored in the row: the file's own bytes, or a copy resized to ``input_max_pixels``."""
        budget = self.config.input_max_pixels
        if budget is None and path is not None:
            return image, Path(path).read_bytes()
        ops = self.config.ops
        resized = resize_to_budget(image, ops.factor, ops.min_pixels, budget or ops.image_max_pixels)
        return resized, encode_png(resized)

    def _call_box(self, registry: ImageRegistry, step: CropStep, original_size: tuple[int, int]) -> list[float]:
        """``bbox_2d`` for ``step`` in the configured convention, relative to its target image."""
        box = step.box
        view = registry.view(step.target_image)
        if step.target_image != 1:
            frame = normalize_box(view.region.as_tuple(), original_size)
            box = round_outward(relative_to(box, frame), self.config.coordinate_decimals)
        return box_in_convention(box, self.config.ops.coordinates, view.view_size, self.config.coordinate_decimals)

    def _checked(self, result: OperationResult, arguments: dict[str, Any]) -> OperationResult:
        if not result.ok:
            raise SynthesisError(f"seed {self.seed.seed_id!r}: planned call {arguments} failed: {result.message}")
        return result

    def _tool_output(self, result: OperationResult) -> None:
        for image in result.images:
            self.images.append({"bytes": encode_png(image)})
        placeholders = "<image>" * len(result.images)
        text = result_text(result, self.config.output_style)
        if self.config.output_style is OutputStyle.PIXEL_REASONER:
            self.turns.append({"role": "user", "content": text + placeholders, "tool_output": True})
        else:
            self.turns.append({"role": "tool", "content": placeholders + text})


def box_in_convention(
    box: NormBox, convention: CoordinateConvention, view_size: tuple[int, int], decimals: int
) -> list[float]:
    """Write a normalized box as the tool reads it; integer conventions round outward."""
    if convention in (CoordinateConvention.AUTO, CoordinateConvention.NORMALIZED):
        return [round(value, decimals) for value in box]
    scale_x, scale_y = (1000, 1000) if convention is CoordinateConvention.RELATIVE1000 else view_size
    return [
        math.floor(box[0] * scale_x),
        math.floor(box[1] * scale_y),
        math.ceil(box[2] * scale_x),
        math.ceil(box[3] * scale_y),
    ]


def encode_png(image: Image.Image) -> bytes:
    """PNG bytes of ``image`` (lossless: the small text the crops show must stay legible)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
