"""TallyQA, complex split (``tallyqa``): open counting questions, integer answers.

Source: Acharya, Kafle & Kanan, "TallyQA: Answering Complex Counting Questions", AAAI 2019 (arXiv 1810.12440);
data ``tallyqa.zip`` from the authors' GitHub (manoja328/TallyQA), images from Visual Genome and COCO. Metric:
exact-match accuracy of the predicted count (the paper also reports RMSE; Pixel Reasoner reports accuracy on
TallyQA-Complex). Complex questions are those with ``issimple: false``.

Expected layout::

    <root>/test.json            [{"image": "VG_100K_2/2410000.jpg", "answer": 2, "question": "How many ...?",
                                  "question_id": 30000, "image_id": 2410000, "data_source": "imported_genome",
                                  "issimple": false}, ...]
    <image_root>/VG_100K/..., <image_root>/VG_100K_2/..., <image_root>/val2014/...   (the paths in "image")

``<image_root>`` defaults to ``<root>`` (put or link the Visual Genome / COCO folders there). ``<root>`` may also be
the JSON file itself. Rows without ``issimple: false`` are skipped unless ``split="all"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from verl_pixel.eval.benchmarks.source_files import field, find_one, image_file, read_json_list, record_context
from verl_pixel.eval.samples import EvalSample, ImageInput
from verl_pixel.reward.scoring.ground_truth import AnswerType

NAME = "tallyqa"
LAYOUT = "<root>/test.json (TallyQA release) with images under <image_root>/<image>"
TallySplit = Literal["complex", "simple", "all"]


def _count(value: Any) -> str:
    """The answer as an integer string (the release stores ints; a float like 2.0 is accepted)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"field 'answer': expected an integer count, got {value!r}")
    number = float(value)
    if not number.is_integer() or number < 0:
        raise ValueError(f"field 'answer': expected a non-negative integer count, got {value!r}")
    return str(int(number))


def in_split(record: Mapping[str, Any], split: TallySplit) -> bool:
    """Whether the record belongs to ``split`` (by its ``issimple`` flag).

    Raises:
        ValueError: if ``issimple`` is missing or not a boolean and a split is selected.
    """
    if split == "all":
        return True
    flag = record.get("issimple")
    if not isinstance(flag, bool):
        raise ValueError(f"field 'issimple': expected true or false, got {flag!r}")
    return flag == (split == "simple")


def tally_sample(record: Mapping[str, Any], image: str) -> EvalSample:
    """One counting question (pure; ``image`` already resolved)."""
    return EvalSample(
        benchmark=NAME,
        sample_id=str(field(record, "question_id")),
        question=str(field(record, "question")),
        answer_type=AnswerType.NUMBER.value,
        answers=(_count(field(record, "answer")),),
        images=(ImageInput(path=image),),
        category=str(record.get("data_source") or ""),
    )


def load_tallyqa(
    root: str | Path, image_root: str | Path | None = None, split: TallySplit = "complex"
) -> list[EvalSample]:
    """Read the TallyQA test questions of ``split`` (layout in the module docstring).

    Raises:
        PreprocessError: for a missing file, field or image, naming the file, the item and the field.
    """
    path = find_one(Path(root), ("test.json",), LAYOUT)
    images = Path(image_root) if image_root is not None else path.parent
    samples = []
    for number, record in enumerate(read_json_list(path)):
        with record_context(path, f"item {number} (question_id {record.get('question_id')!r})"):
            if in_split(record, split):
                samples.append(tally_sample(record, image_file(images, record.get("image"))))
    return samples
