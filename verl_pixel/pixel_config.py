"""The ``pixel`` section of verl's config: one validator for the whole section, and its checks against the run.

verl-pixel keeps its knobs in a top-level ``pixel`` section of verl's ``ppo_trainer`` config, one subsection per
component; every key is optional and an absent section means all defaults (METHOD.md)::

    pixel:
      rollout:                       # PixelRolloutConfig (verl_pixel/rollout/config.py), read by pixel_agent
        mode_layout: {adaptive: 8, force_tool: 4, no_tool: 4}   # sums to actor_rollout_ref.rollout.n
        instructions: {force_tool: "...", no_tool: "..."}       # system-prompt addition per mode
        default_system_prompt: "..."
      reward:                        # ShapingConfig (verl_pixel/reward/config.py), read by the reward side
        method: look_less            # none | curiosity | look_less | deepeyes
        correct_threshold: 0.5
        uniform_threshold: 0.0       # near-uniform groups for the group filter metric (Pixel Reasoner: 0.01)
        format: {weight: 0.0, penalize_failed_ops: true, require_explicit_answer: true, rule: pixel}  # | deepeyes
        curiosity:
          variant: paper             # paper | released_code
          alpha: 0.5
          target_rapr: 0.3
          code_scale: 0.25
          redundancy: {beta: 0.05, free_ops: 1}
          video_alpha: 0.6667        # released_code: its /1.5 for video rollouts
          zero_correct_after_error: true   # released_code
          unparsable_score: 0.0      # released_code: -1.0 reproduces do_verify
        look_less:
          margin: 0.0
          lambda_instr: 0.5
          lambda_align: 0.5
          op_count: succeeded        # succeeded | attempted
          probe_gradient: own_group  # own_group | pooled | off
          probe_accuracy: complied   # complied | all: which probe rollouts acc_tool / acc_no average
          alignment: {b1: 1.0, b2: 0.2, b3: -0.2, c1: 1.0, c2: -0.2, c3: 0.2}
          redundancy: {beta: 0.05, free_ops: 1}
        deepeyes: {acc_weight: 0.8, fmt_weight: 0.2, tool_weight: 1.2}
        hdpo: {acc_weight: 1.0, tool_weight: 0.15, op_count: attempted}
        adatooler: {alpha: 0.6, gamma: 2.0, max_tools: 6, delta_source: row, delta_field: Tool_Benefit_Score}
        ignore_exceed: false         # Mini-o3: rollouts cut off by a limit leave the loss
        exceed_stops: [max_turns, max_operations, max_images]
      probing:                       # ProbingConfig (verl_pixel/reward/probing_config.py): the necessity memory
        enable: false
        settle_z: 1.28
        tolerance: 0.35
        lean_z: 1.0
        few_probes: 1
        reprobe_every: 4
        decay: 0.8
        prior: 1.0
        adaptive_weight: 0.5

Hydra: verl's ``ppo_trainer`` has no ``pixel`` key, so on the command line a new key needs ``+``
(``+pixel.reward.method=curiosity``); in a YAML composed on ``ppo_trainer`` write the section as is.

Where it is validated. Every process that reads the section builds the whole :class:`PixelConfig` with
:func:`pixel_config`, never just its own subsection: the start-up check in the driver
(:mod:`verl_pixel.startup_check`, a hydra callback in the shipped configs, before Ray starts), ``pixel_agent``, the
``pixel`` reward manager and the group-shaping replay buffer. An unknown subsection or key anywhere
(``pixel.rewards``, ``pixel.rolout``, ``pixel.rollout.mode_layot``, ``pixel.reward.look_less.lamda_instr``) or a
bad value is a ``ValueError`` naming its full path and the known keys.

:func:`check_against_run` checks what the section must agree with in the trainer's settings (the start-up check
and the replay buffer run it):

* training (not ``trainer.val_only``): a given ``mode_layout`` sums to ``actor_rollout_ref.rollout.n``, else some
  rollouts would silently run adaptive or probes would silently be dropped. No layout (the default) means every
  rollout runs adaptive, for any ``n``;
* training with ``pixel.reward.method=look_less``: the layout has ``force_tool`` and ``no_tool`` probes, else
  need(x) is undefined in every group and Look Less silently trains on accuracy alone. Probes under another method
  are allowed (an ablation) with a warning;
* validation (``val_kwargs.n`` sessions 0..n-1, numbered like training's): all of them run one mode, so validation
  metrics never mix adaptive rollouts with probes;
* ``pixel.reward.method=adatooler`` with ``delta_source: probes``: the layout has both probe modes (like Look Less);
* ``pixel.reward.method=hdpo``: ``algorithm.adv_estimator=pixel_precomputed`` and no KL in the reward (the buffer
  writes finished advantages that must reach the loss unchanged), and the estimator is not used by another method;
* ``pixel.probing.enable``: the method is ``look_less`` or ``adatooler`` with ``delta_source: probes`` (the memory
  labels need(x) for them only), the layout has probes, the training dataset is ``PixelRLDataset`` (it writes each
  row's probe plan) and ``data.dataloader_num_workers=0`` (the plan is decided from the memory in the trainer
  process; a worker process would plan from a stale copy, and the memory rides in the checkpoint as the dataset's
  state, which torchdata keeps per worker). The mode-layout-vs-n rule still holds: the layout (the full probes)
  sums to ``rollout.n``, and every plan runs the layout's adaptive rollouts and at most its probes, so a group never
  exceeds ``n`` (verl's per-row ``__rollout_n__``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from verl_pixel.constants import PRECOMPUTED_ADV_ESTIMATOR
from verl_pixel.plain_values import config_mapping, reject_unknown_keys
from verl_pixel.record import RolloutMode
from verl_pixel.reward.config import ShapingConfig
from verl_pixel.reward.probing_config import ProbingConfig
from verl_pixel.rollout.config import PixelRolloutConfig
from verl_pixel.rollout.modes import mode_for_session

PIXEL_SECTION = "pixel"
ROLLOUT_N_KEY = "actor_rollout_ref.rollout.n"
VAL_N_KEY = "actor_rollout_ref.rollout.val_kwargs.n"
VAL_ONLY_KEY = "trainer.val_only"
ADV_ESTIMATOR_KEY = "algorithm.adv_estimator"
PROBING_DATASET = "PixelRLDataset"
LOOK_LESS = "look_less"
PROBES = (RolloutMode.FORCE_TOOL, RolloutMode.NO_TOOL)


@dataclasses.dataclass(frozen=True)
class PixelConfig:
    """The whole ``pixel`` section: one typed, frozen config per subsection.

    Attributes:
        rollout: ``pixel.rollout``, the ``pixel_agent`` loop's modes and instructions.
        reward: ``pixel.reward``, scoring and group shaping.
        probing: ``pixel.probing``, the necessity memory and adaptive probing.
    """

    rollout: PixelRolloutConfig = dataclasses.field(default_factory=PixelRolloutConfig)
    reward: ShapingConfig = dataclasses.field(default_factory=ShapingConfig)
    probing: ProbingConfig = dataclasses.field(default_factory=ProbingConfig)

    @classmethod
    def from_mapping(cls, section: Mapping[str, Any] | None) -> PixelConfig:
        """Build from the ``pixel`` mapping (plain or OmegaConf; None: all defaults).

        Raises:
            ValueError: for an unknown subsection or key, or a bad value, naming its full path from ``pixel``.
        """
        section = config_mapping(section, PIXEL_SECTION)
        reject_unknown_keys(section, (field.name for field in dataclasses.fields(cls)), PIXEL_SECTION, "section")
        return cls(
            rollout=PixelRolloutConfig.from_mapping(section.get("rollout")),
            reward=_reward(section),
            probing=ProbingConfig.from_mapping(section.get("probing")),
        )


def _reward(section: Mapping[str, Any]) -> ShapingConfig:
    path = f"{PIXEL_SECTION}.reward"
    reward = config_mapping(section.get("reward"), path)
    try:
        return ShapingConfig.from_mapping(reward)
    except ValueError as err:  # the reward core names the key relative to its own root
        raise ValueError(f"{path}.{err}") from None


def pixel_config(config: Mapping[str, Any] | None) -> PixelConfig:
    """The validated ``pixel`` section of verl's whole config (defaults when absent).

    Raises:
        ValueError: naming the full path of an unknown or bad key.
    """
    return PixelConfig.from_mapping(None if config is None else config.get(PIXEL_SECTION))


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """The trainer settings the ``pixel`` section must agree with.

    Attributes:
        rollout_n: ``actor_rollout_ref.rollout.n``, rollouts per prompt in training.
        val_n: ``actor_rollout_ref.rollout.val_kwargs.n``, rollouts per prompt in validation.
        val_only: ``trainer.val_only``: no training step runs.
        adv_estimator: ``algorithm.adv_estimator`` (None: not known).
        use_kl_in_reward: ``algorithm.use_kl_in_reward``.
        dataloader_workers: ``data.dataloader_num_workers``.
        dataset_class: ``data.custom_cls.name`` (``RLHFDataset`` when unset; None: not known).
    """

    rollout_n: int
    val_n: int = 1
    val_only: bool = False
    adv_estimator: str | None = None
    use_kl_in_reward: bool = False
    dataloader_workers: int = 0
    dataset_class: str | None = None

    @classmethod
    def from_trainer_config(cls, config: Mapping[str, Any] | None) -> RunSettings | None:
        """Read them from verl's whole config; None when it has no ``rollout.n`` (not a ``ppo_trainer`` config)."""
        rollout_n = select(config, ROLLOUT_N_KEY)
        if rollout_n is None:
            return None
        return cls(
            rollout_n=int(rollout_n),
            val_n=int(select(config, VAL_N_KEY) or 1),
            val_only=bool(select(config, VAL_ONLY_KEY)),
            adv_estimator=select(config, ADV_ESTIMATOR_KEY),
            use_kl_in_reward=bool(select(config, "algorithm.use_kl_in_reward")),
            dataloader_workers=int(select(config, "data.dataloader_num_workers") or 0),
            dataset_class=select(config, "data.custom_cls.name") or "RLHFDataset",
        )


def select(config: Mapping[str, Any] | None, dotted: str) -> Any:
    """``config.a.b.c`` for ``"a.b.c"`` through nested mappings (OmegaConf included); None when absent."""
    node: Any = config
    for key in dotted.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def check_against_run(pixel: PixelConfig, run: RunSettings | None) -> list[str]:
    """Check the section against the trainer settings (the rules in the module docstring).

    Returns:
        Warnings to log (settings that are allowed but probably not meant).

    Raises:
        ValueError: naming both sides of a disagreement.
    """
    if run is None:
        return []
    _check_validation_sessions(pixel.rollout, run.val_n)
    if run.val_only:
        return []
    layout, method = pixel.rollout, pixel.reward.method
    if layout.mode_layout and layout.group_size != run.rollout_n:
        raise ValueError(
            f"pixel.rollout.mode_layout sums to {layout.group_size} ({describe_layout(layout)}) but "
            f"{ROLLOUT_N_KEY}={run.rollout_n}: each of a prompt's n rollouts takes its mode from the layout by "
            "session id, so they must be equal (else probes are dropped or extra rollouts run adaptive)"
        )
    has_probes = all(layout.count(mode) > 0 for mode in PROBES)
    if method == LOOK_LESS and not has_probes:
        raise ValueError(
            f"pixel.reward.method=look_less needs force_tool and no_tool probes in pixel.rollout.mode_layout, got "
            f"{describe_layout(layout)}: without both, need(x) is undefined in every group and Look Less trains on "
            "accuracy alone; add probes (e.g. {adaptive: 8, force_tool: 4, no_tool: 4} with rollout.n=16) or set "
            "pixel.reward.method to none, curiosity or deepeyes"
        )
    if uses_probes(pixel.reward) and not has_probes:
        raise ValueError(
            f"pixel.reward.method=adatooler with adatooler.delta_source=probes needs force_tool and no_tool probes "
            f"in pixel.rollout.mode_layout, got {describe_layout(layout)}: Delta S is acc_tool - acc_no"
        )
    _check_advantage_estimator(pixel, run)
    _check_probing(pixel, run)
    probes = [mode.value for mode in PROBES if layout.count(mode) > 0]
    if not uses_probes(pixel.reward) and probes:
        return [
            f"pixel.reward.method={method} with {' and '.join(probes)} rollouts in pixel.rollout.mode_layout "
            f"({describe_layout(layout)}): only look_less (and adatooler with delta_source=probes) uses probes; "
            f"{method} rewards them like adaptive rollouts"
        ]
    return []


def uses_probes(reward: ShapingConfig) -> bool:
    """Whether the method reads the probes: Look Less, or AdaTooler-V with Delta S from the probes."""
    return reward.method == LOOK_LESS or (reward.method == "adatooler" and reward.adatooler.delta_source == "probes")


def _check_advantage_estimator(pixel: PixelConfig, run: RunSettings) -> None:
    method, estimator = pixel.reward.method, run.adv_estimator
    if method == "hdpo" and estimator is not None and estimator != PRECOMPUTED_ADV_ESTIMATOR:
        raise ValueError(
            f"pixel.reward.method=hdpo writes finished advantages (accuracy and tool efficiency normalised apart) "
            f"but {ADV_ESTIMATOR_KEY}={estimator} would normalise them again; set "
            f"{ADV_ESTIMATOR_KEY}={PRECOMPUTED_ADV_ESTIMATOR}"
        )
    if estimator == PRECOMPUTED_ADV_ESTIMATOR and method != "hdpo":
        raise ValueError(
            f"{ADV_ESTIMATOR_KEY}={PRECOMPUTED_ADV_ESTIMATOR} hands the scores through as advantages, but "
            f"pixel.reward.method={method} writes rewards, not advantages; use it with pixel.reward.method=hdpo only"
        )
    if method == "hdpo" and run.use_kl_in_reward:
        raise ValueError(
            "pixel.reward.method=hdpo with algorithm.use_kl_in_reward=True: the KL penalty would be added to "
            "finished advantages; use the actor's KL loss (actor_rollout_ref.actor.use_kl_loss) instead"
        )


def _check_probing(pixel: PixelConfig, run: RunSettings) -> None:
    if not pixel.probing.enable:
        return
    if not uses_probes(pixel.reward):
        raise ValueError(
            f"pixel.probing.enable=true with pixel.reward.method={pixel.reward.method}: the necessity memory labels "
            "need(x) for look_less (and adatooler with delta_source=probes) only; it would spend probes for nothing"
        )
    if run.dataset_class is not None and run.dataset_class != PROBING_DATASET:
        raise ValueError(
            f"pixel.probing.enable=true needs data.custom_cls.name={PROBING_DATASET} "
            "(path pkg://verl_pixel.data.rl_dataset): that dataset writes each row's probe plan; "
            f"got {run.dataset_class}"
        )
    if run.dataloader_workers:
        raise ValueError(
            f"pixel.probing.enable=true needs data.dataloader_num_workers=0, got {run.dataloader_workers}: the "
            "probe plan is decided from the necessity memory in the trainer process, and the memory is saved with "
            "the dataset's state, which a worker process would hold a stale copy of"
        )


def _check_validation_sessions(layout: PixelRolloutConfig, val_n: int) -> None:
    modes = [mode_for_session(layout, session) for session in range(val_n)]
    if len(set(modes)) > 1:
        first = modes[0]
        same = next(i for i, mode in enumerate(modes) if mode is not first)
        raise ValueError(
            f"{VAL_N_KEY}={val_n} but pixel.rollout.mode_layout ({describe_layout(layout)}) runs validation sessions "
            f"0..{val_n - 1} as {', '.join(mode.value for mode in modes)}: validation metrics would mix modes; "
            f"use {VAL_N_KEY} <= {same}"
        )


def describe_layout(layout: PixelRolloutConfig) -> str:
    """``adaptive=8, force_tool=4, no_tool=4``, or a phrase for the empty layout."""
    if not layout.mode_layout:
        return "no layout (every rollout adaptive)"
    return ", ".join(f"{mode.value}={count}" for mode, count in layout.mode_layout)
