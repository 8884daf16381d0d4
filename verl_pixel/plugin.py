"""verl extension entry point: registers verl-pixel's components in verl's registries.

verl imports this module from its ``verl.plugins`` entry point on ``import verl`` in every process (driver,
torchrun ranks, Ray workers). verl swallows plugin import errors at DEBUG level, so a broken plugin is silently
absent; ``python -m verl_pixel.plugin --check`` (or ``verl-pixel doctor``) imports it loudly and lists what is
registered.

Registration is idempotent: importing this module again, or calling :func:`register` twice, changes nothing.
"""

from __future__ import annotations

import importlib
import logging
import sys
from importlib import metadata

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "verl.plugins"
ENTRY_POINT_NAME = "verl_pixel"
PLUGIN_MODULE = "verl_pixel.plugin"  # not __name__, which is "__main__" under `python -m`

# Modules whose import registers a component through a verl decorator (agent loop, reward manager, rollout
# backend). Later components append here; each must be cheap to import beyond verl itself.
COMPONENT_MODULES: tuple[str, ...] = (
    "verl_pixel.rollout.tool_parser",  # ToolParser "pixel_hermes"
    "verl_pixel.rollout.agent_loop",  # agent loop "pixel_agent"
    "verl_pixel.backends.hf_replica",  # rollout backend "hf"
    "verl_pixel.reward.adapters.manager",  # reward-loop manager "pixel"
    "verl_pixel.reward.adapters.advantage",  # advantage estimator "pixel_precomputed"
)


def register() -> None:
    """Register every verl-pixel component in verl's registries (idempotent)."""
    from verl_pixel.platform import cpu

    cpu.register_platform()
    cpu.activate()
    for module in COMPONENT_MODULES:
        importlib.import_module(module)


def registered_components() -> dict[str, list[str]]:
    """What verl's registries hold that comes from verl-pixel, by registry.

    Returns:
        A mapping ``registry name -> sorted component names`` (empty lists where nothing is registered yet).
    """
    from verl.plugin.platform.platform_manager import PlatformRegistry

    found: dict[str, list[str]] = {
        "platform": [],
        "agent_loop": [],
        "reward_manager": [],
        "rollout": [],
        "adv_estimator": [],
    }
    found["platform"] = sorted(
        name for name in PlatformRegistry.registered_names() if _ours(PlatformRegistry.get(name).__module__)
    )
    from verl.experimental.agent_loop.agent_loop import _agent_loop_registry

    found["agent_loop"] = sorted(name for name, entry in _agent_loop_registry.items() if _ours(entry["_target_"]))
    from verl.experimental.reward_loop.reward_manager import registry as reward_registry

    managers = reward_registry.REWARD_MANAGER
    found["reward_manager"] = sorted(name for name, cls in managers.items() if _ours(cls.__module__))
    from verl.workers.rollout.base import _ROLLOUT_REGISTRY

    found["rollout"] = sorted(name for (name, _), target in _ROLLOUT_REGISTRY.items() if _ours(target))
    from verl.trainer.ppo.core_algos import ADV_ESTIMATOR_REGISTRY

    found["adv_estimator"] = sorted(name for name, fn in ADV_ESTIMATOR_REGISTRY.items() if _ours(fn.__module__))
    return found


def _ours(qualified_name: str) -> bool:
    return qualified_name.startswith("verl_pixel.")


def check() -> tuple[int, list[str]]:
    """Import the plugin loudly, confirm verl discovers it, and describe the registrations.

    Returns:
        ``(exit_code, report_lines)``: 0 when the entry point is installed and points here, 1 otherwise.

    Raises:
        Exception: whatever makes the plugin fail to import or register (verl itself would hide it).
    """
    import verl  # loads entry points, silently

    register()  # raises here, loudly, if the plugin cannot import
    from verl_pixel.platform.cpu import cpu_platform_selected

    eps = [ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == ENTRY_POINT_NAME]
    problems: list[str] = []
    if not eps:
        problems.append(f"entry point {ENTRY_POINT_GROUP}:{ENTRY_POINT_NAME} is not installed (pip install -e .)")
    elif eps[0].value != PLUGIN_MODULE:
        problems.append(f"entry point points at {eps[0].value!r}, expected {PLUGIN_MODULE!r}")
    report = [f"verl {verl.__version__}; verl-pixel plugin {PLUGIN_MODULE} loaded"]
    report += [f"  {registry:<15} {', '.join(names) or '-'}" for registry, names in registered_components().items()]
    report.append(f"  cpu platform    {'selected (VERL_PLATFORM=cpu)' if cpu_platform_selected() else 'not selected'}")
    report += [f"PROBLEM: {problem}" for problem in problems]
    return (1 if problems else 0), report


register()

if __name__ == "__main__":  # `python -m verl_pixel.plugin --check`: the same report as `verl-pixel doctor`
    exit_code, lines = check()
    sys.stdout.write("\n".join(lines) + "\n")
    sys.exit(exit_code)
