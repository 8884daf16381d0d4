import dataclasses

import pytest

from verl_pixel.reward.config import (
    AlignmentTable,
    CuriosityConfig,
    DeepEyesConfig,
    FormatConfig,
    LookLessConfig,
    RedundancyConfig,
    ShapingConfig,
)


def test_defaults_are_method_md() -> None:
    config = ShapingConfig()
    assert config.method == "look_less" and config.correct_threshold == 0.5
    assert config.format == FormatConfig(weight=0.0, penalize_failed_ops=True, require_explicit_answer=True)
    assert (config.curiosity.variant, config.curiosity.alpha, config.curiosity.target_rapr) == ("paper", 0.5, 0.3)
    assert config.curiosity.redundancy == RedundancyConfig(beta=0.05, free_ops=1)
    assert config.curiosity.op_count == "succeeded"
    look_less = config.look_less
    assert (look_less.margin, look_less.lambda_instr, look_less.lambda_align) == (0.0, 0.5, 0.5)
    assert look_less.alignment == AlignmentTable(b1=1.0, b2=0.2, b3=-0.2, c1=1.0, c2=-0.2, c3=0.2)
    assert (look_less.op_count, look_less.probe_gradient) == ("succeeded", "own_group")
    assert config.deepeyes == DeepEyesConfig(acc_weight=0.8, fmt_weight=0.2, tool_weight=1.2)


def test_released_code_variant_counts_attempts() -> None:
    assert CuriosityConfig(variant="released_code").op_count == "attempted"


def test_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        ShapingConfig().method = "none"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: AlignmentTable(b2=-0.2, b3=-0.2), "b2: need b2 > b3"),
        (lambda: AlignmentTable(b2=-0.5), "b2: need b2 > b3"),
        (lambda: AlignmentTable(c3=-0.2), "c3: need c3 > c2"),
        (lambda: AlignmentTable(c2=0.3), "c3: need c3 > c2"),
        (lambda: AlignmentTable(b1=float("nan")), "b1: expected a finite number"),
        (lambda: RedundancyConfig(free_ops=-1), "free_ops"),
        (lambda: RedundancyConfig(free_ops=1.5), "free_ops"),  # type: ignore[arg-type]
        (lambda: RedundancyConfig(beta=-0.05), "beta"),
        (lambda: CuriosityConfig(variant="code"), "variant"),  # type: ignore[arg-type]
        (lambda: CuriosityConfig(target_rapr=1.5), "target_rapr"),
        (lambda: LookLessConfig(margin=-0.1), "margin"),
        (lambda: LookLessConfig(probe_gradient="yes"), "probe_gradient"),  # type: ignore[arg-type]
        (lambda: LookLessConfig(op_count="all"), "op_count"),  # type: ignore[arg-type]
        (lambda: FormatConfig(weight=True), "weight"),  # type: ignore[arg-type]
        (lambda: DeepEyesConfig(tool_weight="1.2"), "tool_weight"),  # type: ignore[arg-type]
        (lambda: ShapingConfig(method="grpo"), "method"),  # type: ignore[arg-type]
        (lambda: ShapingConfig(correct_threshold=0.0), "correct_threshold"),
        (lambda: ShapingConfig(correct_threshold=1.1), "correct_threshold"),
        (lambda: ShapingConfig(format={"weight": 0.5}), "format: expected a FormatConfig"),  # type: ignore[arg-type]
        (lambda: LookLessConfig(alignment=None), "alignment: expected an? AlignmentTable"),  # type: ignore[arg-type]
    ],
)
def test_invalid_values_are_named(build, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_from_mapping_nested() -> None:
    config = ShapingConfig.from_mapping(
        {
            "method": "curiosity",
            "curiosity": {"variant": "released_code", "alpha": 1, "redundancy": {"beta": 0.1}},
            "look_less": {"alignment": {"b1": 2}},
        }
    )
    assert config.method == "curiosity"
    assert config.curiosity == CuriosityConfig(variant="released_code", alpha=1.0, redundancy=RedundancyConfig(0.1, 1))
    assert isinstance(config.curiosity.alpha, float)
    assert config.look_less.alignment.b1 == 2.0
    assert ShapingConfig.from_mapping(None) == ShapingConfig() == ShapingConfig.from_mapping({})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"methd": "none"}, r"^methd: unknown key"),
        ({"look_less": {"alignment": {"b4": 1.0}}}, r"^look_less\.alignment\.b4: unknown"),
        ({"look_less": {"alignment": {"b2": -1.0}}}, r"^look_less\.alignment\.b2: need b2 > b3"),
        ({"curiosity": {"redundancy": {"beta": -1}}}, r"^curiosity\.redundancy\.beta: "),
        ({"look_less": {"redundancy": {"free_ops": "one"}}}, r"^look_less\.redundancy\.free_ops: "),
        ({"deepeyes": 3}, r"^deepeyes: expected a mapping"),
        ({"method": "nope"}, r"^method: 'nope' is not one of"),
    ],
)
def test_from_mapping_errors_name_the_path(data: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ShapingConfig.from_mapping(data)
