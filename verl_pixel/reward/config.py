"""Every reward constant, in one frozen, typed config tree (METHOD.md §3). Defaults are METHOD's.

::

    ShapingConfig
    ├── method               "none" | "curiosity" | "look_less" | "deepeyes" | "hdpo" | "adatooler"
    ├── correct_threshold    r_acc >= this counts as correct (Look Less alignment, DeepEyes gate, HDPO)
    ├── uniform_threshold    groups this close to uniform are filtered by pixel/group/filter_reward
    ├── ignore_exceed        Mini-o3: rollouts stopped by a limit in exceed_stops leave the loss (any method)
    ├── exceed_stops         the stop reasons that count as exceeding (turn, operation and image limits)
    ├── format: FormatConfig             r_fmt and its weight
    ├── curiosity: CuriosityConfig       Pixel Reasoner (alpha, H, variant, redundancy: beta, N)
    ├── look_less: LookLessConfig        Look Less (margin, lambda_instr, lambda_align, alignment table, ...)
    ├── deepeyes: DeepEyesConfig         DeepEyes (0.8, 0.2, 1.2)
    ├── hdpo: HdpoConfig                 Metis (w_acc 1.0, w_tool 0.15)
    └── adatooler: AdaToolerConfig       AdaTooler-V (alpha 0.6, gamma 2, n_max 6, where Delta S comes from)

Build it from a plain mapping (a Hydra/OmegaConf container, verl ``sampler_kwargs``) with
:meth:`ShapingConfig.from_mapping`; unknown keys and out-of-range values raise ``ValueError`` naming the key's full
path (``look_less.alignment.b2: ...``); a sub-config built directly names its own field.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Mapping
from typing import Any, Literal

from verl_pixel.plain_values import reject_unknown_keys
from verl_pixel.record import StopReason

Method = Literal["none", "curiosity", "look_less", "deepeyes", "hdpo", "adatooler"]
CuriosityVariant = Literal["paper", "released_code"]
OpCount = Literal["succeeded", "attempted"]
ProbeGradient = Literal["own_group", "pooled", "off"]
ProbeAccuracy = Literal["complied", "all"]
FormatRule = Literal["pixel", "deepeyes"]
DeltaSource = Literal["row", "probes"]
# StopReason values (verl_pixel.record) that mean "stopped by a turn or operation limit" (Mini-o3's exceed).
EXCEED_STOPS_DEFAULT = ("max_turns", "max_operations", "max_images")
STOP_REASONS = tuple(reason.value for reason in StopReason)


@dataclasses.dataclass(frozen=True)
class FormatConfig:
    r"""The format score ``r_fmt`` in {-1, 0} and its weight in the total (METHOD §3).

    Attributes:
        weight: coefficient of ``r_fmt`` in every method but DeepEyes (which has its own, 0.2). Default 0.
        penalize_failed_ops: an operation answered with an error (``ops_failed > 0``: malformed JSON, bad
            arguments) is a format error.
        require_explicit_answer: a response without a non-empty ``\boxed{}`` or ``<answer>`` is a format error.
        rule: ``pixel`` (the two checks above) or ``deepeyes``: DeepEyes' ``vl_agent.py`` ``compute_score`` rule
            instead (unbalanced ``<think>`` tags, unbalanced ``<answer>`` tags after the last ``</think>``, or an
            answer of 1000+ characters, which also scores ``r_acc`` 0; see
            :mod:`verl_pixel.reward.scoring.format_rules`).
    """

    weight: float = 0.0
    penalize_failed_ops: bool = True
    require_explicit_answer: bool = True
    rule: FormatRule = "pixel"

    def __post_init__(self) -> None:
        check_number("weight", self.weight, low=0.0)
        check_choice("rule", self.rule, FormatRule)


@dataclasses.dataclass(frozen=True)
class RedundancyConfig:
    """The penalty ``beta * min(N - n_vo, 0)`` on operations beyond the first N.

    Attributes:
        beta: penalty per extra operation (0.05).
        free_ops: N, operations allowed without penalty (1).
    """

    beta: float = 0.05
    free_ops: int = 1

    def __post_init__(self) -> None:
        check_number("beta", self.beta, low=0.0)
        if isinstance(self.free_ops, bool) or not isinstance(self.free_ops, int) or self.free_ops < 0:
            raise ValueError(f"free_ops: expected an integer >= 0, got {self.free_ops!r}")


@dataclasses.dataclass(frozen=True)
class CuriosityConfig:
    r"""Pixel Reasoner's curiosity bonus (paper App. C.3): ``alpha * max(H - RaPR, 0) * 1[used]``.

    Attributes:
        variant: ``paper`` (default) or ``released_code``: the released OpenRLHF code multiplies the bonus by
            ``code_scale / RaPR``, counts *attempted* calls (for RaPR, ``used`` and ``n_vo``) where the paper
            counts successful ones, weighs video rollouts by ``video_alpha``, zeroes a correct answer given right
            after an unfixed tool error (``zero_correct_after_error``) and can score unparsable answers
            ``unparsable_score``. The last three apply to ``released_code`` only.
        alpha: bonus weight (0.5; the released code's ``/ 2.0``).
        target_rapr: H, the RaPR below which tool use earns the bonus (0.3).
        code_scale: the released code's extra factor numerator (0.25).
        redundancy: beta and N.
        video_alpha: ``released_code``: the bonus weight of a rollout whose input is a video (its ``/ 1.5``).
        zero_correct_after_error: ``released_code``: a correct answer (``r_acc >= correct_threshold``; the code's
            ``> 0.5``) right after a tool call that failed and was not retried (``TrajectoryRecord.
            last_call_failed``) scores 0. The code reads that flag with the group-local index (a bug that makes
            every group reuse the first group's flags); the rollout's own flag is used here.
        unparsable_score: ``released_code``: ``r`` of a wrong answer the model did not mark (no ``\boxed{}`` /
            ``<answer>``). The code's ``do_verify`` returns -1.0 when math-verify parses nothing; -1.0 reproduces
            that, the default 0.0 keeps ``r_acc``.
    """

    variant: CuriosityVariant = "paper"
    alpha: float = 0.5
    target_rapr: float = 0.3
    code_scale: float = 0.25
    redundancy: RedundancyConfig = dataclasses.field(default_factory=RedundancyConfig)
    video_alpha: float = 1 / 1.5
    zero_correct_after_error: bool = True
    unparsable_score: float = 0.0

    def __post_init__(self) -> None:
        check_choice("variant", self.variant, CuriosityVariant)
        check_type("redundancy", self.redundancy, RedundancyConfig)
        check_number("alpha", self.alpha, low=0.0)
        check_number("target_rapr", self.target_rapr, low=0.0, high=1.0)
        check_number("code_scale", self.code_scale, low=0.0)
        check_number("video_alpha", self.video_alpha, low=0.0)
        check_number("unparsable_score", self.unparsable_score, low=-1.0, high=0.0)
        if not isinstance(self.zero_correct_after_error, bool):
            raise ValueError(f"zero_correct_after_error: expected true or false, got {self.zero_correct_after_error!r}")

    @property
    def op_count(self) -> OpCount:
        """Which operations count: successful ones (paper) or attempted ones (released code)."""
        return "succeeded" if self.variant == "paper" else "attempted"


@dataclasses.dataclass(frozen=True)
class AlignmentTable:
    """Look Less alignment reward ``A(need, used, correct)`` ([ours] reconstruction, METHOD §3).

    need = 1: ``b1`` used a tool and correct, ``b2`` used a tool and wrong, ``b3`` no tool.
    need = 0: ``c1`` no tool and correct, ``c3`` no tool and wrong, ``c2`` used a tool.
    Following the label even when wrong must beat going against it: ``b2 > b3`` and ``c3 > c2``.
    """

    b1: float = 1.0
    b2: float = 0.2
    b3: float = -0.2
    c1: float = 1.0
    c2: float = -0.2
    c3: float = 0.2

    def __post_init__(self) -> None:
        for name in ("b1", "b2", "b3", "c1", "c2", "c3"):
            check_number(name, getattr(self, name))
        if not self.b2 > self.b3:
            raise ValueError(f"b2: need b2 > b3 (tool when needed beats no tool), got {self.b2} <= {self.b3}")
        if not self.c3 > self.c2:
            raise ValueError(f"c3: need c3 > c2 (no tool when not needed beats a tool), got {self.c3} <= {self.c2}")


@dataclasses.dataclass(frozen=True)
class LookLessConfig:
    """Look Less adaptive dual rollouts ([ours] reconstruction; METHOD §3).

    Attributes:
        margin: need(x) = 1 iff acc_tool > acc_no + margin (ties mean no tool).
        lambda_instr: probe reward bonus for complying with the probe's mode (0.5).
        lambda_align: weight of the alignment table for adaptive rollouts (0.5).
        alignment: the table b1..c3.
        redundancy: beta and N of the extra-operation penalty on adaptive rollouts.
        op_count: what ``used`` and ``n_vo`` count: ``succeeded`` operations (default, the TUR definition) or
            ``attempted`` ones.
        probe_accuracy: which probe rollouts acc_tool / acc_no average: ``complied`` (default) only those that
            obeyed their mode (a force_tool rollout that answered without a successful operation is no evidence of
            accuracy *with* the tool; with none complying need(x) is undefined), or ``all`` of them (the first
            look-or-not run: as the policy stopped obeying force_tool, acc_tool fell to acc_no and need(x) to 0,
            which penalized every tool call, a collapse that fed itself; see benchmarks/results/adaptive_learning.md).
        probe_gradient: ``own_group`` (default): probes train, one advantage group per mode;
            ``pooled``: all rollouts of the prompt in one advantage group; ``off``: probes do not train.
    """

    margin: float = 0.0
    lambda_instr: float = 0.5
    lambda_align: float = 0.5
    alignment: AlignmentTable = dataclasses.field(default_factory=AlignmentTable)
    redundancy: RedundancyConfig = dataclasses.field(default_factory=RedundancyConfig)
    op_count: OpCount = "succeeded"
    probe_gradient: ProbeGradient = "own_group"
    probe_accuracy: ProbeAccuracy = "complied"

    def __post_init__(self) -> None:
        check_number("margin", self.margin, low=0.0, high=1.0)
        check_type("alignment", self.alignment, AlignmentTable)
        check_type("redundancy", self.redundancy, RedundancyConfig)
        check_number("lambda_instr", self.lambda_instr, low=0.0)
        check_number("lambda_align", self.lambda_align, low=0.0)
        check_choice("op_count", self.op_count, OpCount)
        check_choice("probe_gradient", self.probe_gradient, ProbeGradient)
        check_choice("probe_accuracy", self.probe_accuracy, ProbeAccuracy)


@dataclasses.dataclass(frozen=True)
class DeepEyesConfig:
    """DeepEyes' gated tool bonus: ``acc_weight*r_acc + fmt_weight*r_fmt + tool_weight*1[used tool and correct]``.

    Defaults 0.8 / 0.2 / 1.2 are ``verl/utils/reward_score/vl_agent.py`` of Visual-Agent/DeepEyes.
    """

    acc_weight: float = 0.8
    fmt_weight: float = 0.2
    tool_weight: float = 1.2

    def __post_init__(self) -> None:
        for name in ("acc_weight", "fmt_weight", "tool_weight"):
            check_number(name, getattr(self, name), low=0.0)


@dataclasses.dataclass(frozen=True)
class HdpoConfig:
    """Metis' HDPO: accuracy and tool-efficiency advantages normalised separately, then combined.

    Accio-Lab/Metis (arXiv 2604.08545), ``verl_tool/trainer/ppo/hdpo_algos.py`` (``compute_hdpo_advantage``: GRPO
    on the accuracy reward, a conditional GRPO on the tool reward among qualifying rollouts) and
    ``verl_tool/workers/reward_manager/metis.py`` (tool reward ``1 / (T + 1)`` for a correct answer, 0 otherwise,
    T the rollout's tool turns); ``workers/hdpo_actor.py`` weighs the two losses ``w_acc`` and ``w_tool``.

    Attributes:
        acc_weight: w_acc (1.0).
        tool_weight: w_tool (0.15, the Metis setting).
        op_count: what T counts: ``attempted`` calls (default; Metis counts every tool interaction) or
            ``succeeded`` ones.
    """

    acc_weight: float = 1.0
    tool_weight: float = 0.15
    op_count: OpCount = "attempted"

    def __post_init__(self) -> None:
        check_number("acc_weight", self.acc_weight, low=0.0)
        check_number("tool_weight", self.tool_weight, low=0.0)
        check_choice("op_count", self.op_count, OpCount)


@dataclasses.dataclass(frozen=True)
class AdaToolerConfig:
    """AdaTooler-V's tool-benefit reward: ``r_acc + alpha * Delta S * exp(-gamma * ((n_tool - n_max) / n_max)^2)``.

    CYWang735/AdaTooler-V (arXiv 2512.16918), ``verl_tool/workers/reward_manager/adatooler_v.py``
    (``compute_ATReward``; alpha 0.6, gamma 2, n_max 6, n_tool the valid actions). There Delta S (the "Tool
    Benefit Score") is a per-sample field precomputed with a 72B teacher (accuracy with minus without tools).

    Attributes:
        alpha: 0.6.
        gamma: 2.0.
        max_tools: n_max (6).
        delta_source: ``row``: Delta S is the row's ``extra_info[delta_field]`` (AdaTooler-V's offline score);
            ``probes`` [ours]: the policy's own acc_tool - acc_no (the necessity memory's posterior means when
            ``pixel.probing.enable``, else the group's probes).
        delta_field: the ``extra_info`` key of the row's Delta S.
        op_count: what n_tool counts: ``succeeded`` operations (default, AdaTooler-V's valid actions) or
            ``attempted`` ones.
    """

    alpha: float = 0.6
    gamma: float = 2.0
    max_tools: int = 6
    delta_source: DeltaSource = "row"
    delta_field: str = "Tool_Benefit_Score"
    op_count: OpCount = "succeeded"

    def __post_init__(self) -> None:
        check_number("alpha", self.alpha, low=0.0)
        check_number("gamma", self.gamma, low=0.0)
        if isinstance(self.max_tools, bool) or not isinstance(self.max_tools, int) or self.max_tools < 1:
            raise ValueError(f"max_tools: expected an integer >= 1, got {self.max_tools!r}")
        check_choice("delta_source", self.delta_source, DeltaSource)
        if not isinstance(self.delta_field, str) or not self.delta_field:
            raise ValueError(f"delta_field: expected a non-empty string, got {self.delta_field!r}")
        check_choice("op_count", self.op_count, OpCount)


@dataclasses.dataclass(frozen=True)
class ShapingConfig:
    """The whole reward configuration.

    Attributes:
        method: which group shaping runs; ``look_less`` (the project's method) by default.
        correct_threshold: ``r_acc >= correct_threshold`` is "correct". 0.5 makes a binary score's 1 correct and,
            because a non-zero ANLS (tau = 0.5) is always >= 0.5, any ANLS within the threshold correct.
        format: the format score.
        curiosity: Pixel Reasoner constants.
        look_less: Look Less constants.
        deepeyes: DeepEyes constants.
        uniform_threshold: a group whose shaped totals have a mean absolute deviation below this counts as
            uniform for the group filter metric ``pixel/group/filter_reward`` (Pixel Reasoner drops groups under
            0.01, ``experience_maker.py`` line 2462); 0.0 (default) means only exactly equal totals, like verl's
            own ``reward`` metric.
        hdpo: Metis HDPO constants.
        adatooler: AdaTooler-V constants.
        ignore_exceed: Mini-o3's ``actor_rollout_ref.actor.ignore_exceed``: a rollout whose stop reason is in
            ``exceed_stops`` is left out of its group's shaping and of the loss (frozen) instead of scored 0.
        exceed_stops: the stop reasons that count as exceeding a limit.
    """

    method: Method = "look_less"
    correct_threshold: float = 0.5
    uniform_threshold: float = 0.0
    ignore_exceed: bool = False
    exceed_stops: tuple[str, ...] = EXCEED_STOPS_DEFAULT
    format: FormatConfig = dataclasses.field(default_factory=FormatConfig)
    curiosity: CuriosityConfig = dataclasses.field(default_factory=CuriosityConfig)
    look_less: LookLessConfig = dataclasses.field(default_factory=LookLessConfig)
    deepeyes: DeepEyesConfig = dataclasses.field(default_factory=DeepEyesConfig)
    hdpo: HdpoConfig = dataclasses.field(default_factory=HdpoConfig)
    adatooler: AdaToolerConfig = dataclasses.field(default_factory=AdaToolerConfig)

    def __post_init__(self) -> None:
        check_choice("method", self.method, Method)
        check_type("format", self.format, FormatConfig)
        check_type("curiosity", self.curiosity, CuriosityConfig)
        check_type("look_less", self.look_less, LookLessConfig)
        check_type("deepeyes", self.deepeyes, DeepEyesConfig)
        check_type("hdpo", self.hdpo, HdpoConfig)
        check_type("adatooler", self.adatooler, AdaToolerConfig)
        if not isinstance(self.ignore_exceed, bool):
            raise ValueError(f"ignore_exceed: expected true or false, got {self.ignore_exceed!r}")
        if isinstance(self.exceed_stops, str) or not isinstance(self.exceed_stops, (list, tuple)):
            raise ValueError(f"exceed_stops: expected a list of stop reasons, got {self.exceed_stops!r}")
        object.__setattr__(self, "exceed_stops", tuple(self.exceed_stops))
        for reason in self.exceed_stops:
            if reason not in STOP_REASONS:
                raise ValueError(f"exceed_stops: {reason!r} is not one of {', '.join(STOP_REASONS)}")
        check_number("correct_threshold", self.correct_threshold, low=0.0, high=1.0)
        check_number("uniform_threshold", self.uniform_threshold, low=0.0)
        if self.correct_threshold == 0.0:
            raise ValueError("correct_threshold: must be > 0, else every answer counts as correct")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> ShapingConfig:
        """Build from nested plain mappings; missing keys keep their defaults.

        Raises:
            ValueError: for an unknown key or an invalid value (names the key).
        """
        return build_config(cls, data or {}, "")


def build_config(cls: type, data: Mapping[str, Any], prefix: str) -> Any:
    """Build the frozen dataclass ``cls`` from nested mappings; errors name the key's path from ``prefix``."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{prefix.rstrip('.') or 'config'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    reject_unknown_keys(data, (field.name for field in dataclasses.fields(cls)), prefix.rstrip("."))
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = build_config(hint, value, f"{prefix}{name}.")
        elif hint is float and isinstance(value, int) and not isinstance(value, bool):
            kwargs[name] = float(value)
        else:
            kwargs[name] = value
    try:
        return cls(**kwargs)
    except ValueError as err:
        # The dataclasses name the field only; from a mapping, name its full path.
        raise ValueError(f"{prefix}{err}") from None


def check_number(name: str, value: Any, low: float | None = None, high: float | None = None) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is a finite number within ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name}: {value} is outside [{low}, {high}]")


def check_choice(name: str, value: Any, choices: Any) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is one of the ``Literal`` type ``choices``."""
    allowed = typing.get_args(choices)
    if value not in allowed:
        raise ValueError(f"{name}: {value!r} is not one of {', '.join(allowed)}")


def check_type(name: str, value: Any, cls: type) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is a ``cls`` (a sub-config built from a mapping)."""
    if not isinstance(value, cls):
        raise ValueError(f"{name}: expected a {cls.__name__} (use ShapingConfig.from_mapping for dicts), got {value!r}")
