"""Every reward constant, in one frozen, typed config tree (METHOD.md §3). Defaults are METHOD's.

::

    ShapingConfig
    ├── method               "none" | "curiosity" | "look_less" | "deepeyes"
    ├── correct_threshold    r_acc >= this counts as correct (Look Less alignment, DeepEyes gate)
    ├── uniform_threshold    groups this close to uniform are filtered by pixel/group/filter_reward
    ├── format: FormatConfig             r_fmt and its weight
    ├── curiosity: CuriosityConfig       Pixel Reasoner (alpha, H, variant, redundancy: beta, N)
    ├── look_less: LookLessConfig        Look Less (margin, lambda_instr, lambda_align, alignment table, ...)
    └── deepeyes: DeepEyesConfig         DeepEyes (0.8, 0.2, 1.2)

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

Method = Literal["none", "curiosity", "look_less", "deepeyes"]
CuriosityVariant = Literal["paper", "released_code"]
OpCount = Literal["succeeded", "attempted"]
ProbeGradient = Literal["own_group", "pooled", "off"]
FormatRule = Literal["pixel", "deepeyes"]


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

    def __post_init__(self) -> None:
        check_number("margin", self.margin, low=0.0, high=1.0)
        check_type("alignment", self.alignment, AlignmentTable)
        check_type("redundancy", self.redundancy, RedundancyConfig)
        check_number("lambda_instr", self.lambda_instr, low=0.0)
        check_number("lambda_align", self.lambda_align, low=0.0)
        check_choice("op_count", self.op_count, OpCount)
        check_choice("probe_gradient", self.probe_gradient, ProbeGradient)


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
    """

    method: Method = "look_less"
    correct_threshold: float = 0.5
    uniform_threshold: float = 0.0
    format: FormatConfig = dataclasses.field(default_factory=FormatConfig)
    curiosity: CuriosityConfig = dataclasses.field(default_factory=CuriosityConfig)
    look_less: LookLessConfig = dataclasses.field(default_factory=LookLessConfig)
    deepeyes: DeepEyesConfig = dataclasses.field(default_factory=DeepEyesConfig)

    def __post_init__(self) -> None:
        check_choice("method", self.method, Method)
        check_type("format", self.format, FormatConfig)
        check_type("curiosity", self.curiosity, CuriosityConfig)
        check_type("look_less", self.look_less, LookLessConfig)
        check_type("deepeyes", self.deepeyes, DeepEyesConfig)
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
