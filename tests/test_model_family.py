"""The model-family switch: detection from config.json, what each family fixes, and the start-up consistency check."""

from __future__ import annotations

import json
import shutil

import pytest

from verl_pixel.family_check import (
    check_loaded_model,
    check_model_setup,
    check_run_config,
    template_default_system_prompt,
    template_family,
)
from verl_pixel.model_family import (
    FamilyMismatchError,
    ModelFamily,
    family_of_patch_size,
    family_settings,
    family_spec,
    resolve_family,
)
from verl_pixel.ops import CoordinateConvention
from verl_pixel.tools.schema_yaml import ops_config


def _folder_with_model_type(tmp_path, model_type):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": model_type}))
    return tmp_path


def test_auto_reads_the_family_from_config_json(family, family_model_dir):
    assert resolve_family("auto", family_model_dir).value == family
    assert resolve_family(None, family_model_dir).value == family


@pytest.mark.parametrize(("model_type", "family"), [("qwen2_5_vl", "qwen2_5_vl"), ("qwen3_vl_moe", "qwen3_vl")])
def test_released_model_types_map_to_their_family(tmp_path, model_type, family):
    assert resolve_family("auto", _folder_with_model_type(tmp_path, model_type)).value == family


def test_unknown_model_type_is_an_error_naming_the_field(tmp_path):
    folder = _folder_with_model_type(tmp_path, "llava")
    with pytest.raises(ValueError, match=r"config.json: model_type 'llava' is not a supported model family"):
        resolve_family("auto", folder)
    # ... and naming the family explicitly overrides it (a custom checkpoint of a supported family).
    assert resolve_family("qwen3_vl", folder) is ModelFamily.QWEN3_VL


def test_unknown_family_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown model family 'qwen4' \(known: qwen2_5_vl, qwen3_vl\)"):
        family_spec("qwen4")


def test_missing_config_or_field_says_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no config\.json in"):
        resolve_family("auto", tmp_path)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="no model_type field"):
        resolve_family("auto", tmp_path)


def test_explicit_family_contradicting_the_folder_names_both(tiny_model_of):
    with pytest.raises(FamilyMismatchError, match=r"qwen3_vl was requested but .* is qwen2_5_vl"):
        resolve_family("qwen3_vl", tiny_model_of("qwen2_5_vl"))


def test_each_family_fixes_its_geometry_coordinates_and_budgets():
    qwen25, qwen3 = family_spec("qwen2_5_vl").ops_config(), family_spec("qwen3_vl").ops_config()
    assert (qwen25.factor, qwen25.coordinates, qwen25.min_pixels) == (28, CoordinateConvention.AUTO, 3136)
    assert (qwen3.factor, qwen3.coordinates, qwen3.min_pixels) == (32, CoordinateConvention.RELATIVE1000, 65536)
    # Pixel Reasoner's budgets (2000 / 1000 / 400 visual tokens) in each family's units.
    assert (qwen25.image_max_pixels, qwen25.crop_max_pixels, qwen25.frame_max_pixels) == (1568000, 784000, 313600)
    assert (qwen3.image_max_pixels, qwen3.crop_max_pixels, qwen3.frame_max_pixels) == (2048000, 1024000, 409600)
    assert family_spec("qwen3_vl").visual_tokens((320, 256)) == 80 and family_spec("qwen2_5_vl").pixels(4) == 3136
    # The tool YAML writer's presets are the families'.
    assert ops_config("qwen3_vl") == qwen3 and ops_config("qwen2_5_vl") == qwen25
    assert family_settings(ModelFamily.QWEN3_VL)["chat_template"] == "qwen3_vl_tools.jinja"
    assert (family_of_patch_size(14), family_of_patch_size(16)) == (ModelFamily.QWEN2_5_VL, ModelFamily.QWEN3_VL)


@pytest.mark.parametrize(
    ("template", "family", "default_system"),
    [
        ("qwen2_5_vl_tools.jinja", "qwen2_5_vl", "You are a helpful assistant."),
        ("pixel_reasoner_tools.jinja", "qwen2_5_vl", "You are a helpful assistant."),
        ("qwen3_vl_tools.jinja", "qwen3_vl", ""),
    ],
)
def test_shipped_templates_are_placed_in_their_family(tiny_processor, template, family, default_system):
    import copy

    from verl_pixel.configs import read_chat_template

    processor = copy.copy(tiny_processor)
    processor.chat_template = read_chat_template(template)
    assert template_family(lambda m: processor.apply_chat_template(m, tokenize=False)).value == family
    assert template_default_system_prompt(processor) == default_system


def test_startup_check_accepts_a_consistent_folder_and_names_both_sides_of_a_mismatch(family, family_processor):
    import copy

    from verl_pixel.configs import read_chat_template

    assert check_loaded_model(family_processor, ops_config=ops_config(family)).value == family
    other = "qwen3_vl" if family == "qwen2_5_vl" else "qwen2_5_vl"
    with pytest.raises(FamilyMismatchError, match=rf"is {family} .* but the tool config has factor"):
        check_loaded_model(family_processor, ops_config=ops_config(other))
    wrong_template = copy.copy(family_processor)
    wrong_template.chat_template = read_chat_template(family_spec(other).chat_template)
    with pytest.raises(FamilyMismatchError, match=rf"is {family} but the chat template in use is a {other} template"):
        check_loaded_model(wrong_template)
    with pytest.raises(
        FamilyMismatchError, match=rf"is {other} but its processor is {type(family_processor).__name__}"
    ):
        check_model_setup(ModelFamily(other), processor=family_processor)
    patch = family_spec(family).patch_size
    with pytest.raises(FamilyMismatchError, match=rf"data.image_patch_size is 15: set data.image_patch_size={patch}"):
        check_loaded_model(family_processor, image_patch_size=15)


def test_startup_check_of_the_sft_and_rl_datasets(tmp_path, tiny_model_of, processor_of):
    """A Qwen3-VL folder whose processor carries the Qwen2.5-VL template fails when verl builds either dataset."""
    from omegaconf import OmegaConf

    from verl_pixel.configs import read_chat_template
    from verl_pixel.data.rl_dataset import PixelRLDataset
    from verl_pixel.data.sft_dataset import PixelSFTDataset
    from verl_pixel.quickstart.grpo_cpu import write_rl_sample
    from verl_pixel.testing.sft_sample import write_sft_sample

    folder = shutil.copytree(tiny_model_of("qwen3_vl"), tmp_path / "model")
    (folder / "chat_template.jinja").write_text(read_chat_template("qwen2_5_vl_tools.jinja"))
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
    sft = write_sft_sample(tmp_path / "sft.parquet", n_rows=1)
    with pytest.raises(FamilyMismatchError, match="is qwen3_vl but the chat template in use is a qwen2_5_vl template"):
        PixelSFTDataset(str(sft), processor.tokenizer, OmegaConf.create({}), processor=processor)
    train, _ = write_rl_sample(tmp_path / "rl", n_train=1, n_val=1)
    good = processor_of("qwen3_vl")
    with pytest.raises(FamilyMismatchError, match=r"data\.image_patch_size is 14: set data\.image_patch_size=16"):
        PixelRLDataset(str(train), good.tokenizer, OmegaConf.create({"image_patch_size": 14}), processor=good)


def test_qwen35_is_refused_with_the_reason(tmp_path):
    folder = _folder_with_model_type(tmp_path, "qwen3_5")
    reason = r"model_type 'qwen3_5' is not supported: Qwen3\.5 writes tool calls in the Qwen3-Coder XML format"
    with pytest.raises(ValueError, match=reason):
        resolve_family("auto", folder)
    with pytest.raises(ValueError, match=reason):  # naming a family does not smuggle it in
        resolve_family("qwen3_vl", folder)


def test_main_ppo_start_up_check_compares_the_model_folder_with_the_run_config(tiny_model_of):
    """The hydra start-up callback (before Ray) reads the folder's family and checks tools, patch size, template."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from verl_pixel.configs import CONFIG_DIR, read_chat_template
    from verl_pixel.quickstart.grpo_cpu import family_overrides
    from verl_pixel.startup_check import check_trainer_config
    from verl_pixel.tools.schema_yaml import SHIPPED_YAML

    def check(*overrides):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONFIG_DIR / "cpu"), version_base=None):
            return check_trainer_config(compose("grpo_cpu", overrides=list(overrides)))

    qwen3 = f"actor_rollout_ref.model.path={tiny_model_of('qwen3_vl')}"
    tools = f"actor_rollout_ref.rollout.multi_turn.tool_config_path={SHIPPED_YAML['qwen3_vl']}"
    check(qwen3, tools, *family_overrides("qwen3_vl"))  # the CPU runner's own settings pass
    with pytest.raises(FamilyMismatchError, match=r"is qwen3_vl \(patch 16\) but data\.image_patch_size is 14"):
        check(qwen3, tools)  # verl's default patch size
    with pytest.raises(FamilyMismatchError, match=r"is qwen3_vl .* but the tool config has factor 28"):
        check(qwen3, f"actor_rollout_ref.rollout.multi_turn.tool_config_path={SHIPPED_YAML['qwen2_5_vl']}")
    template = read_chat_template("qwen2_5_vl_tools.jinja").replace("'", "\\'")
    with pytest.raises(FamilyMismatchError, match="is qwen3_vl but the chat template in use is a qwen2_5_vl template"):
        check(
            qwen3, tools, *family_overrides("qwen3_vl"), f"+actor_rollout_ref.model.custom_chat_template='{template}'"
        )
    assert check_run_config("Qwen/Qwen3-VL-8B-Instruct", image_patch_size=14) is None  # a hub id: checked later
