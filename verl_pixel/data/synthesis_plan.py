"""Planning synthesized trajectories (pure): which type each seed gets, and which boxes / frames each call uses.

Shares are met exactly, not in expectation: per category the counts come from largest-remainder rounding of
``share * n`` and are dealt to shuffled seeds, the error types first, each only to seeds where it is feasible (a
wrong box needs room away from the cue, a reselection needs frames outside the cue's window). A slot no seed can
take falls back to the single-pass type of its category and is logged; the synthesis report shows what happened.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import random
from collections.abc import Sequence
from enum import Enum

from verl_pixel.data.boxes import (
    NormBox,
    normalize_box,
    round_inward,
    round_outward,
    sample_disjoint_box,
    sample_enclosing_box,
)
from verl_pixel.data.seeds import Modality, SeedAnnotation, frame_window
from verl_pixel.data.synthesis_config import (
    ERROR_TYPES,
    IMAGE_TYPES,
    VIDEO_TYPES,
    SynthesisConfig,
    TrajectoryType,
)

logger = logging.getLogger(__name__)


class StepRole(str, Enum):
    """What an operation is in its trajectory."""

    WRONG = "wrong"  # misses the cue (masked)
    OVERSIZED = "oversized"  # contains the cue but is far too large (masked by default)
    CORRECT = "correct"  # the tight box / the right frames (trained)


@dataclasses.dataclass(frozen=True)
class CropStep:
    """One planned ``crop_image`` call.

    Attributes:
        role: wrong, oversized or correct.
        box: the region in normalized coordinates of the *input* image (image 1).
        target_image: the image the call crops: 1, or the oversized crop's number for a further zoom.
    """

    role: StepRole
    box: NormBox
    target_image: int = 1


@dataclasses.dataclass(frozen=True)
class FrameStep:
    """One planned ``select_frames`` call: 1-based frame numbers."""

    role: StepRole
    frames: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class TrajectoryPlan:
    """Everything random about one trajectory, decided before any image is touched."""

    seed_index: int
    trajectory_type: TrajectoryType
    cue: NormBox | None = None
    crops: tuple[CropStep, ...] = ()
    frame_steps: tuple[FrameStep, ...] = ()


def largest_remainder_counts(total: int, shares: Sequence[float]) -> list[int]:
    """Integer counts summing to ``total`` that are as close as possible to ``share * total``."""
    weight = sum(shares)
    if total == 0 or weight <= 0:
        return [0] * len(shares)
    raw = [total * share / weight for share in shares]
    counts = [math.floor(value) for value in raw]
    order = sorted(range(len(raw)), key=lambda i: (counts[i] - raw[i], i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def plan_trajectories(
    seeds: Sequence[SeedAnnotation], image_sizes: Sequence[tuple[int, int] | None], config: SynthesisConfig
) -> list[TrajectoryPlan]:
    """One plan per seed, in seed order.

    Args:
        seeds: the annotations.
        image_sizes: (width, height) of each image seed's stored image (``None`` for videos); normalizes the bbox.
        config: shares and knobs.
    """
    rng = random.Random(config.seed)
    order = list(range(len(seeds)))
    rng.shuffle(order)
    text_only = _pick_text_only(seeds, order, config)
    plans: dict[int, TrajectoryPlan] = {i: TrajectoryPlan(i, TrajectoryType.TEXT_ONLY) for i in text_only}
    for modality, types in ((Modality.IMAGE, IMAGE_TYPES), (Modality.VIDEO, VIDEO_TYPES)):
        pool = [i for i in order if i not in plans and seeds[i].modality is modality]
        plans.update(_deal(pool, types, seeds, image_sizes, config))
    return [plans[i] for i in range(len(seeds))]


def _pick_text_only(seeds: Sequence[SeedAnnotation], order: list[int], config: SynthesisConfig) -> set[int]:
    """Seeds answered without an operation: those that need no zoom first, then those with no cue to zoom into."""
    count = largest_remainder_counts(len(seeds), [config.text_only, 1 - config.text_only])[0]

    def priority(i: int) -> int:
        if not seeds[i].needs_zoom:
            return 0
        return 1 if seeds[i].modality is Modality.IMAGE and seeds[i].bbox is None else 2

    ranked = sorted(order, key=priority)  # stable: shuffled order within each priority
    chosen = set(ranked[:count])
    forced = {i for i in order if seeds[i].modality is Modality.IMAGE and seeds[i].bbox is None} - chosen
    if forced:
        logger.warning("%d image seeds have no bbox and become text-only beyond the configured share", len(forced))
    if any(priority(i) == 2 for i in chosen):
        logger.warning("text-only share exceeds the seeds marked needs_zoom=false; some text-only answers need zoom")
    return chosen | forced


def _deal(
    pool: list[int],
    types: Sequence[TrajectoryType],
    seeds: Sequence[SeedAnnotation],
    image_sizes: Sequence[tuple[int, int] | None],
    config: SynthesisConfig,
) -> dict[int, TrajectoryPlan]:
    counts = dict(zip(types, largest_remainder_counts(len(pool), [config.share(t) for t in types]), strict=True))
    fallback = types[0]
    plans: dict[int, TrajectoryPlan] = {}
    remaining = list(pool)
    for trajectory_type in [t for t in ERROR_TYPES if t in counts]:
        taken: list[int] = []
        for index in remaining:
            if len(taken) == counts[trajectory_type]:
                break
            plan = plan_one(index, trajectory_type, seeds[index], image_sizes[index], config)
            if plan is not None:
                plans[index] = plan
                taken.append(index)
        if len(taken) < counts[trajectory_type]:
            logger.warning(
                "only %d of %d %s trajectories are feasible; the rest become %s",
                len(taken),
                counts[trajectory_type],
                trajectory_type.value,
                fallback.value,
            )
        remaining = [i for i in remaining if i not in plans]
    for index in remaining:
        plan = plan_one(index, fallback, seeds[index], image_sizes[index], config)
        plans[index] = plan if plan is not None else TrajectoryPlan(index, TrajectoryType.TEXT_ONLY)
    return plans


def plan_one(
    index: int,
    trajectory_type: TrajectoryType,
    seed: SeedAnnotation,
    image_size: tuple[int, int] | None,
    config: SynthesisConfig,
) -> TrajectoryPlan | None:
    """The plan of ``seed`` as ``trajectory_type``, or ``None`` if that type is infeasible for it.

    The randomness is seeded by (config seed, seed id, type), so a seed's plan does not depend on the others.
    """
    rng = random.Random(f"{config.seed}:{seed.seed_id}:{trajectory_type.value}")
    if trajectory_type is TrajectoryType.TEXT_ONLY:
        return TrajectoryPlan(index, trajectory_type)
    if trajectory_type.category == "video":
        steps = _frame_steps(rng, trajectory_type, seed, config)
        return None if steps is None else TrajectoryPlan(index, trajectory_type, frame_steps=steps)
    if seed.bbox is None or image_size is None:
        return None
    cue = normalize_box(seed.bbox, image_size)
    crops = _crop_steps(rng, trajectory_type, cue, config)
    return None if crops is None else TrajectoryPlan(index, trajectory_type, cue=cue, crops=crops)


def _crop_steps(
    rng: random.Random, trajectory_type: TrajectoryType, cue: NormBox, config: SynthesisConfig
) -> tuple[CropStep, ...] | None:
    decimals = config.coordinate_decimals
    correct = CropStep(StepRole.CORRECT, round_outward(cue, decimals))
    if trajectory_type is TrajectoryType.SINGLE_PASS:
        return (correct,)
    if trajectory_type is TrajectoryType.FURTHER_ZOOM:
        scale = rng.uniform(*config.oversize_scale)
        box = sample_enclosing_box(rng, correct.box, scale, config.max_oversized_area)
        if box is None:
            return None
        target = 2 if config.further_zoom_target == "crop" else 1
        return (
            CropStep(StepRole.OVERSIZED, round_outward(box, decimals)),
            dataclasses.replace(correct, target_image=target),
        )
    wrong: list[NormBox] = []
    clearance = config.wrong_box_clearance
    for _ in range(2 if trajectory_type is TrajectoryType.RECROP_TWICE else 1):
        scale = rng.uniform(*config.wrong_box_scale)
        size = (
            max((cue[2] - cue[0]) * scale, config.min_wrong_box_side),
            max((cue[3] - cue[1]) * scale, config.min_wrong_box_side),
        )
        box = sample_disjoint_box(rng, cue, size, (clearance, clearance), avoid=wrong)
        if box is None:
            return None
        wrong.append(round_inward(box, decimals))
    return (*(CropStep(StepRole.WRONG, box) for box in wrong), correct)


def _frame_steps(
    rng: random.Random, trajectory_type: TrajectoryType, seed: SeedAnnotation, config: SynthesisConfig
) -> tuple[FrameStep, ...] | None:
    window = list(frame_window(seed))
    correct = FrameStep(StepRole.CORRECT, evenly_spaced(window, config.max_frames_per_selection))
    if trajectory_type is TrajectoryType.VIDEO_SINGLE_PASS:
        return (correct,)
    outside = [frame for frame in range(1, len(seed.video) + 1) if frame not in window]
    if not outside:
        return None
    runs = _contiguous_runs(outside)
    run = rng.choice(runs)
    length = min(len(correct.frames), len(run))
    start = rng.randint(0, len(run) - length)
    return (FrameStep(StepRole.WRONG, tuple(run[start : start + length])), correct)


def evenly_spaced(frames: Sequence[int], limit: int) -> tuple[int, ...]:
    """At most ``limit`` frames spread evenly over ``frames`` (first and last kept)."""
    if len(frames) <= limit:
        return tuple(frames)
    if limit == 1:
        return (frames[len(frames) // 2],)
    step = (len(frames) - 1) / (limit - 1)
    return tuple(frames[round(i * step)] for i in range(limit))


def _contiguous_runs(frames: Sequence[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for frame in frames:
        if runs and runs[-1][-1] == frame - 1:
            runs[-1].append(frame)
        else:
            runs.append([frame])
    return runs
