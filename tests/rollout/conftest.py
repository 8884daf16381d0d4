"""Fixtures for driving ``pixel_agent`` through verl's real ``AgentLoopWorker`` with a scripted server."""

from __future__ import annotations

import pytest

from verl_pixel.testing.agent_harness import Rollouts


@pytest.fixture(scope="session")
def rollouts(tiny_model_dir, tiny_tokenizer):
    return Rollouts(tiny_model_dir, tiny_tokenizer)


@pytest.fixture
def make_rollouts(tiny_model_dir, tiny_tokenizer):
    return lambda *overrides: Rollouts(tiny_model_dir, tiny_tokenizer, overrides)


@pytest.fixture(scope="session")
def family_rollouts(family_model_dir, family_tokenizer):
    """Rollouts of the ``family`` fixture's tiny model, with its family's tool preset."""
    return Rollouts(family_model_dir, family_tokenizer)


@pytest.fixture(scope="session")
def qwen3_rollouts(tiny_model_of, processor_of):
    """Rollouts of the tiny Qwen3-VL (relative1000 coordinates, factor 32)."""
    return Rollouts(tiny_model_of("qwen3_vl"), processor_of("qwen3_vl").tokenizer)
