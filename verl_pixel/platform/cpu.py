"""A CPU platform for verl 0.9.1, so verl's real trainers run on machines without accelerators.

verl 0.9.1 knows CUDA, NPU and ROCm only; with no GPU it falls back to CUDA/NCCL and fails. This module registers
a ``cpu`` platform in verl's ``PlatformRegistry`` (gloo collectives, no-op memory and cache calls). It is never
auto-detected: it is selected explicitly with verl's own switch, ``VERL_PLATFORM=cpu``, which every torchrun rank
and Ray worker inherits from the environment.

When selected, :func:`activate` adds the two things a platform class alone cannot provide:

* the FSDP engines are registered for device ``cpu`` in verl's ``EngineRegistry`` (upstream registers them for
  ``cuda``/``npu`` only; this replaces the ``VERL_ENGINE_DEVICE=cuda`` workaround);
* verl's process-group initialisers build the backend string ``f"cpu:gloo,{device}:{backend}"``, which for
  device ``cpu`` is ``"cpu:gloo,cpu:gloo"`` and torch rejects as a duplicate device. No platform method feeds
  that string, so the two initialisers in ``verl.utils.distributed`` are wrapped to pass plain ``"gloo"``. This
  is the only replaced verl function, and only under ``VERL_PLATFORM=cpu``.

Config overrides verl still needs on CPU (flash-attention and CUDA-only paths) are listed in
:data:`CPU_SFT_OVERRIDES` and :data:`CPU_GRPO_OVERRIDES`; the GPU recipes take them in their CPU mode
(``PLATFORM=cpu``, what ``verl-pixel smoke`` runs on a machine without GPUs) from ``verl-pixel cpu-overrides``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import psutil
import torch
from verl.plugin.platform.platform_base import PlatformBase
from verl.plugin.platform.platform_manager import PlatformRegistry

from verl_pixel.constants import CPU_PLATFORM_NAME, VERL_PLATFORM_ENV

logger = logging.getLogger(__name__)

# Overrides verl's sft_trainer needs on CPU, each for a reason found by running it (cpu_feasibility.md §2.4).
# ``++`` sets a key whether the config has it (the SFT recipes pin flash_attention_2) or not (verl's own config).
CPU_SFT_OVERRIDES: tuple[str, ...] = (
    "trainer.device=cpu",
    "engine.strategy=fsdp2",  # FSDP1 insists on GPU parameters with sync_module_states
    "engine.use_torch_compile=False",
    "model.use_remove_padding=False",  # verl's rmpad patch needs flash-attn
    "++model.override_config.attn_implementation=sdpa",  # HFModelConfig defaults to flash_attention_2
)

# Overrides of the GPU GRPO recipes (recipes/configs/grpo_common.yaml) for their CPU mode: the settings the quick
# start's configs/cpu/grpo_cpu.yaml has for the same reasons (a test keeps the two in agreement).
CPU_GRPO_OVERRIDES: tuple[str, ...] = (
    "trainer.device=cpu",
    "actor_rollout_ref.model.use_remove_padding=False",  # verl's rmpad patch needs flash-attn
    "actor_rollout_ref.model.use_fused_kernels=False",  # the plain logits path: fp32 log-probs on both sides
    "++actor_rollout_ref.model.override_config.attn_implementation=sdpa",
    # fp32 actor and fp32 hf rollout server (rollout.dtype): a healthy rollout-vs-actor gap is float noise
    "++actor_rollout_ref.actor.fsdp_config.mixed_precision={param_dtype:fp32,reduce_dtype:fp32,buffer_dtype:fp32}",
    "actor_rollout_ref.rollout.dtype=float32",
    "actor_rollout_ref.rollout.load_format=dummy",  # weights arrive from the actor before the first rollout
    "actor_rollout_ref.rollout.agent.num_workers=1",  # each worker is a process importing verl
    "reward.num_workers=1",
    "data.dataloader_num_workers=0",
    # TaskRunner, TransferQueue controller and storage each hold a logical CPU; verl's resource check counts Ray
    # GPUs whatever the platform, so one logical GPU is declared (the CPU platform's bundles ask for CPUs only).
    "ray_kwargs.ray_init.num_cpus=8",
    "++ray_kwargs.ray_init.num_gpus=1",
    "transfer_queue.backend.SimpleStorage.num_data_storage_units=1",
)
CPU_OVERRIDES: dict[str, tuple[str, ...]] = {"sft": CPU_SFT_OVERRIDES, "grpo": CPU_GRPO_OVERRIDES}


def cpu_platform_selected() -> bool:
    """Whether the process asked verl for the CPU platform (``VERL_PLATFORM=cpu``)."""
    return os.environ.get(VERL_PLATFORM_ENV, "").strip().lower() == CPU_PLATFORM_NAME


class CPUDeviceModule:
    """``torch.cpu`` plus the ``torch.cuda``-style calls verl makes on its device module, as CPU no-ops."""

    def __getattr__(self, name: str) -> Any:
        return getattr(torch.cpu, name)

    def memory_allocated(self, *args: Any, **kwargs: Any) -> int:
        return 0

    memory_reserved = max_memory_allocated = max_memory_reserved = memory_allocated

    def mem_get_info(self, *args: Any, **kwargs: Any) -> tuple[int, int]:
        vm = psutil.virtual_memory()
        return vm.available, vm.total

    def get_rng_state(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        return torch.get_rng_state()

    def set_rng_state(self, state: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        torch.set_rng_state(state)

    def get_device_name(self, *args: Any, **kwargs: Any) -> str:
        return "cpu"

    def _noop(self, *args: Any, **kwargs: Any) -> None:
        return None

    empty_cache = ipc_collect = set_per_process_memory_fraction = reset_peak_memory_stats = _noop
    manual_seed = manual_seed_all = _noop  # torch.manual_seed already seeds the CPU generator


class PlatformCPU(PlatformBase):
    """verl platform for CPU-only processes (gloo collectives)."""

    @property
    def device_name(self) -> str:
        return "cpu"

    @property
    def vendor_name(self) -> str:
        return "cpu"

    @property
    def device_module(self) -> CPUDeviceModule:
        return CPUDeviceModule()

    def is_available(self) -> bool:
        return True

    def is_platform_available(self, use_smi_check: bool = False) -> bool:
        # Never auto-detected: a GPU-less driver of a GPU cluster must not silently train on CPU.
        return False

    def current_device(self) -> torch.device:  # type: ignore[override]
        # A device, not the int 0: verl does `.to(get_device_id())`, and `.to(0)` means cuda:0.
        return torch.device("cpu")

    def device_count(self) -> int:
        return 1

    def set_device(self, device_index: int) -> None:
        return None

    def synchronize(self, device_index: int | None = None) -> None:
        return None

    def manual_seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    def manual_seed_all(self, seed: int) -> None:
        torch.manual_seed(seed)

    def set_allocator_settings(self, settings: str) -> None:
        return None

    def empty_cache(self) -> None:
        return None

    def get_device_capability(self, device_index: int = 0) -> tuple[int | None, int | None]:
        return None, None

    def communication_backend_name(self) -> str:
        return "gloo"

    def visible_devices_envvar(self) -> str:
        return "CUDA_VISIBLE_DEVICES"

    @contextlib.contextmanager
    def nvtx_range(self, msg: str) -> Iterator[None]:
        yield

    def profiler_start(self) -> None:
        return None

    def profiler_stop(self) -> None:
        return None

    def ray_resource_name(self) -> str:
        return "CPU"

    def ray_resource_options(self, num_gpus: float) -> dict[str, Any]:
        return {}

    def ray_noset_envvars(self) -> list[str]:
        return []

    def is_ipc_supported(self) -> bool:
        return False

    def cudart(self) -> None:
        return None


def register_platform() -> None:
    """Register :class:`PlatformCPU` under ``cpu`` (idempotent; selecting it still needs ``VERL_PLATFORM=cpu``)."""
    if PlatformRegistry.get(CPU_PLATFORM_NAME) is not PlatformCPU:
        PlatformRegistry.register(platform=CPU_PLATFORM_NAME)(PlatformCPU)


def activate() -> None:
    """Make verl's engines and process groups work on the CPU platform. Idempotent; only under ``VERL_PLATFORM=cpu``."""
    if not cpu_platform_selected():
        return
    _register_cpu_engines()
    _use_gloo_process_groups()


def _register_cpu_engines() -> None:
    from verl.workers.engine.base import EngineRegistry
    from verl.workers.engine.fsdp.transformer_impl import FSDPEngineWithLMHead, FSDPEngineWithValueHead

    for model_type, engine in (("language_model", FSDPEngineWithLMHead), ("value_model", FSDPEngineWithValueHead)):
        for backend in ("fsdp", "fsdp2"):
            if EngineRegistry._engines.get(model_type, {}).get(backend, {}).get("cpu") is None:
                EngineRegistry.register(model_type=model_type, backend=backend, device="cpu")(engine)


def _use_gloo_process_groups() -> None:
    import verl.utils.distributed as verl_distributed

    if getattr(verl_distributed.initialize_global_process_group, "_verl_pixel_cpu", False):
        return
    verl_distributed.initialize_global_process_group = _mark(_init_global_process_group)
    original_ray_init = verl_distributed.initialize_global_process_group_ray

    def init_ray_process_group(timeout_second: int | None = None, backend: str | None = None) -> None:
        original_ray_init(timeout_second=timeout_second, backend=backend or "gloo")

    verl_distributed.initialize_global_process_group_ray = _mark(init_ray_process_group)


def _mark(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn._verl_pixel_cpu = True  # type: ignore[attr-defined]
    return fn


def _init_global_process_group(timeout_second: int = 36000) -> tuple[int, int, int]:
    """Verl's ``initialize_global_process_group`` with a plain gloo backend and no ``set_device``."""
    torch.distributed.init_process_group(
        backend="gloo",
        timeout=timedelta(seconds=timeout_second),
        init_method=os.environ.get("DIST_INIT_METHOD"),
    )
    return int(os.environ["LOCAL_RANK"]), int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
