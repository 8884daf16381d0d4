"""``hf`` rollout backend registration and its ``RolloutReplica`` (``actor_rollout_ref.rollout.name=hf``).

Registration, done on import (the plugin imports this module in every process):

* ``RolloutReplicaRegistry.register("hf", ...)`` — verl's public registry, read by ``LLMServerManager``;
* ``_ROLLOUT_REGISTRY[("hf", "async")]`` — verl 0.9.1 has no public API for the per-rank rollout class that
  ``ActorRolloutRefWorker.init_model`` builds, only this module-level dict.

The replica launches one :class:`~verl_pixel.backends.hf_server.HFRolloutServer` actor, pinned to the node of its
first worker, with no CPU/GPU reservation (the hybrid workers already hold the bundle). Everything else a replica
does (``init_hybrid``, ``wake_up``/``sleep`` fan-out, abort, KV-cache calls) is verl's base class.

Limits: single node per replica, text and images (no video/audio), weights shipped through Ray's object store each
step (fine for debug-size models), one model copy per replica in RAM.
"""

from __future__ import annotations

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
from verl.workers.rollout import base as rollout_base
from verl.workers.rollout.replica import RolloutReplica, RolloutReplicaRegistry

from verl_pixel.backends.hf_naming import BACKEND_NAME, server_name

ADAPTER_CLASS = "verl_pixel.backends.hf_adapter.HFServerAdapter"


class HFReplica(RolloutReplica):
    """One ``hf`` rollout server for a slice of the actor's ranks."""

    async def launch_servers(self) -> None:
        """Create this replica's server actor and wait until its model is loaded."""
        from verl_pixel.backends.hf_server import HFRolloutServer

        role = "reward" if self.is_reward_model else "teacher" if self.is_teacher_model else "policy"
        name = server_name(self.replica_rank, role, self.name_suffix)
        options = {"name": name, "num_cpus": 0, "max_concurrency": self.max_concurrency}
        if self.workers:  # hybrid: next to the actor ranks that will push weights to it
            node_id = await self.workers[0].__ray_call__.remote(lambda worker: ray.get_runtime_context().get_node_id())
            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node_id=node_id, soft=False)
        server = (
            ray.remote(HFRolloutServer)
            .options(**options)
            .remote(config=self.config, model_config=self.model_config, replica_rank=self.replica_rank)
        )
        await server.ready.remote()
        self.servers = [server]
        self._server_handle = server
        self._server_address = name  # only a load-balancer key: the server is reached as a Ray actor

    def rollout_worker_use_gpu(self) -> bool:
        """The server reserves no accelerator of its own."""
        return False


def register() -> None:
    """Register the backend in both verl registries (idempotent)."""
    RolloutReplicaRegistry.register(BACKEND_NAME, lambda: HFReplica)
    rollout_base._ROLLOUT_REGISTRY[(BACKEND_NAME, "async")] = ADAPTER_CLASS


register()
