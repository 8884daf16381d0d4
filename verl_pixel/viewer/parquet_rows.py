"""Reading parquet rows as plain Python values (lists, dicts, bytes), without loading unneeded image bytes."""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from typing import Any

import pyarrow.parquet as pq

_BATCH_ROWS = 256


def read_rows(
    path: str | os.PathLike, start: int = 0, limit: int | None = None, columns: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Rows ``start .. start + limit`` (all rows after ``start`` when ``limit`` is None).

    Args:
        path: the parquet file.
        start: first row position.
        limit: most rows returned.
        columns: columns to read (all when None).
    """
    wanted = range(start, start + limit) if limit is not None else None
    rows: list[dict[str, Any]] = []
    position = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=_BATCH_ROWS, columns=columns):
        if position + batch.num_rows > start:
            first = max(start - position, 0)
            rows += batch.slice(first).to_pylist()
        position += batch.num_rows
        if wanted is not None and len(rows) >= len(wanted):
            return rows[: len(wanted)]
    return rows


def read_rows_at(
    path: str | os.PathLike, positions: Collection[int], columns: Sequence[str] | None = None
) -> dict[int, dict[str, Any]]:
    """The rows at ``positions`` (row numbers in the file), keyed by position; batches without one are skipped."""
    wanted = set(positions)
    out: dict[int, dict[str, Any]] = {}
    position = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=_BATCH_ROWS, columns=columns):
        hits = [p for p in wanted if position <= p < position + batch.num_rows]
        for hit in hits:
            out[hit] = batch.slice(hit - position, 1).to_pylist()[0]
        position += batch.num_rows
        if len(out) == len(wanted):
            break
    return out


def column_names(path: str | os.PathLike) -> list[str]:
    """The file's column names."""
    return list(pq.ParquetFile(path).schema_arrow.names)
