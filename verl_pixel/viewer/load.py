"""Building trajectory views from files: an SFT parquet, or a verl rollout dump (optionally joined to its data)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from verl_pixel.data.parquet_io import read_rows
from verl_pixel.ops import VisualOpsConfig
from verl_pixel.viewer.model import TrajectoryView
from verl_pixel.viewer.rollout_dump import RowJoin, find_dump_file, read_dump, rollout_view
from verl_pixel.viewer.sft_rows import sft_row_view

logger = logging.getLogger(__name__)


def load_sft_views(
    path: str | os.PathLike, config: VisualOpsConfig, start: int = 0, limit: int | None = None
) -> list[TrajectoryView]:
    """Views of the SFT rows ``start .. start + limit`` of a parquet in the project's schema."""
    rows = read_rows(path, start=start, limit=limit)
    return [sft_row_view(row, start + offset, config) for offset, row in enumerate(rows)]


def load_rollout_views(
    path: str | os.PathLike,
    config: VisualOpsConfig,
    data: str | os.PathLike | None = None,
    step: int | None = None,
    start: int = 0,
    limit: int | None = None,
    index_field: str | None = None,
) -> list[TrajectoryView]:
    """Views of the records of a verl rollout dump.

    Args:
        path: a ``<step>.jsonl`` file, or the dump folder (``trainer.rollout_data_dir``).
        config: the run's visual-operation config.
        data: the RL parquet the run read, for the input images (None: placeholders).
        step: which step's file to read from a folder (the latest when None).
        start: first record.
        limit: most records.
        index_field: a dump field naming the data row (None: join by the prompt's question text).
    """
    dump_file = find_dump_file(Path(path), step)
    records = read_dump(dump_file, start=start, limit=limit)
    images = RowJoin(Path(data), index_field).images(records) if data is not None else [None] * len(records)
    missing = sum(found is None for found in images)
    if data is not None and missing:
        logger.warning("%d of %d records matched no row of %s", missing, len(records), data)
    return [
        rollout_view(record, start + offset, config, found)
        for offset, (record, found) in enumerate(zip(records, images, strict=True))
    ]
