"""One benchmark question in a common form, and its verl RL row (pure: no file access, no verl import).

Every preprocessor (:mod:`verl_pixel.eval.benchmarks`) reads its benchmark's published files into
:class:`EvalSample` s; :func:`eval_row` turns one into the row layout of :mod:`verl_pixel.data.rl_prepare`, so the
same parquet feeds verl's validation (``trainer.val_only=True`` with ``pixel_agent`` and the ``pixel`` reward) and
the standalone endpoint runner::

    data_source   the benchmark name (vstar, hrbench4k, ...): verl's validation metrics are keyed by it; with
                  ``source_per_category``, ``<benchmark>/<category>`` (MVBench: ``mvbench/<task>``)
    prompt        [{"role": "user", "content": "<image>...<image>{question}{options}{guidelines}"}], or for a video
                  question "<video>{question}{options}{guidelines}"
    images        [{"bytes": ...}] or [{"image": path}]; [] for a video question
    videos        [{"video": [frame references], "max_pixels": the input video frame budget}] for a video
                  question (its sampled frames, kept as one video: Pixel Reasoner's MVBench protocol); [] otherwise
    reward_model  {"style": "rule", "ground_truth": {"answer", "answers", "answer_type", "options"}}
    agent_name    "pixel_agent"
    extra_info    {"index", "split", "sample_id", "benchmark", "question", "answer", "answer_type", "category",
                   "num_video_frames"}   (0: no image of the row is a video frame; video questions carry a video)

Multiple-choice answers are option letters; options are listed as ``(A) ...`` lines after the question, as
:func:`verl_pixel.prompts.format_question` writes them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from verl_pixel.constants import NUM_VIDEO_FRAMES_FIELD, OPTION_LETTERS, PIXEL_AGENT_NAME
from verl_pixel.data.video_sampling import VideoBudget
from verl_pixel.ops.config import QWEN2_5_VL_FACTOR, VIDEO_FRAME_MAX_TOKENS
from verl_pixel.prompts import DEFAULT_GUIDELINES, format_question
from verl_pixel.reward.scoring.ground_truth import GroundTruth

IMAGE_PLACEHOLDER = "<image>"
VIDEO_PLACEHOLDER = "<video>"
EVAL_SPLIT = "test"
# A video question's input frames: Pixel Reasoner's 512-token budget of video items (ops.config).
DEFAULT_FRAME_MAX_PIXELS = VIDEO_FRAME_MAX_TOKENS * QWEN2_5_VL_FACTOR**2


class PreprocessError(ValueError):
    """A benchmark file does not have the expected layout; the message names the file, row and field."""


@dataclasses.dataclass(frozen=True)
class ImageInput:
    """One image of a question: encoded bytes, or a path to a file.

    Attributes:
        data: the encoded image (JPEG, PNG, ...) when the benchmark file embeds it.
        path: absolute path of the image file otherwise.
        max_pixels: per-image pixel budget (a video's frames: the frame budget of its video); ``None`` means the
            model's image budget.
    """

    data: bytes | None = None
    path: str | None = None
    max_pixels: int | None = None

    def __post_init__(self) -> None:
        if (self.data is None) == (self.path is None):
            raise ValueError("an ImageInput holds exactly one of data and path")


@dataclasses.dataclass(frozen=True)
class EvalSample:
    """One benchmark question.

    Attributes:
        benchmark: benchmark name (``vstar``, ``hrbench4k``, ...), used as the rows' ``data_source``.
        sample_id: unique within the benchmark; the runner's resume key.
        question: the question text without options.
        answer_type: a :class:`~verl_pixel.reward.scoring.ground_truth.AnswerType` value.
        answers: acceptable answers; for multiple choice exactly one option letter.
        options: option texts in letter order (multiple choice only).
        images: the question's images in prompt order, or a video question's sampled frames in time order.
        num_video_frames: how many of the images are sampled video frames: 0 for image questions, all of them for
            a video question (its row then carries them as one video).
        category: the benchmark's sub-task / category, for per-category breakdowns ("" if none).
    """

    benchmark: str
    sample_id: str
    question: str
    answer_type: str
    answers: tuple[str, ...]
    options: tuple[str, ...] = ()
    images: tuple[ImageInput, ...] = ()
    num_video_frames: int = 0
    category: str = ""

    def __post_init__(self) -> None:
        if not self.images:
            raise ValueError("the question has no image")
        if not self.question.strip():
            raise ValueError("field 'question' is empty")
        if self.num_video_frames not in (0, len(self.images)):
            raise ValueError(f"num_video_frames {self.num_video_frames} must be 0 or the image count")
        # The reward's own validation: a ground truth it cannot score must not reach a parquet file.
        GroundTruth.from_mapping(self.ground_truth())

    def question_text(self) -> str:
        """The question as shown to the model (the same layout as the training data)."""
        return format_question(self.question, self.options)

    def ground_truth(self) -> dict[str, Any]:
        """The reward's ground-truth mapping, with the same keys for every row so parquet stores one struct."""
        return {
            "answer": self.answers[0] if self.answers else "",
            "answers": list(self.answers),
            "answer_type": self.answer_type,
            "options": list(self.options),
        }


@dataclasses.dataclass(frozen=True)
class EvalRowConfig:
    r"""How samples become rows.

    Attributes:
        guidelines: text appended to the question (Pixel Reasoner's, asking for ``\boxed{}``).
        system_prompt: optional system message (none by default; the runner and verl add the tool block).
        agent_name: verl agent loop named in each row.
        split: recorded in ``extra_info.split``.
        video_layout: how a video question's frames are written: ``video`` (one ``<video>``, the default: verl
            shows it as a video, the endpoint runner as its frames) or ``frames`` (``<image>`` per frame with
            ``extra_info.num_video_frames``: both show the frames as images 1..F, so selected frames are numbered
            from F + 1 on both sides).
        source_per_category: ``data_source`` is ``<benchmark>/<category>`` for questions with a category, so that
            verl's validation, which aggregates by ``data_source``, reports each category (MVBench: each task)
            with its accuracy and TUR; :func:`verl_pixel.eval.verl_native.summaries_from_val_metrics` folds them
            back into the benchmark.
        video: the per-frame pixel bounds written on a video question's ``videos`` entry; ``None`` (default):
            the frames' own budget as the loader set it (MVBench: ``frame_max_pixels``, 512 tokens by default).
    """

    guidelines: str = DEFAULT_GUIDELINES
    system_prompt: str | None = None
    agent_name: str = PIXEL_AGENT_NAME
    split: str = EVAL_SPLIT
    video_layout: Literal["video", "frames"] = "video"
    source_per_category: bool = False
    video: VideoBudget | None = None

    def __post_init__(self) -> None:
        if self.video_layout not in ("video", "frames"):
            raise ValueError(f"video_layout must be 'video' or 'frames', got {self.video_layout!r}")


def multiple_choice_letter(answer: Any, num_options: int, field: str = "answer") -> str:
    """Validate a multiple-choice answer given as a letter (``B`` or ``(B)``) and return the bare letter.

    Raises:
        ValueError: naming ``field``, if it is not one of the first ``num_options`` letters.
    """
    text = str(answer).strip().strip("()").strip()
    allowed = OPTION_LETTERS[:num_options]
    if len(text) != 1 or text.upper() not in allowed:
        raise ValueError(f"field {field!r}: bad answer letter {answer!r} (options {allowed[0]}-{allowed[-1]})")
    return text.upper()


def option_letter_of(answer_text: str, options: Sequence[str], field: str = "answer") -> str:
    """The letter of the option whose text equals ``answer_text`` (MVBench gives the answer as option text).

    Raises:
        ValueError: naming ``field``, if no option or several options have that text.
    """
    matches = [i for i, option in enumerate(options) if option.strip() == str(answer_text).strip()]
    if len(matches) != 1:
        raise ValueError(f"field {field!r}: {answer_text!r} matches {len(matches)} of the options {list(options)}")
    return OPTION_LETTERS[matches[0]]


def image_ref(image: ImageInput) -> dict[str, Any]:
    """The ``images`` entry of one image (``bytes`` as the HF Image feature stores it, or an ``image`` path)."""
    ref: dict[str, Any] = {"bytes": image.data} if image.data is not None else {"image": str(Path(image.path))}
    if image.max_pixels is not None:
        ref["max_pixels"] = int(image.max_pixels)
    return ref


def eval_row(sample: EvalSample, index: int, config: EvalRowConfig | None = None) -> dict[str, Any]:
    """The verl RL row of one sample (layout in the module docstring)."""
    config = config or EvalRowConfig()
    images: list[dict[str, Any]] = []
    videos: list[dict[str, Any]] = []
    frame_images = sample.num_video_frames if config.video_layout == "frames" else 0
    if sample.num_video_frames and not frame_images:
        frames = [image_ref(dataclasses.replace(image, max_pixels=None)) for image in sample.images]
        budget = {image.max_pixels for image in sample.images} - {None}
        own = VideoBudget(max_pixels=int(budget.pop())) if len(budget) == 1 else VideoBudget(max_pixels=None)
        videos.append((config.video or own).entry(frames))
        placeholders = VIDEO_PLACEHOLDER
    else:
        images = [image_ref(image) for image in sample.images]
        placeholders = IMAGE_PLACEHOLDER * len(sample.images)
    prompt = [{"role": "user", "content": placeholders + sample.question_text() + config.guidelines}]
    if config.system_prompt:
        prompt.insert(0, {"role": "system", "content": config.system_prompt})
    per_category = config.source_per_category and sample.category
    return {
        "data_source": f"{sample.benchmark}/{sample.category}" if per_category else sample.benchmark,
        "prompt": prompt,
        "images": images,
        "videos": videos,
        "reward_model": {"style": "rule", "ground_truth": sample.ground_truth()},
        "agent_name": config.agent_name,
        "extra_info": {
            "index": index,
            "split": config.split,
            "sample_id": sample.sample_id,
            "benchmark": sample.benchmark,
            "question": sample.question,
            "answer": sample.answers[0],
            "answer_type": sample.answer_type,
            "category": sample.category,
            NUM_VIDEO_FRAMES_FIELD: frame_images,  # in the video layout, a video question's frames are no images
        },
    }


def eval_rows(samples: Sequence[EvalSample], config: EvalRowConfig | None = None) -> list[dict[str, Any]]:
    """Rows of all samples, indexed in order.

    Raises:
        PreprocessError: if two samples share a ``sample_id`` (the runner's resume key must be unique).
    """
    seen: set[str] = set()
    for sample in samples:
        if sample.sample_id in seen:
            raise PreprocessError(f"{sample.benchmark}: duplicate sample id {sample.sample_id!r}")
        seen.add(sample.sample_id)
    return [eval_row(sample, index, config) for index, sample in enumerate(samples)]
