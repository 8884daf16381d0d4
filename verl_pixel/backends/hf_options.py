"""Options of the ``hf`` rollout server, read from ``actor_rollout_ref.rollout.engine_kwargs.hf`` (pure).

Example (hydra overrides on ``main_ppo``; verl's ``engine_kwargs`` has no ``hf`` key, hence the ``+``)::

    +actor_rollout_ref.rollout.engine_kwargs.hf.max_batch_size=8

The server (:mod:`verl_pixel.backends.hf_server`) reads them when it starts; the start-up check
(:mod:`verl_pixel.startup_check`) reads them too, so an unknown key or a bad value fails before Ray starts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from verl_pixel.plain_values import config_mapping, reject_unknown_keys, to_plain

HF_OPTIONS_PATH = "actor_rollout_ref.rollout.engine_kwargs.hf"


@dataclasses.dataclass(frozen=True)
class HFServerOptions:
    """Knobs of the ``hf`` server.

    Attributes:
        max_batch_size: most requests generated together (same sampling settings, left-padded).
        nudge_text: test hook for random-weight models that never call a tool: the text a nudged first turn is
            forced to start with (followed by the end-of-turn token). Off in every shipped config; tests turn it on
            explicitly (``verl_pixel.testing.forced_tool_calls``).
        nudge_every: every ``nudge_every``-th first-turn request is nudged; 0: never.
        nudge_followup_text: the same test hook for the later turns: when set (and ``nudge_every`` is on), every
            request after a trajectory's first turn is forced to start with it, e.g. an answer after the nudged
            tool call, so a run's accuracy is known by construction.
        suppress_vision_tokens: never sample vision placeholders (``<|vision_start|>``, ``<|image_pad|>``, ...):
            emitted by the policy they would claim image features that do not exist and break M-RoPE position ids;
            real checkpoints never emit them, random ones do.
    """

    max_batch_size: int = 16
    nudge_text: str = ""
    nudge_every: int = 0
    suppress_vision_tokens: bool = True
    nudge_followup_text: str = ""

    def __post_init__(self) -> None:
        _check_int("max_batch_size", self.max_batch_size, low=1)
        _check_int("nudge_every", self.nudge_every, low=0)
        for name in ("nudge_text", "nudge_followup_text"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{HF_OPTIONS_PATH}.{name}: expected a string, got {getattr(self, name)!r}")
        if not isinstance(self.suppress_vision_tokens, bool):
            raise ValueError(
                f"{HF_OPTIONS_PATH}.suppress_vision_tokens: expected true or false, got {self.suppress_vision_tokens!r}"
            )

    @classmethod
    def from_engine_kwargs(cls, engine_kwargs: Mapping[str, Any] | None) -> HFServerOptions:
        """Read ``engine_kwargs["hf"]`` (absent: defaults).

        Raises:
            ValueError: for an unknown key or a bad value, naming its full path.
        """
        data = config_mapping((to_plain(engine_kwargs) or {}).get("hf"), HF_OPTIONS_PATH)
        reject_unknown_keys(data, (field.name for field in dataclasses.fields(cls)), HF_OPTIONS_PATH)
        return cls(**data)


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{HF_OPTIONS_PATH}.{name}: expected an integer >= {low}, got {value!r}")
