"""Multiple-choice tables in VLMEvalKit's layout (HR-Bench's parquet files, VLMEvalKit TSVs).

One row per question: ``index``, ``question``, option columns ``A``, ``B``, ... (trailing ones may be empty when a
question has fewer options), ``answer`` (the correct letter), ``image`` (base64-encoded image, or raw bytes), and
optionally a category column. VLMEvalKit de-duplicates images in some TSVs by writing, in the ``image`` cell of a
repeated image, the ``index`` of the row that holds it; such short all-digit cells are resolved.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from verl_pixel.eval.benchmarks.source_files import embedded_image_bytes, field, read_table, record_context
from verl_pixel.eval.samples import EvalSample, ImageInput, multiple_choice_letter
from verl_pixel.reward.scoring.ground_truth import AnswerType

# An image reference is an index, never a real base64 image (which is thousands of characters long).
_MAX_REFERENCE_LENGTH = 32


def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and value != value:  # NaN from parquet / pandas
        return True
    return isinstance(value, str) and not value.strip()


def row_options(row: Mapping[str, Any], option_columns: Sequence[str]) -> tuple[str, ...]:
    """The non-empty option cells in letter order.

    Raises:
        ValueError: if an option is empty while a later one is not (options must be A, B, ... without gaps), or
            fewer than two options are given.
    """
    options: list[str] = []
    for column in option_columns:
        value = row.get(column)
        if _is_blank(value):
            continue
        if len(options) != option_columns.index(column):
            raise ValueError(f"field {column!r}: option follows an empty option column")
        options.append(str(value).strip())
    if len(options) < 2:
        raise ValueError(f"fields {list(option_columns)}: need at least 2 options, got {len(options)}")
    return tuple(options)


def _image_cell(row: Mapping[str, Any], by_index: Mapping[str, Any], column: str = "image") -> Any:
    cell = row.get(column)
    if isinstance(cell, str) and cell.strip().isdigit() and len(cell.strip()) <= _MAX_REFERENCE_LENGTH:
        if cell.strip() not in by_index:
            raise ValueError(f"field {column!r}: refers to row index {cell.strip()}, which is not in the table")
        return by_index[cell.strip()]
    return cell


def mcq_sample(
    row: Mapping[str, Any],
    benchmark: str,
    option_columns: Sequence[str],
    image_cell: Any,
    category_column: str | None,
) -> EvalSample:
    """One question from a table row (pure; ``image_cell`` already resolved).

    Raises:
        ValueError: naming the field, for a missing field, bad options, a bad answer letter or image.
    """
    options = row_options(row, option_columns)
    category = str(row.get(category_column) or "") if category_column else ""
    return EvalSample(
        benchmark=benchmark,
        sample_id=str(field(row, "index")),
        question=str(field(row, "question")).strip(),
        answer_type=AnswerType.MULTIPLE_CHOICE.value,
        answers=(multiple_choice_letter(field(row, "answer"), len(options)),),
        options=options,
        images=(ImageInput(data=embedded_image_bytes(image_cell)),),
        category=category,
    )


def load_mcq_table(
    path: Path,
    benchmark: str,
    option_columns: Sequence[str],
    category_column: str | None = "category",
    *,
    option_cells: tuple[str, Callable[[Mapping[str, Any]], Mapping[str, str]]] | None = None,
    image_column: str = "image",
) -> list[EvalSample]:
    """Read every row of a VLMEvalKit-style multiple-choice table.

    Args:
        path: the table.
        benchmark: the rows' benchmark name.
        option_columns: the option columns, in letter order.
        category_column: the column of the category (``None``: none).
        option_cells: for a table without option columns, ``(column, read)``: ``read(row)`` gives the option cells
            (``{"A": ..., "B": ...}``) from ``column``.
        image_column: the column of the base64 image (``bytes`` in lmms-eval's copies).

    Raises:
        PreprocessError: naming the file, the row (by position and ``index``) and the field.
    """
    options_from = [option_cells[0]] if option_cells else list(option_columns[:2])
    rows = read_table(path, ["index", "question", "answer", image_column, *options_from])
    by_index = {str(row["index"]).strip(): row[image_column] for row in rows if not _is_blank(row.get(image_column))}
    samples = []
    for position, row in enumerate(rows):
        with record_context(path, f"row {position} (index {row.get('index')!r})"):
            cells = {**row, **option_cells[1](row)} if option_cells else row
            image = _image_cell(cells, by_index, image_column)
            samples.append(mcq_sample(cells, benchmark, option_columns, image, category_column))
    return samples
