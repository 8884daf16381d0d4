"""The shipped tool YAML is exactly what the schema generator produces (one source of truth)."""

from __future__ import annotations

import yaml

from verl_pixel.ops import VisualOpsConfig, crop_tool_schema, select_frames_tool_schema
from verl_pixel.tools.schema_yaml import DEFAULT_YAML_PATH, TOOL_CLASSES, main, render_tools_yaml


def test_shipped_yaml_equals_the_generator_output():
    assert DEFAULT_YAML_PATH.read_text() == render_tools_yaml(VisualOpsConfig())


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
