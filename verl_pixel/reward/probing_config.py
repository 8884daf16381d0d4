"""The ``pixel.probing`` section: the necessity memory and adaptive probing ([ours]; METHOD §3, Look Less).

Look Less decides need(x) from force_tool and no_tool probes run on every prompt at every visit. With
``enable: true`` a per-prompt memory of past probes decides each visit's probe counts instead
(:mod:`verl_pixel.reward.shaping.necessity_memory`): the layout's full probes while the prompt's need is uncertain,
``few_probes`` per probe mode while it leans one way or is due for a re-probe, none once it is settled. Every rule
and constant here is ours: no published method does this.

::

    pixel:
      probing:
        enable: false         # the memory and adaptive probing (off: Look Less' fixed probes)
        settle_z: 1.28        # settled: |gap - margin| >= settle_z * sd(gap) ...
        tolerance: 0.35       # ... or settle_z * sd(gap) <= tolerance (the gap is known well enough)
        lean_z: 1.0           # leaning (few probes): |gap - margin| >= lean_z * sd(gap)
        few_probes: 1         # probes per probe mode when leaning or re-probing
        reprobe_every: 4      # a settled prompt is re-probed after this many visits without probes (0: never)
        decay: 0.8            # evidence kept per visit (the policy moves between visits); 1.0 keeps everything
        prior: 1.0            # Beta(prior, prior) pseudo-counts of each accuracy
        adaptive_weight: 0.5  # evidence weight of an adaptive rollout (by whether it used a tool); 0: probes only

``gap = acc_tool - acc_no`` from two Beta posteriors over the prompt's decayed probe outcomes; ``margin`` is
``pixel.reward.look_less.margin``, as in need(x) = 1[acc_tool > acc_no + margin].

Adaptive rollouts are evidence too: one that used a tool is an outcome with the tool, one that did not is an
outcome without. They are free (they run anyway) but self-selected (the policy skips the tool where it feels sure),
so they count ``adaptive_weight`` of a probe. Beacon's Necessity-Aware Adaptive Reward (arXiv 2607.28595, §4.4.1)
labels need from exactly this kind of evidence alone: the text-only answers inside the rollout group.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from verl_pixel.reward.config import build_config, check_number

PROBING_PATH = "pixel.probing"


@dataclasses.dataclass(frozen=True)
class ProbingConfig:
    """The necessity memory's knobs (see the module docstring for their meaning)."""

    enable: bool = False
    settle_z: float = 1.28
    tolerance: float = 0.35
    lean_z: float = 1.0
    few_probes: int = 1
    reprobe_every: int = 4
    decay: float = 0.8
    prior: float = 1.0
    adaptive_weight: float = 0.5

    def __post_init__(self) -> None:
        if not isinstance(self.enable, bool):
            raise ValueError(f"enable: expected true or false, got {self.enable!r}")
        check_number("settle_z", self.settle_z, low=0.0)
        check_number("tolerance", self.tolerance, low=0.0, high=1.0)
        check_number("lean_z", self.lean_z, low=0.0)
        if self.lean_z > self.settle_z:
            raise ValueError(f"lean_z: {self.lean_z} must not exceed settle_z {self.settle_z} (leaning is weaker)")
        for name in ("few_probes", "reprobe_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name}: expected an integer >= 0, got {value!r}")
        check_number("decay", self.decay, low=0.0, high=1.0)
        if self.decay == 0.0:
            raise ValueError("decay: must be > 0, else every visit forgets all past probes")
        check_number("prior", self.prior, low=0.0)
        if self.prior == 0.0:
            raise ValueError("prior: must be > 0 (Beta pseudo-counts)")
        check_number("adaptive_weight", self.adaptive_weight, low=0.0, high=1.0)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> ProbingConfig:
        """Build from the ``pixel.probing`` mapping; missing keys keep their defaults.

        Raises:
            ValueError: for an unknown key or a bad value, naming its full path (``pixel.probing.decay: ...``).
        """
        if data is not None and not isinstance(data, Mapping):
            raise ValueError(f"{PROBING_PATH}: expected a mapping, got {data!r}")
        try:
            return build_config(cls, data or {}, "")
        except ValueError as err:
            raise ValueError(f"{PROBING_PATH}.{err}") from None
