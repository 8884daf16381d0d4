"""The CPU platform: selected only explicitly, gloo collectives, CPU engines registered, no-op memory calls."""

from __future__ import annotations

import os
import subprocess
import sys

import torch

from verl_pixel.platform.cpu import CPUDeviceModule, PlatformCPU


def test_device_module_answers_cuda_style_calls_on_cpu():
    module = CPUDeviceModule()
    assert module.memory_allocated() == 0 and module.max_memory_reserved() == 0
    free, total = module.mem_get_info()
    assert 0 < free <= total
    state = module.get_rng_state()
    a = torch.rand(3)
    module.set_rng_state(state)
    assert torch.equal(a, torch.rand(3))  # the RNG round-trips through the CPU generator
    assert module.empty_cache() is None and module.is_available() is torch.cpu.is_available()


def test_platform_is_never_auto_detected():
    platform = PlatformCPU()
    assert platform.is_platform_available(use_smi_check=True) is False
    assert platform.current_device() == torch.device("cpu")  # not 0, which .to() would read as cuda:0
    assert platform.communication_backend_name() == "gloo"


SELECTED = """
import os, verl
from verl.utils.device import get_device_name, get_nccl_backend, get_device_id
from verl.workers.engine.base import EngineRegistry
from verl.workers.engine.fsdp.transformer_impl import FSDPEngineWithLMHead, FSDPEngineWithValueHead
from verl.utils import distributed
print(get_device_name(), get_nccl_backend(), get_device_id())
assert EngineRegistry.get_engine_cls("language_model", "fsdp2") is FSDPEngineWithLMHead
assert EngineRegistry.get_engine_cls("value_model", "fsdp") is FSDPEngineWithValueHead
os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT="29533", RANK="0", LOCAL_RANK="0", WORLD_SIZE="1")
print(distributed.initialize_global_process_group())
import torch
t = torch.ones(2); torch.distributed.all_reduce(t); print(torch.distributed.get_backend(), t.tolist())
"""


def test_selected_platform_runs_verl_process_group_and_engine_lookup():
    env = {**os.environ, "VERL_PLATFORM": "cpu"}
    env.pop("VERL_ENGINE_DEVICE", None)  # the engine must resolve for device "cpu" without verl's override
    proc = subprocess.run([sys.executable, "-c", SELECTED], env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()[-3:]
    assert lines == ["cpu gloo cpu", "(0, 0, 1)", "gloo [1.0, 1.0]"]


def test_unselected_platform_leaves_verl_untouched():
    code = "import verl.utils.distributed as d; print(getattr(d.initialize_global_process_group, '_verl_pixel_cpu', 0))"
    env = {k: v for k, v in os.environ.items() if k != "VERL_PLATFORM"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "0"


def test_the_recipes_cpu_overrides_are_the_quick_starts_cpu_settings():
    """One set of CPU settings: the recipes' CPU mode (CPU_GRPO_OVERRIDES) agrees with configs/cpu/grpo_cpu.yaml."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    from verl_pixel.configs import CONFIG_DIR
    from verl_pixel.platform.cpu import CPU_GRPO_OVERRIDES

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR / "cpu"), version_base=None):
        config = compose(config_name="grpo_cpu")
    parser = OverridesParser.create()
    for text in CPU_GRPO_OVERRIDES:
        override = parser.parse_override(text)
        value = OmegaConf.select(config, override.key_or_group)
        value = OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
        assert value == override.value(), text
