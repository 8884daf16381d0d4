"""V* Bench (``vstar``): 191 multiple-choice questions on high-resolution images.

Source: Wu & Xie, "V*: Guided Visual Search as a Core Mechanism in Multimodal LLMs", CVPR 2024
(arXiv 2312.14135); data ``craigwu/vstar_bench`` on the HF hub. Metric: accuracy, the fraction of questions whose
chosen option is the correct one (115 attribute questions with 4 options, 76 spatial questions with 2).

Expected layout (a snapshot of the HF dataset repository; ``test_questions.jsonl`` may be present and is unused)::

    <root>/direct_attributes/sa_4690.jpg     the image (.jpg, .jpeg or .png)
    <root>/direct_attributes/sa_4690.json    {"question": "...", "options": ["<correct>", "<other>", ...],
                                              "target_object": [...], "bbox": [...]}
    <root>/relative_position/sa_XXXX.jpg + .json   (same form, 2 options)

Assumption, from the authors' ``vstar_bench_eval.py``: the **first** option of each annotation is the correct one
(their evaluation scores each option's likelihood, so order never mattered to them). A generative model must not see
the answer always at (A), so the correct option is moved to a position fixed by the sample id,
``crc32(sample_id) % len(options)``, the other options keeping their order [ours]; the same files always give the
same letters.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from verl_pixel.constants import OPTION_LETTERS
from verl_pixel.eval.benchmarks.source_files import field, read_json, record_context, require_dir
from verl_pixel.eval.samples import EvalSample, ImageInput, PreprocessError
from verl_pixel.reward.scoring.ground_truth import AnswerType

NAME = "vstar"
CATEGORIES = ("direct_attributes", "relative_position")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
LAYOUT = "<root>/{direct_attributes,relative_position}/<name>.jpg with <name>.json beside it (craigwu/vstar_bench)"


def shuffled_options(options: Sequence[str], sample_id: str) -> tuple[tuple[str, ...], str]:
    """Move the correct (first) option to a position fixed by ``sample_id``.

    Returns:
        The reordered options and the correct option's letter.
    """
    position = zlib.crc32(sample_id.encode("utf-8")) % len(options)
    others = list(options[1:])
    others.insert(position, options[0])
    return tuple(others), OPTION_LETTERS[position]


def sample_from_annotation(annotation: Mapping[str, Any], sample_id: str, category: str, image: str) -> EvalSample:
    """One V* question from its annotation object (pure).

    Raises:
        ValueError: naming the field, for a missing question or fewer than 2 / more than 26 options.
    """
    question = str(field(annotation, "question"))
    options = field(annotation, "options")
    if not isinstance(options, list) or not 2 <= len(options) <= len(OPTION_LETTERS):
        raise ValueError(f"field 'options': expected a list of 2 to 26 option texts, got {options!r}")
    ordered, letter = shuffled_options([str(option) for option in options], sample_id)
    return EvalSample(
        benchmark=NAME,
        sample_id=sample_id,
        question=question,
        answer_type=AnswerType.MULTIPLE_CHOICE.value,
        answers=(letter,),
        options=ordered,
        images=(ImageInput(path=image),),
        category=category,
    )


def load_vstar(root: str | Path) -> list[EvalSample]:
    """Read V* Bench from a snapshot of its repository (layout in the module docstring).

    Raises:
        PreprocessError: for a missing category folder, an image without annotation, or a malformed annotation
            (naming the file and field).
    """
    root = Path(root)
    samples: list[EvalSample] = []
    for category in CATEGORIES:
        folder = require_dir(root / category, LAYOUT)
        images = sorted(path for path in folder.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise PreprocessError(f"{folder}: no images; expected layout: {LAYOUT}")
        for image in images:
            annotation_path = image.with_suffix(".json")
            if not annotation_path.is_file():
                raise PreprocessError(f"{image}: missing annotation file {annotation_path.name}")
            annotation = read_json(annotation_path)
            with record_context(annotation_path, "annotation"):
                if not isinstance(annotation, Mapping):
                    raise ValueError(f"expected a JSON object, got {type(annotation).__name__}")
                sample_id = f"{category}/{image.stem}"
                samples.append(sample_from_annotation(annotation, sample_id, category, str(image.resolve())))
    return samples
