"""The vectorized path equals the per-group reference path exactly (==, not approx) on random batches."""

import random

import numpy as np
import pytest

from verl_pixel.record import RolloutMode, TrajectoryRecord
from verl_pixel.reward.batch_shaping import RolloutColumns, shape_columns
from verl_pixel.reward.config import ShapingConfig
from verl_pixel.reward.shaped_reward import ScoredRollout
from verl_pixel.reward.shaping import shape_group

CONFIGS = {
    "none": {"method": "none"},
    "none+fmt": {"method": "none", "format": {"weight": 0.3}},
    "curiosity": {"method": "curiosity"},
    "curiosity-code": {"method": "curiosity", "curiosity": {"variant": "released_code", "alpha": 0.7}},
    "curiosity-exact": {"method": "curiosity", "curiosity": {"target_rapr": 0.5, "redundancy": {"beta": 0.25}}},
    "look_less": {"method": "look_less"},
    "look_less-margin": {"method": "look_less", "look_less": {"margin": 0.1, "op_count": "attempted"}},
    "look_less-pooled": {"method": "look_less", "look_less": {"probe_gradient": "pooled"}, "correct_threshold": 0.7},
    "look_less-off": {"method": "look_less", "look_less": {"probe_gradient": "off"}, "format": {"weight": 0.1}},
    "deepeyes": {"method": "deepeyes"},
}
ACCS = (0.0, 1.0, 0.5, 0.6, 0.73, 0.1)
LAYOUTS = (
    (RolloutMode.ADAPTIVE,) * 8,
    (RolloutMode.FORCE_TOOL,) * 4 + (RolloutMode.NO_TOOL,) * 4 + (RolloutMode.ADAPTIVE,) * 8,
    (RolloutMode.ADAPTIVE, RolloutMode.FORCE_TOOL, RolloutMode.ADAPTIVE),  # a group missing its no_tool probes
    (RolloutMode.NO_TOOL,),
)


def random_group(rng: random.Random) -> list[ScoredRollout]:
    modes = list(rng.choice(LAYOUTS))
    rng.shuffle(modes)
    group = []
    for mode in modes:
        succeeded, failed = rng.choice((0, 0, 1, 1, 2, 3)), rng.choice((0, 0, 0, 1))
        acc = rng.choice(ACCS) if rng.random() < 0.8 else rng.random()
        record = TrajectoryRecord(
            mode=mode,
            complied=rng.random() < 0.8,
            ops_attempted=succeeded + failed,
            ops_succeeded=succeeded,
            ops_failed=failed,
        )
        group.append(ScoredRollout(record, acc, rng.choice((0.0, 0.0, -1.0))))
    return group


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_fast_path_equals_reference_exactly(name: str) -> None:
    config = ShapingConfig.from_mapping(CONFIGS[name])
    rng = random.Random(name)
    groups = [random_group(rng) for _ in range(300)]
    shaped = shape_columns(RolloutColumns.from_groups(groups), config)
    row = 0
    for index, group in enumerate(groups):
        reference = shape_group(group, config)
        assert shaped.groups.info(index) == reference.info
        for expected in reference.rewards:
            assert shaped.reward(row) == expected
            row += 1
    assert row == len(shaped.total)


def test_interleaved_group_ids() -> None:
    # rows of different groups may interleave; each group's own row order is what the sums follow
    config = ShapingConfig.from_mapping(CONFIGS["look_less"])
    rng = random.Random(7)
    groups = [random_group(rng) for _ in range(50)]
    queue = [(g, i) for g, group in enumerate(groups) for i in range(len(group))]
    order: list[tuple[int, int]] = []
    cursors = [0] * len(groups)
    while len(order) < len(queue):
        g = rng.randrange(len(groups))
        if cursors[g] < len(groups[g]):
            order.append((g, cursors[g]))
            cursors[g] += 1
    stacked = RolloutColumns.from_groups([[groups[g][i]] for g, i in order])
    columns = RolloutColumns(**{**stacked.__dict__, "group_ids": np.array([g for g, _ in order]), "num_groups": 50})
    shaped = shape_columns(columns, config)
    expected = {g: shape_group(group, config) for g, group in enumerate(groups)}
    for row, (g, i) in enumerate(order):
        assert shaped.reward(row) == expected[g].rewards[i]
    assert [shaped.groups.info(g) for g in range(50)] == [expected[g].info for g in range(50)]


def test_columns_validation() -> None:
    good = RolloutColumns.from_groups([[ScoredRollout(TrajectoryRecord(), 1.0)]])
    with pytest.raises(ValueError, match="same length"):
        RolloutColumns(**{**good.__dict__, "acc": np.array([1.0, 0.0])})
    with pytest.raises(ValueError, match="each at least once"):
        RolloutColumns(**{**good.__dict__, "num_groups": 2})
