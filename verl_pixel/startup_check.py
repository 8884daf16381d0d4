"""The start-up check: verl-pixel's whole configuration, validated in the driver before ``main_ppo`` starts Ray.

verl's ``main_ppo`` is a hydra app (``@hydra.main``). Hydra calls every callback declared under
``hydra.callbacks`` with ``on_job_start(config=...)`` in the driver, after composing the config and before the task
function (``hydra/core/utils.py: run_job``, hydra 1.3), i.e. before ``run_ppo`` calls ``ray.init``. Hydra turns an
``Exception`` raised by a callback into a warning and goes on (``hydra/_internal/callbacks.py: _notify``), so a
failed check raises ``SystemExit`` instead: the process ends with exit code 1 and the message on stderr, before Ray
starts. The shipped configs (``configs/cpu/grpo_cpu.yaml``,
``recipes/configs/grpo_common.yaml``) declare it::

    hydra:
      callbacks:
        pixel_config_check:
          _target_: verl_pixel.startup_check.PixelConfigCheck

With verl's own ``ppo_trainer`` add it on the command line:
``+hydra.callbacks.pixel_config_check._target_=verl_pixel.startup_check.PixelConfigCheck``. Without it the same
checks still run, later, in the processes that read the config (see :mod:`verl_pixel.pixel_config`).

What it checks, each error naming the key's full path:

* the whole ``pixel`` section (:func:`verl_pixel.pixel_config.pixel_config`) and its agreement with the trainer
  settings (:func:`verl_pixel.pixel_config.check_against_run`: mode layout vs ``rollout.n``, Look Less probes);
* ``actor_rollout_ref.rollout.engine_kwargs.hf`` (:class:`~verl_pixel.backends.hf_options.HFServerOptions`);
* the pixel tools' ``config`` in the tool YAML at ``actor_rollout_ref.rollout.multi_turn.tool_config_path``;
* that a local model folder's family (``config.json``) is the family of the tools' patch factor,
  ``data.image_patch_size`` and ``actor_rollout_ref.model.custom_chat_template``
  (:func:`verl_pixel.family_check.check_run_config`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

from verl_pixel.backends.hf_options import HFServerOptions
from verl_pixel.family_check import check_run_config
from verl_pixel.pixel_config import PixelConfig, RunSettings, check_against_run, pixel_config, select
from verl_pixel.tools.schema_yaml import agreed_ops_config, read_ops_configs

logger = logging.getLogger(__name__)

ENGINE_KWARGS_KEY = "actor_rollout_ref.rollout.engine_kwargs"
TOOL_CONFIG_KEY = "actor_rollout_ref.rollout.multi_turn.tool_config_path"
MODEL_PATH_KEY = "actor_rollout_ref.model.path"
CHAT_TEMPLATE_KEY = "actor_rollout_ref.model.custom_chat_template"
IMAGE_PATCH_SIZE_KEY = "data.image_patch_size"


def check_trainer_config(config: Mapping[str, Any]) -> PixelConfig:
    """Validate everything verl-pixel reads from verl's whole config; returns the ``pixel`` section.

    Raises:
        ValueError: naming the full path of the first unknown or bad key, or both sides of a disagreement.
    """
    pixel = pixel_config(config)
    for warning in check_against_run(pixel, RunSettings.from_trainer_config(config)):
        logger.warning("verl-pixel config: %s", warning)
    HFServerOptions.from_engine_kwargs(select(config, ENGINE_KWARGS_KEY))
    tool_config = select(config, TOOL_CONFIG_KEY)
    ops = None
    if tool_config:
        if not Path(tool_config).is_file():
            raise ValueError(f"{TOOL_CONFIG_KEY}={tool_config}: no such file")
        configs = read_ops_configs(tool_config)
        if configs:  # the pixel tools of a run share one config (budgets and numbering are per trajectory)
            ops = agreed_ops_config(configs, f"{TOOL_CONFIG_KEY}={tool_config}")
    check_run_config(
        select(config, MODEL_PATH_KEY),
        ops_config=ops,
        image_patch_size=select(config, IMAGE_PATCH_SIZE_KEY),
        chat_template=select(config, CHAT_TEMPLATE_KEY),
    )
    return pixel


class PixelConfigCheck(Callback):
    """Hydra callback running :func:`check_trainer_config` in the driver, before the task function (and Ray)."""

    def on_job_start(self, config: Any, **kwargs: Any) -> None:
        """Check the composed config (hydra passes it with its ``hydra`` node, which is not read).

        Raises:
            SystemExit: with the error's message, when a check fails (an ``Exception`` would only be warned about).
        """
        try:
            check_trainer_config(config)
        except ValueError as err:
            raise SystemExit(f"verl-pixel config error: {err}") from None
        logger.info("verl-pixel config checked: pixel section, hf engine kwargs and tool YAML are valid")
