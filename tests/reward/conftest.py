from collections.abc import Callable

import pytest

from verl_pixel.record import RolloutMode, TrajectoryRecord
from verl_pixel.reward.shaping.shaped_reward import ScoredRollout

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


@pytest.fixture(scope="session")
def compose_verl_config(tiny_model_dir):
    """Compose verl's packaged ``ppo_trainer`` config for the tiny model, plus overrides (hydra, as main_ppo does)."""
    import os

    import verl
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    config_dir = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")
    base = [f"actor_rollout_ref.model.path={tiny_model_dir}", "actor_rollout_ref.model.trust_remote_code=True"]

    def _compose(*overrides: str):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=config_dir, version_base=None):
            return compose(config_name="ppo_trainer", overrides=[*base, *overrides])

    return _compose
