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
