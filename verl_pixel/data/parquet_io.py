"""Parquet I/O: the one reader of parquet rows, and the writers of SFT and RL rows.

**Reading** (:func:`iter_rows`, :func:`read_rows`, :func:`read_rows_at`): rows come back as plain Python values
(lists, dicts, bytes; no numpy arrays), streamed in batches so unneeded image bytes are never held at once. A
missing file is a one-line ``FileNotFoundError``; a row that cannot be decoded (text that is not valid UTF-8) is a
:class:`~verl_pixel.data.sft_schema.RowError` naming the file, the row and the column, instead of pyarrow's
error for the whole file.

**Writing** (atomic: a temporary file renamed into place, so a failed write leaves no half-written file):
Parquet stores one struct type per column, infers it from the values, and cannot store an empty struct. So:

* every message carries the same keys (:data:`~verl_pixel.data.sft_schema.MESSAGE_KEYS`; absent ones are null);
* tool-call ``arguments`` are JSON text (their keys differ per tool and may be empty);
* the ``tools`` column is JSON text (the schemas of different tools have different property structs, which
  parquet would merge into one struct padded with nulls that the chat template would then render).

:class:`~verl_pixel.data.sft_dataset.PixelSFTDataset` decodes the ``tools`` text back; verl's chat template
renders string ``arguments`` verbatim.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from verl_pixel.data.sft_schema import MESSAGE_KEYS, RowError

_BATCH_ROWS = 256


def open_parquet(path: str | os.PathLike) -> pq.ParquetFile:
    """The parquet file at ``path``.

    Raises:
        FileNotFoundError: one line naming the missing file.
        ValueError: the file is not parquet.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"no such parquet file: {path}")
    try:
        return pq.ParquetFile(path)
    except pa.ArrowInvalid as err:
        raise ValueError(f"{path} is not a parquet file: {err}") from err


def num_rows(path: str | os.PathLike) -> int:
    """Rows in the file (from its footer, nothing decoded)."""
    return open_parquet(path).metadata.num_rows


def column_names(path: str | os.PathLike) -> list[str]:
    """The file's column names."""
    return list(open_parquet(path).schema_arrow.names)


def iter_rows(
    path: str | os.PathLike,
    columns: Sequence[str] | None = None,
    start: int = 0,
    limit: int | None = None,
    on_undecodable: Callable[[RowError], None] | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(row number in the file, row)`` for rows ``start .. start + limit`` (all after ``start`` if no limit).

    Args:
        path: the parquet file.
        columns: columns to read (all when None).
        start: first row number.
        limit: most rows.
        on_undecodable: receives the :class:`RowError` of a row that cannot be decoded, which is then skipped;
            without it the error is raised.
    """
    stop = None if limit is None else start + limit
    position = 0
    for batch in open_parquet(path).iter_batches(batch_size=_BATCH_ROWS, columns=columns):
        if stop is not None and position >= stop:
            return
        first = max(start - position, 0)
        last = batch.num_rows if stop is None else min(batch.num_rows, stop - position)
        if first < last:
            yield from _plain_rows(batch.slice(first, last - first), str(path), position + first, on_undecodable)
        position += batch.num_rows


def read_rows(
    path: str | os.PathLike, start: int = 0, limit: int | None = None, columns: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Rows ``start .. start + limit`` as plain values (see :func:`iter_rows`)."""
    return [row for _, row in iter_rows(path, columns=columns, start=start, limit=limit)]


def read_rows_at(
    path: str | os.PathLike, positions: Collection[int], columns: Sequence[str] | None = None
) -> dict[int, dict[str, Any]]:
    """The rows at ``positions`` (row numbers in the file), keyed by position; batches without one are skipped."""
    wanted = set(positions)
    out: dict[int, dict[str, Any]] = {}
    position = 0
    for batch in open_parquet(path).iter_batches(batch_size=_BATCH_ROWS, columns=columns):
        for hit in sorted(p for p in wanted if position <= p < position + batch.num_rows):
            out.update(_plain_rows(batch.slice(hit - position, 1), str(path), hit, None))
        position += batch.num_rows
        if len(out) == len(wanted):
            break
    return out


def _plain_rows(
    batch: pa.RecordBatch, path: str, first: int, on_undecodable: Callable[[RowError], None] | None
) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        rows = batch.to_pylist()
    except (UnicodeDecodeError, pa.ArrowException):
        rows = None  # find the row (and the column) that fails, only on this rare path
    if rows is not None:
        yield from enumerate(rows, start=first)
        return
    for offset in range(batch.num_rows):
        row = batch.slice(offset, 1)
        try:
            yield first + offset, row.to_pylist()[0]
        except (UnicodeDecodeError, pa.ArrowException) as err:
            error = RowError(first + offset, _failing_column(row), f"cannot be decoded ({err})", file=path)
            if on_undecodable is None:
                raise error from err
            on_undecodable(error)


def _failing_column(row: pa.RecordBatch) -> str:
    for name, column in zip(row.schema.names, row.columns, strict=True):
        try:
            column.to_pylist()
        except (UnicodeDecodeError, pa.ArrowException):
            return name
    return "?"


def normalize_message(message: Mapping[str, Any]) -> dict[str, Any]:
    """A message with exactly the schema's keys; tool-call arguments as JSON text."""
    out = {key: message.get(key) for key in MESSAGE_KEYS}
    calls = out["tool_calls"]
    if calls:
        out["tool_calls"] = [_normalize_call(call) for call in calls]
    else:
        out["tool_calls"] = None
    return out


def _normalize_call(call: Mapping[str, Any]) -> dict[str, Any]:
    function = call.get("function", call)
    arguments = function.get("arguments", {})
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    return {"type": call.get("type", "function"), "function": {"name": function["name"], "arguments": arguments}}


def normalize_sft_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row ready for parquet: uniform messages, ``tools`` as JSON text, ``images`` / ``videos`` as lists."""
    out = dict(row)
    out["messages"] = [normalize_message(message) for message in row["messages"]]
    if "tools" in row:  # no column at all when absent: verl's stock class would read a null column as pd.NA
        tools = row["tools"]
        out["tools"] = tools if isinstance(tools, str) or tools is None else json.dumps(list(tools))
    out["images"] = list(row.get("images") or [])
    out["videos"] = list(row.get("videos") or [])
    return out


def write_sft_parquet(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike) -> Path:
    """Write SFT rows (see :mod:`verl_pixel.data.sft_schema`) to ``path`` (parent folders created)."""
    return _write([normalize_sft_row(row) for row in rows], path)


def write_rl_parquet(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike) -> Path:
    """Write RL rows (see :mod:`verl_pixel.data.rl_prepare`) to ``path`` (parent folders created)."""
    return _write([dict(row) for row in rows], path)


def _write(rows: list[dict[str, Any]], path: str | os.PathLike) -> Path:
    """Write atomically: a temporary file next to ``path``, then a rename.

    An interrupted or failed write leaves no file (and an existing one untouched), never half of one.
    """
    if not rows:
        raise ValueError("no rows to write")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(handle)
    try:
        pd.DataFrame(rows).to_parquet(temporary)
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return out
