r"""The analysis text of synthesized trajectories: requests, the writer interface, and the template writer.

The synthesizer owns the structure (tool calls, the "zoom in" sentence, the final ``\boxed{}``); a writer only
fills in the free text of each step. :class:`TemplateWriter` is deterministic and offline; any object with
``write_many(requests) -> list[str]`` (e.g. :class:`~verl_pixel.data.endpoint_writer.EndpointWriter`) can replace it.
Writer output is sanitized: placeholders, special tokens, tool-call tags and ``\boxed`` are removed, so a writer
cannot break the row schema or plant a second answer.
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Sequence
from enum import Enum
from typing import Any, Protocol


class TextKind(str, Enum):
    """Which step of a trajectory a text is for."""

    IMAGE_OVERVIEW = "image_overview"  # whole-image analysis before the first crop
    WRONG_CROP = "wrong_crop"  # after a crop that misses the cue
    OVERSIZED_CROP = "oversized_crop"  # after a crop that contains the cue but is too large
    CROP_ANSWER = "crop_answer"  # analysis of the correct crop, leading to the answer
    VIDEO_OVERVIEW = "video_overview"  # whole-video analysis before the first selection
    WRONG_FRAMES = "wrong_frames"  # after frames that miss the cue
    FRAMES_ANSWER = "frames_answer"  # analysis of the right frames, leading to the answer
    TEXT_ONLY_ANSWER = "text_only_answer"  # answer from the whole image / video, no operation


@dataclasses.dataclass(frozen=True, eq=False)
class TextRequest:
    """What a writer gets for one step.

    Attributes:
        request_id: stable id (``seed_id/step``); the template writer seeds its phrasing with it.
        kind: the step.
        question: the question as the model sees it.
        answer: the correct answer as spoken (an option's text for multiple choice).
        target: noun phrase naming the cue.
        images: what the model has just seen at this step (for VLM writers; may be empty).
    """

    request_id: str
    kind: TextKind
    question: str
    answer: str
    target: str
    images: tuple[Any, ...] = ()


class AnalysisWriter(Protocol):
    """Writes the free text of trajectory steps."""

    wants_images: bool

    def write_many(self, requests: Sequence[TextRequest]) -> list[str]:
        """One text per request, in order."""
        ...


_TEMPLATES: dict[TextKind, tuple[str, ...]] = {
    TextKind.IMAGE_OVERVIEW: (
        "The image is a large, detailed scene. To answer, I need {target}, but at this scale it is only a few "
        "pixels across and its details are not legible.",
        "Looking at the whole image, {target} is very small compared with the rest of the scene, so I cannot read "
        "the detail the question asks about.",
        "The question depends on {target}. In the full view it is too small to make out reliably.",
    ),
    TextKind.WRONG_CROP: (
        "This region does not contain {target}; it shows other parts of the scene. I picked the wrong area and need "
        "to look elsewhere.",
        "{Target} is not in this crop. The region I chose misses it, so I will choose a different one.",
    ),
    TextKind.OVERSIZED_CROP: (
        "This crop contains {target}, but the region is still too large: {target} remains too small to read.",
        "{Target} is inside this crop, yet the crop covers so much that the detail is still not legible.",
    ),
    TextKind.CROP_ANSWER: (
        "In the zoomed image, {target} is clearly visible, and it shows {answer}.",
        "Now {target} is legible: it shows {answer}.",
    ),
    TextKind.VIDEO_OVERVIEW: (
        "The video shows a mostly unchanging scene. {Target} appears only in a few frames, so I need to inspect "
        "those frames closely.",
        "To answer, I need {target}, which is visible only briefly in the video.",
    ),
    TextKind.WRONG_FRAMES: (
        "These frames do not show {target}. I should check a different part of the video.",
        "{Target} does not appear in the frames I selected; I need other frames.",
    ),
    TextKind.FRAMES_ANSWER: (
        "In the selected frames {target} is clearly visible, and it shows {answer}.",
        "The selected frames show {target} clearly: {answer}.",
    ),
    TextKind.TEXT_ONLY_ANSWER: (
        "Looking at the whole input, {target} is visible without zooming in, and it shows {answer}.",
        "{Target} can be seen directly: {answer}.",
    ),
}

# ``narration: terse`` (SynthesisConfig): no analysis before an operation, the spoken answer before the letter.
_TERSE_TEMPLATES: dict[TextKind, tuple[str, ...]] = {
    TextKind.IMAGE_OVERVIEW: ("",),
    TextKind.WRONG_CROP: ("Not here.",),
    TextKind.OVERSIZED_CROP: ("Still too small.",),
    TextKind.CROP_ANSWER: ("{Answer}.",),
    TextKind.VIDEO_OVERVIEW: ("",),
    TextKind.WRONG_FRAMES: ("Not here.",),
    TextKind.FRAMES_ANSWER: ("{Answer}.",),
    TextKind.TEXT_ONLY_ANSWER: ("{Answer}.",),
}
NARRATION_TEMPLATES = {"full": _TEMPLATES, "terse": _TERSE_TEMPLATES}

_REMOVED = re.compile(r"<image>|<video>|<\|[^|>]*\|>|</?tool_call>|</?tool_response>|</?think>")
_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")


def sanitize_text(text: str) -> str:
    r"""Remove what a writer must not emit (placeholders, special tokens, tool tags, ``\boxed``); trim spaces."""
    text = _BOXED.sub(r"\1", _REMOVED.sub("", text))
    return re.sub(r"[ \t]+", " ", text).strip()


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


@dataclasses.dataclass(frozen=True)
class TemplateWriter:
    """Deterministic phrasing from fixed templates; the variant is chosen by ``(seed, request_id)``.

    ``narration`` picks the template set (:data:`NARRATION_TEMPLATES`: ``full`` or ``terse``).
    """

    seed: int = 0
    wants_images: bool = False
    narration: str = "full"

    def write(self, request: TextRequest) -> str:
        """The text of one request."""
        variants = NARRATION_TEMPLATES[self.narration][request.kind]
        variant = random.Random(f"{self.seed}:{request.request_id}").choice(variants)
        target, answer = request.target, request.answer
        return sanitize_text(
            variant.format(target=target, Target=_capitalize(target), answer=answer, Answer=_capitalize(answer))
        )

    def write_many(self, requests: Sequence[TextRequest]) -> list[str]:
        """Texts of all requests, in order."""
        return [self.write(request) for request in requests]
