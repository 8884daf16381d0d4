"""InfographicVQA validation split (``infovqa``): open questions on infographics, scored by ANLS.

Source: Mathew et al., "InfographicVQA", WACV 2022 (arXiv 2104.12756); data from the Robust Reading Competition
(rrc.cvc.uab.es, Document VQA task 3), mirrored as the ``InfographicVQA`` config of ``lmms-lab/DocVQA`` on the HF
hub. Metric: ANLS with tau = 0.5 (Biten et al., "Scene Text Visual Question Answering", ICCV 2019), the mean over
questions of the best normalized Levenshtein similarity to any ground-truth answer (see
:mod:`verl_pixel.reward.scoring.anls`). The test answers are withheld, so papers report the validation split (2,801).
Pixel Reasoner scores it by exact match instead (its ``rule_reward``; no ANLS in its code), so each result also
carries that score (``scores["exact_match"]``, :mod:`verl_pixel.reward.scoring.exact_match`) and the report gives
both, labelled.

Expected layout, either of:

1. the RRC release::

       <root>/infographicsVQA_val_v1.0_withQT.json   {"dataset_split": "val", "data": [{"questionId": 65718,
                                                      "question": "...", "image_local_name": "37313.jpeg",
                                                      "answers": ["..."], ...}, ...]}
       <root>/infographicsvqa_images/37313.jpeg       (or <image_root>/, default: that folder, else <root>/images/)

2. the HF parquet mirror: ``<root>/InfographicVQA/validation-*.parquet`` (or ``<root>/validation-*.parquet``, or
   one ``.parquet`` file) with columns ``questionId``, ``question``, ``answers`` (list), ``image`` ({"bytes"}).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from verl_pixel.eval.benchmarks.source_files import (
    embedded_image_bytes,
    field,
    image_file,
    read_json_list,
    read_table,
    record_context,
)
from verl_pixel.eval.samples import EvalSample, ImageInput, PreprocessError
from verl_pixel.reward.scoring.ground_truth import AnswerType

NAME = "infovqa"
JSON_NAMES = (
    "infographicsVQA_val_v1.0_withQT.json",
    "infographicVQA_val_v1.0_withQT.json",
    "infographicsVQA_val_v1.0.json",
    "infographicVQA_val_v1.0.json",
)
IMAGE_FOLDERS = ("infographicsvqa_images", "images")
PARQUET_PATTERNS = ("InfographicVQA/validation-*.parquet", "validation-*.parquet")
LAYOUT = (
    f"<root>/{JSON_NAMES[0]} with images in <root>/infographicsvqa_images/, "
    "or <root>/InfographicVQA/validation-*.parquet (lmms-lab/DocVQA)"
)


def _answers(value: Any) -> tuple[str, ...]:
    items = list(value) if not isinstance(value, str) and hasattr(value, "__iter__") else [value]
    answers = tuple(str(item).strip() for item in items if item is not None and str(item).strip())
    if not answers:
        raise ValueError(f"field 'answers': expected a non-empty list of answers, got {value!r}")
    return answers


def infovqa_sample(record: Mapping[str, Any], image: ImageInput) -> EvalSample:
    """One question (pure; ``image`` already resolved)."""
    return EvalSample(
        benchmark=NAME,
        sample_id=str(field(record, "questionId")),
        question=str(field(record, "question")),
        answer_type=AnswerType.ANLS.value,
        answers=_answers(field(record, "answers")),
        images=(image,),
    )


def _load_rrc(path: Path, image_root: Path | None) -> list[EvalSample]:
    if image_root is None:
        folders = [path.parent / name for name in IMAGE_FOLDERS if (path.parent / name).is_dir()]
        image_root = folders[0] if folders else path.parent
    samples = []
    for number, record in enumerate(read_json_list(path, key="data")):
        with record_context(path, f"data[{number}] (questionId {record.get('questionId')!r})"):
            image = ImageInput(path=image_file(image_root, record.get("image_local_name"), "image_local_name"))
            samples.append(infovqa_sample(record, image))
    return samples


def _load_parquet(paths: list[Path]) -> list[EvalSample]:
    samples = []
    for path in paths:
        for number, record in enumerate(read_table(path, ["questionId", "question", "answers", "image"])):
            with record_context(path, f"row {number} (questionId {record.get('questionId')!r})"):
                samples.append(infovqa_sample(record, ImageInput(data=embedded_image_bytes(record.get("image")))))
    return samples


def load_infovqa(root: str | Path, image_root: str | Path | None = None) -> list[EvalSample]:
    """Read InfographicVQA val from the RRC release or the HF parquet mirror (layout in the module docstring).

    Raises:
        PreprocessError: for missing files, fields or images, naming the file, the item and the field.
    """
    root = Path(root)
    images = Path(image_root) if image_root is not None else None
    if root.is_file():
        return _load_rrc(root, images) if root.suffix == ".json" else _load_parquet([root])
    for name in JSON_NAMES:
        if (root / name).is_file():
            return _load_rrc(root / name, images)
    for pattern in PARQUET_PATTERNS:
        parquet = sorted(root.glob(pattern))
        if parquet:
            return _load_parquet(parquet)
    raise PreprocessError(f"no InfographicVQA files in {root}; expected layout: {LAYOUT}")
