"""The whole ``pixel`` section is validated in one place, and checked against the trainer's group size."""

from __future__ import annotations

import re

import pytest
from omegaconf import OmegaConf

from verl_pixel.pixel_config import PixelConfig, RunSettings, check_against_run, pixel_config
from verl_pixel.record import RolloutMode
from verl_pixel.reward.config import ShapingConfig
from verl_pixel.rollout.config import PixelRolloutConfig

ROLLOUT_KEYS = "(known: default_system_prompt, instructions, mode_layout)"
COUNT = "pixel.rollout.mode_layout.adaptive: need an integer >= 0,"
LOOK_LESS_KEYS = (
    "(known: alignment, lambda_align, lambda_instr, margin, op_count, probe_accuracy, probe_gradient, redundancy)"
)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        # section typos: before, pixel.rewards.method=none silently trained Look Less, pixel.rolout ran no probes
        ({"rewards": {"method": "none"}}, "pixel.rewards: unknown section (known: probing, reward, rollout)"),
        ({"rolout": {"mode_layout": {"no_tool": 1}}},
         "pixel.rolout: unknown section (known: probing, reward, rollout)"),
        ({"rollout": {"mode_layot": {"adaptive": 8}}}, f"pixel.rollout.mode_layot: unknown key {ROLLOUT_KEYS}"),
        (
            {"reward": {"look_less": {"lamda_instr": 0.5}}},
            f"pixel.reward.look_less.lamda_instr: unknown key {LOOK_LESS_KEYS}",
        ),
        (
            {"rollout": {"mode_layout": {"adaptve": 8}}},
            "pixel.rollout.mode_layout.adaptve: unknown mode (known: adaptive, force_tool, no_tool)",
        ),
        (
            {"rollout": {"instructions": {"zoom": "x"}}},
            "pixel.rollout.instructions.zoom: unknown mode (known: adaptive, force_tool, no_tool)",
        ),
        ({"rollout": {"mode_layout": {"adaptive": -1}}}, f"{COUNT} got -1"),
        ({"rollout": {"mode_layout": {"adaptive": "8"}}}, f"{COUNT} got '8'"),
        ({"rollout": {"mode_layout": {"adaptive": True}}}, f"{COUNT} got True"),
        ({"rollout": {"mode_layout": 8}}, "pixel.rollout.mode_layout: expected a mapping, got 8"),
        ({"rollout": {"default_system_prompt": 3}}, "pixel.rollout.default_system_prompt: need a string, got 3"),
        ({"rollout": {"instructions": {"no_tool": None}}}, "pixel.rollout.instructions.no_tool: need a string, got "
         "None"),
        ({"reward": {"method": "lookless"}}, "pixel.reward.method: 'lookless' is not one of none, curiosity, "
         "look_less, deepeyes, hdpo, adatooler"),
        ({"reward": {"look_less": {"alignment": {"b2": -1.0}}}}, "pixel.reward.look_less.alignment.b2: need b2 > b3 "
         "(tool when needed beats no tool), got -1.0 <= -0.2"),
        ({"reward": 3}, "pixel.reward: expected a mapping, got 3"),
        ({"rollout": [1]}, "pixel.rollout: expected a mapping, got [1]"),
    ],
)  # fmt: skip
def test_every_key_under_pixel_is_checked_with_its_full_path(section, message):
    with pytest.raises(ValueError) as err:
        pixel_config(OmegaConf.create({"pixel": section}))
    assert str(err.value) == message


def test_a_section_that_is_not_a_mapping_is_named():
    with pytest.raises(ValueError, match=r"^pixel: expected a mapping, got 3$"):
        pixel_config({"pixel": 3})


def test_the_section_parses_both_subsections_into_frozen_typed_configs():
    config = pixel_config(
        OmegaConf.create(
            {
                "pixel": {
                    "rollout": {"mode_layout": {"no_tool": 4, "adaptive": 8, "force_tool": 4}},
                    "reward": {"method": "curiosity", "curiosity": {"alpha": 1}},
                }
            }
        )
    )
    adaptive, force, no = RolloutMode.ADAPTIVE, RolloutMode.FORCE_TOOL, RolloutMode.NO_TOOL
    assert config.rollout.mode_layout == ((adaptive, 8), (force, 4), (no, 4))  # adaptive first, whatever the order
    assert (config.reward.method, config.reward.curiosity.alpha) == ("curiosity", 1.0)
    assert pixel_config(OmegaConf.create({})) == PixelConfig() == PixelConfig(PixelRolloutConfig(), ShapingConfig())
    assert PixelConfig().rollout.mode_layout == ()  # no layout: every rollout adaptive


def layout(**counts: int) -> PixelConfig:
    return PixelConfig.from_mapping({"rollout": {"mode_layout": counts}, "reward": {"method": "look_less"}})


def with_method(config: PixelConfig, method: str) -> PixelConfig:
    return PixelConfig(config.rollout, ShapingConfig(method=method))


LOOK_LESS_16 = layout(adaptive=8, force_tool=4, no_tool=4)


@pytest.mark.parametrize(
    ("pixel", "run", "message"),
    [
        # issue 16 item 3: n=8 with 8+4+4 ran all 8 adaptive; n=6 with 2+1+1 put two adaptive rollouts after probes
        (LOOK_LESS_16, RunSettings(8), "pixel.rollout.mode_layout sums to 16 (adaptive=8, force_tool=4, no_tool=4) but "
         "actor_rollout_ref.rollout.n=8: each of a prompt's n rollouts takes its mode from the layout by session id, "
         "so they must be equal (else probes are dropped or extra rollouts run adaptive)"),
        (layout(adaptive=2, force_tool=1, no_tool=1), RunSettings(6), "pixel.rollout.mode_layout sums to 4 "
         "(adaptive=2, force_tool=1, no_tool=1) but actor_rollout_ref.rollout.n=6"),
        (with_method(layout(adaptive=8), "curiosity"), RunSettings(16), "pixel.rollout.mode_layout sums to 8 "
         "(adaptive=8) but actor_rollout_ref.rollout.n=16"),
        # Look Less without both probes would train on accuracy alone
        (PixelConfig(), RunSettings(8), "pixel.reward.method=look_less needs force_tool and no_tool probes in "
         "pixel.rollout.mode_layout, got no layout (every rollout adaptive): without both, need(x) is undefined in "
         "every group and Look Less trains on accuracy alone; add probes (e.g. {adaptive: 8, force_tool: 4, "
         "no_tool: 4} with rollout.n=16) or set pixel.reward.method to none, curiosity or deepeyes"),
        (layout(adaptive=8), RunSettings(8), "pixel.reward.method=look_less needs force_tool and no_tool probes in "
         "pixel.rollout.mode_layout, got adaptive=8:"),
        (layout(adaptive=6, force_tool=2), RunSettings(8), "pixel.reward.method=look_less needs force_tool and "
         "no_tool probes in pixel.rollout.mode_layout, got adaptive=6, force_tool=2:"),
        (layout(adaptive=6, force_tool=2, no_tool=0), RunSettings(8), "pixel.reward.method=look_less needs "
         "force_tool and no_tool probes in pixel.rollout.mode_layout, got adaptive=6, force_tool=2, no_tool=0:"),
        # validation numbers its sessions like training: they must all run one mode
        (LOOK_LESS_16, RunSettings(16, val_n=10), "actor_rollout_ref.rollout.val_kwargs.n=10 but "
         "pixel.rollout.mode_layout (adaptive=8, force_tool=4, no_tool=4) runs validation sessions 0..9 as adaptive, "
         "adaptive, adaptive, adaptive, adaptive, adaptive, adaptive, adaptive, force_tool, force_tool: validation "
         "metrics would mix modes; use actor_rollout_ref.rollout.val_kwargs.n <= 8"),
        (LOOK_LESS_16, RunSettings(1, val_n=9, val_only=True), "actor_rollout_ref.rollout.val_kwargs.n=9 but "),
    ],
)  # fmt: skip
def test_runs_that_disagree_with_the_layout_are_refused(pixel, run, message):
    with pytest.raises(ValueError) as err:
        check_against_run(pixel, run)
    assert str(err.value).startswith(message)


@pytest.mark.parametrize(
    ("pixel", "run"),
    [
        (LOOK_LESS_16, RunSettings(16, val_n=8)),
        (with_method(PixelConfig(), "none"), RunSettings(16, val_n=4)),  # no layout: all adaptive, any n
        (with_method(layout(adaptive=16), "deepeyes"), RunSettings(16)),
        (LOOK_LESS_16, RunSettings(1, val_only=True)),  # validation only: rollout.n is not used
        (PixelConfig(), RunSettings(1, val_only=True)),  # ... and Look Less shapes nothing
    ],
)
def test_runs_that_agree_with_the_layout_pass_without_warnings(pixel, run):
    assert check_against_run(pixel, run) == []


def test_probes_under_another_method_are_allowed_with_a_warning():
    warnings = check_against_run(with_method(LOOK_LESS_16, "curiosity"), RunSettings(16))
    assert warnings == [
        "pixel.reward.method=curiosity with force_tool and no_tool rollouts in pixel.rollout.mode_layout "
        "(adaptive=8, force_tool=4, no_tool=4): only look_less (and adatooler with delta_source=probes) uses probes; "
        "curiosity rewards them like adaptive rollouts"
    ]


def test_run_settings_come_from_verl_keys():
    config = OmegaConf.create(
        {"actor_rollout_ref": {"rollout": {"n": 16, "val_kwargs": {"n": 2}}}, "trainer": {"val_only": True}}
    )
    assert RunSettings.from_trainer_config(config) == RunSettings(
        rollout_n=16, val_n=2, val_only=True, dataset_class="RLHFDataset"
    )
    config = OmegaConf.create(
        {
            "actor_rollout_ref": {"rollout": {"n": 4}},
            "algorithm": {"adv_estimator": "grpo", "use_kl_in_reward": True},
            "data": {"dataloader_num_workers": 8, "custom_cls": {"name": "PixelRLDataset"}},
        }
    )
    assert RunSettings.from_trainer_config(config) == RunSettings(
        rollout_n=4, adv_estimator="grpo", use_kl_in_reward=True, dataloader_workers=8, dataset_class="PixelRLDataset"
    )
    assert RunSettings.from_trainer_config(OmegaConf.create({"pixel": {}})) is None
    assert check_against_run(LOOK_LESS_16, None) == []


def test_the_reward_and_rollout_sides_read_the_same_whole_section():
    # before: the reward side read only pixel.reward and accepted {"rollout": {"anything": 1}}
    with pytest.raises(ValueError, match=re.escape(f"pixel.rollout.anything: unknown key {ROLLOUT_KEYS}")):
        pixel_config({"pixel": {"rollout": {"anything": 1}, "reward": {"method": "deepeyes"}}})


def probing(method: str = "look_less", **reward) -> PixelConfig:
    return PixelConfig.from_mapping(
        {
            "rollout": {"mode_layout": {"adaptive": 8, "force_tool": 4, "no_tool": 4}},
            "reward": {"method": method, **reward},
            "probing": {"enable": True},
        }
    )


PROBING_RUN = RunSettings(16, adv_estimator="grpo", dataset_class="PixelRLDataset")


@pytest.mark.parametrize(
    ("pixel", "run", "message"),
    [
        (probing("curiosity"), PROBING_RUN, "pixel.probing.enable=true with pixel.reward.method=curiosity: the "
         "necessity memory labels need\\(x\\) for look_less"),
        (probing("adatooler"), PROBING_RUN, "pixel.probing.enable=true with pixel.reward.method=adatooler"),
        (probing(), RunSettings(16, dataset_class="RLHFDataset"), "pixel.probing.enable=true needs "
         "data.custom_cls.name=PixelRLDataset"),
        (probing(), RunSettings(16, dataloader_workers=8), "pixel.probing.enable=true needs "
         "data.dataloader_num_workers=0, got 8"),
        (with_method(LOOK_LESS_16, "hdpo"), RunSettings(16, adv_estimator="grpo"), "pixel.reward.method=hdpo writes "
         "finished advantages .* set algorithm.adv_estimator=pixel_precomputed"),
        (LOOK_LESS_16, RunSettings(16, adv_estimator="pixel_precomputed"), "pixel.reward.method=look_less writes "
         "rewards, not advantages"),
        (with_method(LOOK_LESS_16, "hdpo"), RunSettings(16, adv_estimator="pixel_precomputed", use_kl_in_reward=True),
         "algorithm.use_kl_in_reward=True: the KL penalty would be added to finished advantages"),
        (
            PixelConfig.from_mapping({"reward": {"method": "adatooler", "adatooler": {"delta_source": "probes"}}}),
            RunSettings(8),
            "adatooler.delta_source=probes needs force_tool and no_tool probes",
        ),
    ],
)  # fmt: skip
def test_new_reward_and_probing_settings_must_agree_with_the_run(pixel, run, message):
    with pytest.raises(ValueError, match=message):
        check_against_run(pixel, run)


def test_agreeing_probing_and_hdpo_runs_pass():
    assert check_against_run(probing(), PROBING_RUN) == []
    assert check_against_run(probing("adatooler", adatooler={"delta_source": "probes"}), PROBING_RUN) == []
    hdpo = PixelConfig.from_mapping({"reward": {"method": "hdpo"}})
    assert check_against_run(hdpo, RunSettings(8, adv_estimator="pixel_precomputed")) == []


def test_probing_keys_are_checked_with_their_full_path():
    with pytest.raises(ValueError, match=r"^pixel.probing.decai: unknown key \(known: adaptive_weight"):
        pixel_config(OmegaConf.create({"pixel": {"probing": {"decai": 0.5}}}))
    with pytest.raises(ValueError, match=r"^pixel.probing.decay: must be > 0"):
        pixel_config(OmegaConf.create({"pixel": {"probing": {"decay": 0}}}))
    with pytest.raises(ValueError, match=r"^pixel.probing.lean_z: 2.0 must not exceed settle_z 1.28"):
        pixel_config(OmegaConf.create({"pixel": {"probing": {"lean_z": 2.0}}}))
    with pytest.raises(ValueError, match=r"^pixel.reward.hdpo.op_count: 'all' is not one of succeeded, attempted"):
        pixel_config(OmegaConf.create({"pixel": {"reward": {"hdpo": {"op_count": "all"}}}}))
