"""Negative control for the weight-sync check: the ``hf`` rollout keeps the weights of the first sync.

Importing this module replaces :meth:`HFServerAdapter.update_weights` (ours, never verl's) in the importing process:
the first sync (before step 1) reaches the server; every later one is drained (it is an FSDP collective) and dropped.
A run loads it in every process through verl's own switch::

    VERL_USE_EXTERNAL_MODULES=verl_pixel.testing.stale_rollout_weights python -m verl.trainer.main_ppo ...

The rollout then generates with the initial weights while the actor trains, which is what a broken weight sync
looks like; ``training/rollout_probs_diff_max`` must tell the two apart (``benchmarks/rollout_sync_control.py``).
The adapter is patched, not the server: the server's Ray actor process imports ``hf_server`` before verl, so a patch
loaded by ``import verl`` would meet a half-imported module there.
"""

from __future__ import annotations

import logging
from typing import Any

from verl.workers.rollout.utils import ensure_async_iterator

from verl_pixel.backends.hf_adapter import HFServerAdapter

logger = logging.getLogger(__name__)

_sync = HFServerAdapter.update_weights


async def _first_sync_only(self: HFServerAdapter, weights: Any, wire_format: str = "named_tensors", **kwargs: Any):
    if not getattr(self, "_synced_once", False):
        self._synced_once = True
        return await _sync(self, weights, wire_format, **kwargs)
    async for _ in ensure_async_iterator(weights):  # drain: gathering each tensor is a collective on every rank
        pass
    logger.warning("stale_rollout_weights: dropped the weight sync of step %s", kwargs.get("global_steps"))
    return None


HFServerAdapter.update_weights = _first_sync_only  # type: ignore[method-assign]
