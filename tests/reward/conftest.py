from collections.abc import Callable

import pytest

from verl_pixel.record import RolloutMode, TrajectoryRecord
from verl_pixel.reward.shaped_reward import ScoredRollout

MakeRollout = Callable[..., ScoredRollout]


def _make_rollout(
    acc: float,
    ops: int = 0,
    *,
    mode: RolloutMode = RolloutMode.ADAPTIVE,
    failed: int = 0,
    complied: bool = True,
    fmt: float = 0.0,
) -> ScoredRollout:
    """A scored rollout with ``ops`` successful and ``failed`` failed visual operations."""
    record = TrajectoryRecord(
        mode=mode, complied=complied, ops_attempted=ops + failed, ops_succeeded=ops, ops_failed=failed
    )
    return ScoredRollout(record, acc, fmt)


@pytest.fixture
def make_rollout() -> MakeRollout:
    return _make_rollout
