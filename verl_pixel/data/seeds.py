"""Seed annotations: the input of trajectory synthesis and of the RL preprocessor.

One JSON object per line (``seeds.jsonl``); paths are relative to the file's folder unless absolute::

    {"id": "img-0003", "image": "images/img-0003.png", "question": "What is the code on the red tag?",
     "answer": "4071", "answer_type": "number", "bbox": [812, 433, 861, 452], "target": "the red tag",
     "needs_zoom": true, "data_source": "verl_pixel/sample"}
    {"id": "vid-0001", "video": ["frames/vid-0001/01.png", ...], "question": "Which digit flashes?",
     "answer": "7", "answer_type": "number", "frames": [6, 9], "target": "the flashing digit"}
    {"id": "mc-0002", "image": "...", "question": "Which letter is on the blue tag?", "answer": "C",
     "answer_type": "multiple_choice", "options": ["K", "P", "R", "X"], "bbox": [...], "target": "the blue tag"}

Fields: ``bbox`` is ``[x1, y1, x2, y2]`` in pixels of the stored image (the cue); ``frames`` is a 1-based
inclusive ``[first, last]`` window over the listed frames; ``answer_type`` is one of the reward's answer types
(:class:`verl_pixel.reward.scoring.ground_truth.AnswerType` values); multiple-choice answers are the option letter.
``target`` is a short noun phrase naming the cue, used by the template writer; ``needs_zoom`` marks questions that
cannot be answered from the whole image (text-only trajectories prefer seeds with ``needs_zoom: false``).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Any

from verl_pixel.constants import OPTION_LETTERS
from verl_pixel.prompts import format_question

ANSWER_TYPES = ("multiple_choice", "number", "short_text", "anls", "math")


class Modality(str, Enum):
    """What a seed shows the model."""

    IMAGE = "image"
    VIDEO = "video"


class SeedError(ValueError):
    """A seed annotation is malformed; the message names the seed and the field."""


@dataclasses.dataclass(frozen=True)
class SeedAnnotation:
    """One annotated question about an image or a video.

    Attributes:
        seed_id: unique name of the seed.
        question: the question text (without options).
        answer: the correct answer as text (the option letter for multiple choice).
        answer_type: one of :data:`ANSWER_TYPES`.
        image: path of the image (image seeds).
        video: paths of the sampled frames, in order (video seeds).
        bbox: the cue in pixels of the stored image (image seeds).
        frames: 1-based inclusive window of frames showing the cue (video seeds).
        options: option texts, in letter order (multiple choice).
        target: short noun phrase naming the cue (``"the red tag"``).
        needs_zoom: whether the answer is illegible without looking closer.
        data_source: dataset name recorded in the RL rows.
    """

    seed_id: str
    question: str
    answer: str
    answer_type: str
    image: str | None = None
    video: tuple[str, ...] = ()
    bbox: tuple[float, float, float, float] | None = None
    frames: tuple[int, int] | None = None
    options: tuple[str, ...] = ()
    target: str = "the relevant region"
    needs_zoom: bool = True
    data_source: str = "verl_pixel/seeds"

    def __post_init__(self) -> None:
        for problem in seed_problems(self):
            raise SeedError(f"seed {self.seed_id!r}: {problem}")

    @property
    def modality(self) -> Modality:
        """Image or video."""
        return Modality.VIDEO if self.video else Modality.IMAGE

    def question_text(self) -> str:
        """The question as shown to the model (see :func:`format_question`)."""
        return format_question(self.question, self.options)

    def ground_truth(self) -> dict[str, Any]:
        """The reward's ground-truth mapping (uniform keys so parquet stores one struct type)."""
        return {"answer": self.answer, "answer_type": self.answer_type, "options": list(self.options)}

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], base_dir: str | os.PathLike | None = None) -> SeedAnnotation:
        """Parse one JSON object; relative paths are resolved against ``base_dir``.

        Raises:
            SeedError: on a missing or malformed field, naming it.
        """
        seed_id = str(data.get("id", data.get("seed_id", "")))
        unknown = sorted(set(data) - _KNOWN_KEYS)
        if unknown:
            raise SeedError(f"seed {seed_id!r}: unknown fields {unknown}; known: {sorted(_KNOWN_KEYS)}")
        for key in ("question", "answer", "answer_type"):
            if data.get(key) in (None, ""):
                raise SeedError(f"seed {seed_id!r}: field {key!r} is required")
        base = Path(base_dir) if base_dir is not None else None
        return cls(
            seed_id=seed_id,
            question=str(data["question"]),
            answer=str(data["answer"]),
            answer_type=str(data["answer_type"]),
            image=_resolve(data["image"], base) if data.get("image") else None,
            video=tuple(_resolve(frame, base) for frame in data.get("video") or ()),
            bbox=tuple(float(v) for v in data["bbox"]) if data.get("bbox") is not None else None,  # type: ignore[arg-type]
            frames=tuple(int(v) for v in data["frames"]) if data.get("frames") is not None else None,  # type: ignore[arg-type]
            options=tuple(str(option) for option in data.get("options") or ()),
            target=str(data.get("target") or "the relevant region"),
            needs_zoom=bool(data.get("needs_zoom", True)),
            data_source=str(data.get("data_source") or "verl_pixel/seeds"),
        )

    def to_mapping(self, base_dir: str | os.PathLike | None = None) -> dict[str, Any]:
        """The JSON object form; paths are written relative to ``base_dir`` when given."""
        out: dict[str, Any] = {
            "id": self.seed_id,
            "question": self.question,
            "answer": self.answer,
            "answer_type": self.answer_type,
        }
        if self.image:
            out["image"] = _relative(self.image, base_dir)
        if self.video:
            out["video"] = [_relative(frame, base_dir) for frame in self.video]
        if self.bbox is not None:
            out["bbox"] = list(self.bbox)
        if self.frames is not None:
            out["frames"] = list(self.frames)
        if self.options:
            out["options"] = list(self.options)
        out.update(target=self.target, needs_zoom=self.needs_zoom, data_source=self.data_source)
        return out


_KNOWN_KEYS = frozenset(
    {
        "id",
        "seed_id",
        "question",
        "answer",
        "answer_type",
        "image",
        "video",
        "bbox",
        "frames",
        "options",
        "target",
        "needs_zoom",
        "data_source",
    }
)


def seed_problems(seed: SeedAnnotation) -> list[str]:
    """What is wrong with ``seed`` (empty when it is well-formed); file contents are not checked."""
    problems: list[str] = []
    if seed.answer_type not in ANSWER_TYPES:
        problems.append(f"field 'answer_type': {seed.answer_type!r} is not one of {list(ANSWER_TYPES)}")
    if bool(seed.image) == bool(seed.video):
        problems.append("fields 'image'/'video': exactly one of them is required")
    if seed.bbox is not None and not _valid_box(seed.bbox):
        problems.append(f"field 'bbox': need [x1, y1, x2, y2] with 0 <= x1 < x2 and 0 <= y1 < y2, got {seed.bbox}")
    if seed.frames is not None and not _valid_window(seed.frames, len(seed.video)):
        problems.append(f"field 'frames': need 1 <= first <= last <= {len(seed.video)}, got {list(seed.frames)}")
    if seed.answer_type == "multiple_choice":
        if not 2 <= len(seed.options) <= len(OPTION_LETTERS):
            problems.append(f"field 'options': multiple choice needs 2..26 options, got {len(seed.options)}")
        elif seed.answer not in OPTION_LETTERS[: len(seed.options)]:
            problems.append(f"field 'answer': multiple choice answers are an option letter, got {seed.answer!r}")
    elif seed.options:
        problems.append(f"field 'options': only multiple_choice seeds have options, not {seed.answer_type}")
    return problems


def _valid_box(box: Sequence[float]) -> bool:
    return len(box) == 4 and 0 <= box[0] < box[2] and 0 <= box[1] < box[3]


def _valid_window(frames: Sequence[int], n_frames: int) -> bool:
    return len(frames) == 2 and 1 <= frames[0] <= frames[1] <= n_frames


def read_seeds(path: str | os.PathLike) -> list[SeedAnnotation]:
    """Read a ``seeds.jsonl`` file (blank lines skipped).

    Raises:
        SeedError: naming the line number and the field of the first malformed seed.
    """
    source = Path(path)
    seeds: list[SeedAnnotation] = []
    for number, line in enumerate(source.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            seeds.append(SeedAnnotation.from_mapping(json.loads(line), base_dir=source.parent))
        except (json.JSONDecodeError, SeedError, TypeError, ValueError) as err:
            raise SeedError(f"{source}:{number}: {err}") from err
    return seeds


def write_seeds(seeds: Iterable[SeedAnnotation], path: str | os.PathLike) -> Path:
    """Write seeds as JSON lines with paths relative to the file's folder."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(seed.to_mapping(base_dir=out.parent)) for seed in seeds]
    out.write_text("\n".join(lines) + "\n")
    return out


def _resolve(path: str, base: Path | None) -> str:
    candidate = Path(path)
    if candidate.is_absolute() or base is None:
        return str(candidate)
    return str((base / candidate).resolve())


def _relative(path: str, base_dir: str | os.PathLike | None) -> str:
    if base_dir is None:
        return path
    try:
        return str(Path(path).resolve().relative_to(Path(base_dir).resolve()))
    except ValueError:
        return path


def frame_window(seed: SeedAnnotation) -> Sequence[int]:
    """The 1-based frame numbers of the seed's window (all frames when it has none)."""
    first, last = seed.frames if seed.frames is not None else (1, len(seed.video))
    return range(first, last + 1)
