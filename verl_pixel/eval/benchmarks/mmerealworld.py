"""MME-RealWorld and MME-RealWorld-Lite (``mmerealworld``): multiple-choice questions (A-E) on large real images.

Source: Zhang et al., "MME-RealWorld: Could Your Multimodal LLM Challenge High-Resolution Real-World Scenarios
that are Difficult for Humans?", ICLR 2025 (arXiv 2408.13257); data ``yifanzhang114/MME-RealWorld`` (29,429
questions, 5 domains, 43 subtasks) and its Lite subset on the HF hub. Metric: accuracy, the fraction of questions
whose chosen letter is ``Ground truth`` (the authors' script matches the option letter). Papers mix the full set
and Lite: say which one a report is on (name the output parquet and the run after it).

Expected layout, either of:

1. the authors' JSON release::

       <root>/MME_RealWorld.json  (or MME_RealWorld_Lite.json / MME-RealWorld-Lite.json; or <root> = the file)
           [{"Question_id": "perception/remote_sensing/color/0001", "Image": "remote_sensing/03553_Toronto.png",
             "Text": "...", "Answer choices": ["(A) white", "(B) red", ...], "Ground truth": "A",
             "Task": "Perception", "Subtask": "Remote Sensing", "Category": "color"}, ...]
       <image_root>/remote_sensing/03553_Toronto.png ...   (``<image_root>`` defaults to the JSON's folder)

2. VLMEvalKit's table ``MME-RealWorld.tsv`` / ``MME-RealWorld-Lite.tsv`` (or the same columns as parquet):
   ``index, question, A, B, C, D, E, answer, category, image`` (base64).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from verl_pixel.constants import OPTION_LETTERS
from verl_pixel.eval.benchmarks.mcq_table import load_mcq_table
from verl_pixel.eval.benchmarks.source_files import field, image_file, read_json_list, record_context
from verl_pixel.eval.samples import EvalSample, ImageInput, PreprocessError, multiple_choice_letter
from verl_pixel.reward.scoring.ground_truth import AnswerType

NAME = "mmerealworld"
JSON_NAMES = ("MME_RealWorld.json", "MME_RealWorld_Lite.json", "MME-RealWorld-Lite.json", "MME-RealWorld.json")
TABLE_NAMES = ("MME-RealWorld.tsv", "MME-RealWorld-Lite.tsv", "MME-RealWorld.parquet", "MME-RealWorld-Lite.parquet")
OPTION_COLUMNS = ("A", "B", "C", "D", "E")
LAYOUT = f"<root>/{JSON_NAMES[0]} with images under <image_root>/<Image>, or <root>/{TABLE_NAMES[0]} (VLMEvalKit)"
_LABEL = re.compile(r"^\s*\(?([A-Z])\)?\s*[.):]?\s+")


def strip_choice_label(choice: str, position: int) -> str:
    """``"(B) red"`` -> ``"red"`` when the label is the choice's own letter (a different label is kept)."""
    match = _LABEL.match(choice)
    if match and match.group(1) == OPTION_LETTERS[position]:
        return choice[match.end() :].strip()
    return choice.strip()


def mme_sample(record: Mapping[str, Any], image: str) -> EvalSample:
    """One question from the JSON release (pure; ``image`` already resolved).

    Raises:
        ValueError: naming the field, for missing fields, bad choices or a bad ground-truth letter.
    """
    choices = field(record, "Answer choices")
    if isinstance(choices, str) or not 2 <= len(choices) <= len(OPTION_LETTERS):
        raise ValueError(f"field 'Answer choices': expected a list of 2 to 26 choices, got {choices!r}")
    options = tuple(strip_choice_label(str(choice), i) for i, choice in enumerate(choices))
    return EvalSample(
        benchmark=NAME,
        sample_id=str(field(record, "Question_id")),
        question=str(field(record, "Text")),
        answer_type=AnswerType.MULTIPLE_CHOICE.value,
        answers=(multiple_choice_letter(field(record, "Ground truth"), len(options), "Ground truth"),),
        options=options,
        images=(ImageInput(path=image),),
        category=str(record.get("Subtask") or ""),
    )


def _load_json(path: Path, image_root: Path | None) -> list[EvalSample]:
    images = image_root if image_root is not None else path.parent
    samples = []
    for number, record in enumerate(read_json_list(path)):
        with record_context(path, f"item {number} (Question_id {record.get('Question_id')!r})"):
            samples.append(mme_sample(record, image_file(images, record.get("Image"), "Image")))
    return samples


def load_mmerealworld(root: str | Path, image_root: str | Path | None = None) -> list[EvalSample]:
    """Read MME-RealWorld(-Lite) from the JSON release or a VLMEvalKit table (layout in the module docstring).

    Raises:
        PreprocessError: for missing files, fields or images, naming the file, the item and the field.
    """
    root = Path(root)
    images = Path(image_root) if image_root is not None else None
    candidates = [root] if root.is_file() else [root / name for name in (*JSON_NAMES, *TABLE_NAMES)]
    for path in candidates:
        if not path.is_file():
            continue
        if path.suffix == ".json":
            return _load_json(path, images)
        return load_mcq_table(path, NAME, OPTION_COLUMNS, category_column="category")
    raise PreprocessError(f"no MME-RealWorld file in {root}; expected layout: {LAYOUT}")
