"""``HFServerAdapter``: the ``hf`` backend's per-rank object inside verl's actor workers (``BaseRollout``).

verl builds one per actor rank (``ActorRolloutRefWorker.init_model`` → ``get_rollout_class("hf", "async")``) and
calls :meth:`update_weights` on every rank each step with a generator of the actor's full tensors. Draining it is a
collective for FSDP2 (each DTensor is gathered lazily), so every rank drains; only rollout rank 0 of each replica
ships the tensors to its server, found by name (servers start after ``init_model``, hence the lazy lookup).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import ray
from verl.workers.rollout.base import BaseRollout
from verl.workers.rollout.utils import ensure_async_iterator

from verl_pixel.backends.hf_naming import server_name

logger = logging.getLogger(__name__)


class HFServerAdapter(BaseRollout):
    """Pushes the actor's weights to this replica's ``hf`` server; generation itself goes through the server."""

    def __init__(self, config: Any, model_config: Any, device_mesh: Any, replica_rank: int = -1) -> None:
        super().__init__(config, model_config, device_mesh)
        rollout_world_size = (
            self.config.tensor_model_parallel_size
            * self.config.data_parallel_size
            * self.config.pipeline_model_parallel_size
        )
        rank = int(os.environ.get("RANK", 0))
        self.replica_rank = rank // rollout_world_size if replica_rank == -1 else replica_rank
        self.rollout_rank = rank % rollout_world_size
        self._server: Any = None

    @property
    def ships_weights(self) -> bool:
        """Only rollout rank 0 of a replica talks to its server."""
        return self.rollout_rank == 0

    def _server_handle(self) -> Any:
        if self._server is None:
            self._server = ray.get_actor(server_name(self.replica_rank))
        return self._server

    async def resume(self, tags: list[str]) -> None:
        """Forward to the server's ``wake_up`` (a no-op there; kept so verl's lifecycle is honoured)."""
        if self.ships_weights:
            await self._server_handle().wake_up.remote(tags=tags)

    async def release(self) -> None:
        """Forward to the server's ``sleep``."""
        if self.ships_weights:
            await self._server_handle().sleep.remote()

    async def update_weights(self, weights: Any, wire_format: str = "named_tensors", **kwargs: Any) -> None:
        """Drain ``weights`` (a collective) and, on rollout rank 0, copy them into the server.

        Raises:
            NotImplementedError: for ``delta_flush`` weights or adapter-only LoRA syncs (use ``lora.merge``).
        """
        if wire_format != "named_tensors":
            raise NotImplementedError(f"hf rollout: wire format {wire_format!r} is not supported")
        if kwargs.get("peft_config") is not None and kwargs.get("base_sync_done"):
            raise NotImplementedError("hf rollout: adapter-only LoRA sync is not supported; set lora merge=True")
        tensors = []
        async for name, tensor in ensure_async_iterator(weights):
            if self.ships_weights:
                tensors.append((name, tensor.detach().to("cpu", copy=True)))
        if self.ships_weights:
            count = await self._server_handle().update_weights.remote(ray.put(tensors), kwargs.get("global_steps"))
            logger.info("hf rollout replica %d: %d weights updated", self.replica_rank, count)
