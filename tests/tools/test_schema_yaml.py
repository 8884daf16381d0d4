"""The shipped tool YAML is exactly what the schema generator produces (one source of truth)."""

from __future__ import annotations

import pytest
import yaml

from verl_pixel.model_family import family_spec
from verl_pixel.ops import VisualOpsConfig, crop_tool_schema, select_frames_tool_schema
from verl_pixel.tools.schema_yaml import (
    DEFAULT_YAML_PATH,
    SHIPPED_YAML,
    TOOL_CLASSES,
    main,
    read_ops_configs,
    render_tools_yaml,
)


def test_shipped_yaml_equals_the_generator_output(family):
    assert DEFAULT_YAML_PATH.read_text() == render_tools_yaml(VisualOpsConfig())
    assert SHIPPED_YAML[family].read_text() == render_tools_yaml(family_spec(family).ops_config())
    assert main(["--check", "--preset", family]) == 0


def test_each_schema_matches_its_own_config_block():
    # also holds after someone edits a config block by hand: the schema must follow the config
    generators = {"crop_image": crop_tool_schema, "select_frames": select_frames_tool_schema}
    document = yaml.safe_load(DEFAULT_YAML_PATH.read_text())
    names = []
    for entry in document["tools"]:
        name = entry["tool_schema"]["function"]["name"]
        names.append(name)
        assert entry["class_name"] == TOOL_CLASSES[name]
        assert entry["config"]["type"] == "native"
        assert entry["tool_schema"] == generators[name](VisualOpsConfig.from_mapping(entry["config"]))
    assert names == ["crop_image", "select_frames"]


def test_check_mode(tmp_path):
    stale = tmp_path / "tools.yaml"
    stale.write_text("tools: []\n")
    assert main(["--check", "--output", str(stale)]) == 1
    assert main(["--output", str(stale), "--preset", "qwen3_vl"]) == 0
    assert "relative1000" in stale.read_text() and "integers from 0 to 1000" in stale.read_text()
    assert main(["--check", "--output", str(stale), "--preset", "qwen3_vl"]) == 0
    assert main(["--check"]) == 0  # the shipped file is current


def test_reader_validates_every_pixel_tool_config_naming_file_and_key(tmp_path):
    configs = read_ops_configs(DEFAULT_YAML_PATH)
    assert configs == {"tools[0].config": VisualOpsConfig(), "tools[1].config": VisualOpsConfig()}
    document = yaml.safe_load(DEFAULT_YAML_PATH.read_text())
    document["tools"][1]["config"]["crop_source"] = "orignal"
    document["tools"].insert(0, {"class_name": "someone.else.Tool", "config": {"anything": 1}})  # not ours: skipped
    path = tmp_path / "tools.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ValueError) as err:
        read_ops_configs(path)
    assert str(err.value) == f"{path}: tools[2].config.crop_source: 'orignal' is not one of original, model_view"


def test_reader_names_an_unreadable_file(tmp_path):
    path = tmp_path / "tools.yaml"
    path.write_text("tools: {crop_image: 1}\n")
    with pytest.raises(ValueError, match=r"tools\.yaml: expected a mapping with a `tools` list$"):
        read_ops_configs(path)
    with pytest.raises(ValueError, match=r"missing\.yaml: cannot read the tool YAML"):
        read_ops_configs(tmp_path / "missing.yaml")


def test_verl_tool_loader_names_the_tool_and_key_of_a_bad_value(tmp_path):
    from verl.tools.tool_registry import initialize_tools_from_config

    path = tmp_path / "tools.yaml"
    path.write_text(DEFAULT_YAML_PATH.read_text().replace("crop_source: original", "crop_source: orignal", 1))
    with pytest.raises(ValueError) as err:
        initialize_tools_from_config(str(path))  # what every agent-loop worker does with tool_config_path
    assert str(err.value) == "crop_image tool: config.crop_source: 'orignal' is not one of original, model_view"
