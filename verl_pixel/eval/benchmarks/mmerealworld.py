"""MME-RealWorld and MME-RealWorld-Lite (``mmerealworld``): multiple-choice questions (A-E) on large real images.

Source: Zhang et al., "MME-RealWorld: Could Your Multimodal LLM Challenge High-Resolution Real-World Scenarios
that are Difficult for Humans?", ICLR 2025 (arXiv 2408.13257); data ``yifanzhang114/MME-RealWorld`` (29,429
questions, 5 domains, 43 subtasks) and its Lite subset on the HF hub. Metric: accuracy, the fraction of questions
whose chosen letter is ``Ground truth`` (the authors' script matches the option letter). Papers mix the full set
and Lite: say which one a report is on (name the output parquet and the run after it).

Expected layout, one of:

1. the authors' JSON release::

       <root>/MME_RealWorld.json  (or MME_RealWorld_Lite.json / MME-RealWorld-Lite.json; or <root> = the file)
           [{"Question_id": "perception/remote_sensing/color/0001", "Image": "remote_sensing/03553_Toronto.png",
             "Text": "...", "Answer choices": ["(A) white", "(B) red", ...], "Ground truth": "A",
             "Task": "Perception", "Subtask": "Remote Sensing", "Category": "color"}, ...]
       <image_root>/remote_sensing/03553_Toronto.png ...   (``<image_root>`` defaults to the JSON's folder)

2. a table of VLMEvalKit's columns, ``index, question, A..E, answer, category, image`` (base64), as
   ``MME-RealWorld.tsv`` / ``MME-RealWorld-Lite.tsv`` (or parquet);
3. the published Lite table ``mme_realworld_lite.tsv`` (``yifanzhang114/MME-RealWorld-Base64``), whose options are
   one ``multi-choice options`` column holding the list ``["(A) ...", "(B) ...", ...]`` and no ``A``-``E`` columns
   (VLMEvalKit's ``MMERealWorld`` builds them with ``eval(item["multi-choice options"])[i][4:]``);
4. the lmms-eval Lite copy ``<root>/data/train-*.parquet`` (``yifanzhang114/MME-RealWorld-lite-lmms-eval``): the same
   ``multi-choice options`` (a list), the image base64 in a ``bytes`` column (lmms-eval ``mme_realworld/utils.py``).

Category: ``Task/Subtask`` (``Perception/Remote Sensing``; the tables' ``category`` column already reads so, e.g.
``Perception/Monitoring``), so the report gives Perception and Reasoning apart (the official script reports per
Task, per Subtask and overall; subtasks of the same name exist under both tasks).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from verl_pixel.constants import OPTION_LETTERS
from verl_pixel.eval.benchmarks.mcq_table import load_mcq_table
from verl_pixel.eval.benchmarks.source_files import field, image_file, read_json_list, record_context, table_columns
from verl_pixel.eval.samples import EvalSample, ImageInput, PreprocessError, multiple_choice_letter
from verl_pixel.reward.scoring.ground_truth import AnswerType

NAME = "mmerealworld"
JSON_NAMES = ("MME_RealWorld.json", "MME_RealWorld_Lite.json", "MME-RealWorld-Lite.json", "MME-RealWorld.json")
TABLE_NAMES = (
    "MME-RealWorld.tsv",
    "MME-RealWorld-Lite.tsv",
    "mme_realworld_lite.tsv",
    "MME-RealWorld.parquet",
    "MME-RealWorld-Lite.parquet",
)
LMMS_EVAL_PARQUETS = "data/train-*.parquet"
OPTION_COLUMNS = ("A", "B", "C", "D", "E")
OPTIONS_LIST_COLUMN = "multi-choice options"
LAYOUT = (
    f"<root>/{JSON_NAMES[0]} with images under <image_root>/<Image>, <root>/{TABLE_NAMES[0]} (VLMEvalKit), "
    f"<root>/mme_realworld_lite.tsv, or <root>/{LMMS_EVAL_PARQUETS} (lmms-eval Lite)"
)
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
        category="/".join(str(record[key]) for key in ("Task", "Subtask") if record.get(key)),
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
        return _load_table(path)
    shards = sorted(root.glob(LMMS_EVAL_PARQUETS)) if root.is_dir() else []
    if shards:
        return [sample for shard in shards for sample in _load_table(shard)]
    raise PreprocessError(f"no MME-RealWorld file in {root}; expected layout: {LAYOUT}")


def _load_table(path: Path) -> list[EvalSample]:
    """A table with ``A``-``E`` columns, or with the ``multi-choice options`` list (and maybe a ``bytes`` image)."""
    columns = table_columns(path)
    if OPTION_COLUMNS[0] in columns or OPTIONS_LIST_COLUMN not in columns:
        return load_mcq_table(path, NAME, OPTION_COLUMNS, category_column="category")
    image_column = "image" if "image" in columns else "bytes"
    cells = (OPTIONS_LIST_COLUMN, option_list_cells)
    return load_mcq_table(path, NAME, OPTION_COLUMNS, "category", option_cells=cells, image_column=image_column)


def option_list_cells(row: Mapping[str, Any]) -> dict[str, str]:
    """``{"A": "white", ...}`` from a ``multi-choice options`` cell: a list, or its Python / JSON text.

    Raises:
        ValueError: naming the field, for a cell that is not a list of options.
    """
    cell = row.get(OPTIONS_LIST_COLUMN)
    if isinstance(cell, str):
        try:
            cell = ast.literal_eval(cell.strip())
        except (ValueError, SyntaxError) as err:
            raise ValueError(f"field {OPTIONS_LIST_COLUMN!r}: not a list ({err})") from None
    if hasattr(cell, "tolist"):
        cell = cell.tolist()
    if not isinstance(cell, (list, tuple)) or not 2 <= len(cell) <= len(OPTION_COLUMNS):
        raise ValueError(f"field {OPTIONS_LIST_COLUMN!r}: expected a list of 2 to 5 options, got {cell!r:.120}")
    return {OPTION_COLUMNS[i]: strip_choice_label(str(option), i) for i, option in enumerate(cell)}
