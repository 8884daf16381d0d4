"""Trajectory synthesis from seed annotations (METHOD.md §4): plan, run the operations, write the text, validate.

    seeds = read_seeds("seeds.jsonl")
    result = synthesize(seeds, SynthesisConfig(seed=0))          # TemplateWriter by default
    write_sft_parquet(result.rows, "sft.parquet")
    print(format_share_table(result.shares))

Every row is checked with :func:`~verl_pixel.data.sft_schema.check_row` before it is returned, so what the
synthesizer writes is what :class:`~verl_pixel.data.sft_dataset.PixelSFTDataset` accepts.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any

from PIL import Image

from verl_pixel.data.seeds import SeedAnnotation
from verl_pixel.data.sft_schema import check_row
from verl_pixel.data.synthesis_config import IMAGE_TYPES, VIDEO_TYPES, SynthesisConfig, TrajectoryType
from verl_pixel.data.synthesis_plan import TrajectoryPlan, plan_trajectories
from verl_pixel.data.trajectory_rows import draft_trajectory
from verl_pixel.data.writers import AnalysisWriter, TemplateWriter

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 128  # trajectories drafted (images held in memory) before their texts are written


@dataclasses.dataclass(frozen=True)
class ShareLine:
    """One line of the share table.

    Attributes:
        category: ``image``, ``video`` or ``text`` (text-only, counted over all trajectories).
        trajectory_type: the type.
        configured: the configured share within the category.
        count: trajectories of this type.
        realized: ``count`` over the category's total (0 when the category is empty).
    """

    category: str
    trajectory_type: TrajectoryType
    configured: float
    count: int
    realized: float


@dataclasses.dataclass(frozen=True)
class SynthesisResult:
    """Rows in seed order, their plans, and the realized shares."""

    rows: list[dict[str, Any]]
    plans: list[TrajectoryPlan]
    shares: list[ShareLine]


def synthesize(
    seeds: Sequence[SeedAnnotation],
    config: SynthesisConfig | None = None,
    writer: AnalysisWriter | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> SynthesisResult:
    """One SFT row per seed.

    Args:
        seeds: the annotations (files must exist).
        config: shares and knobs (defaults: Pixel Reasoner's).
        writer: analysis text writer (default: :class:`TemplateWriter` seeded with ``config.seed``).
        chunk_size: how many trajectories to draft before handing their texts to the writer.

    Raises:
        RowError: if a produced row fails validation (a bug).
        SynthesisError: if a planned operation fails.
    """
    config = config or SynthesisConfig()
    writer = writer or TemplateWriter(seed=config.seed, narration=config.narration)
    sizes = [_image_size(seed.image) if seed.image else None for seed in seeds]
    plans = plan_trajectories(seeds, sizes, config)
    rows: list[dict[str, Any]] = []
    for start in range(0, len(plans), max(1, chunk_size)):
        drafts = [
            draft_trajectory(seeds[p.seed_index], p, config, writer.wants_images)
            for p in plans[start : start + chunk_size]
        ]
        texts = iter(writer.write_many([request for draft in drafts for request in draft.requests]))
        for draft in drafts:
            row = draft.compose(texts)
            check_row(row, len(rows), check_files=False)
            rows.append(row)
    shares = share_table(plans, config)
    logger.info("synthesized %d trajectories:\n%s", len(rows), format_share_table(shares))
    return SynthesisResult(rows, plans, shares)


def share_table(plans: Sequence[TrajectoryPlan], config: SynthesisConfig) -> list[ShareLine]:
    """Configured vs realized shares: image and video types within their category, text-only over all."""
    counts = Counter(plan.trajectory_type for plan in plans)
    lines: list[ShareLine] = []
    for category, types in (("image", IMAGE_TYPES), ("video", VIDEO_TYPES)):
        total = sum(counts[t] for t in types)
        lines += [
            ShareLine(category, t, config.share(t), counts[t], counts[t] / total if total else 0.0) for t in types
        ]
    text_only = counts[TrajectoryType.TEXT_ONLY]
    lines.append(
        ShareLine(
            "text", TrajectoryType.TEXT_ONLY, config.text_only, text_only, text_only / len(plans) if plans else 0.0
        )
    )
    return lines


def format_share_table(lines: Sequence[ShareLine]) -> str:
    """A fixed-width text table of :func:`share_table`'s lines."""
    header = f"{'category':<9} {'type':<18} {'configured':>10} {'realized':>9} {'count':>6}"
    body = [
        f"{line.category:<9} {line.trajectory_type.value:<18} {line.configured:>10.1%} {line.realized:>9.1%} "
        f"{line.count:>6}"
        for line in lines
    ]
    return "\n".join([header, "-" * len(header), *body])


def _image_size(path: str) -> tuple[int, int]:
    with Image.open(path) as image:  # reads the header only
        return image.size
