"""Reading a tool YAML into the one VisualOpsConfig its pixel tools share (the endpoint evaluation's budgets)."""

from __future__ import annotations

import pytest
import yaml

from verl_pixel.configs import PIXEL_TOOLS_YAML
from verl_pixel.ops import CoordinateConvention, VisualOpsConfig
from verl_pixel.tools.schema_yaml import agreed_ops_config, ops_config, read_ops_config, write_tools_yaml


def test_packaged_and_written_yaml_read_back():
    assert read_ops_config() == read_ops_config(PIXEL_TOOLS_YAML) == VisualOpsConfig()


def test_a_runs_yaml_reads_back_with_its_budgets(tmp_path):
    config = ops_config("qwen3_vl", {"max_images": 9, "max_operations": 2})
    path = write_tools_yaml(tmp_path / "pixel_tools.yaml", config)
    read = read_ops_config(path)
    assert (read.max_images, read.max_operations, read.factor, read.coordinates) == (
        9, 2, 32, CoordinateConvention.RELATIVE1000
    )  # fmt: skip
    assert read == config


def test_tools_that_disagree_are_an_error_naming_them_and_the_keys(tmp_path):
    path = write_tools_yaml(tmp_path / "tools.yaml", VisualOpsConfig())
    document = yaml.safe_load(path.read_text())
    document["tools"][1]["config"]["max_images"] = 8
    document["tools"][1]["config"]["padding"] = 0.0
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ValueError) as err:
        read_ops_config(path)
    assert str(err.value).startswith(
        f"{path}: tools[0].config and tools[1].config differ (padding: 0.1 vs 0.0, max_images: 16 vs 8)"
    )


def test_other_tools_are_skipped_and_a_yaml_without_pixel_tools_is_an_error(tmp_path):
    path = write_tools_yaml(tmp_path / "tools.yaml", VisualOpsConfig(max_operations=3))
    document = yaml.safe_load(path.read_text())
    document["tools"].append({"class_name": "my.tools.Calculator", "config": {"type": "native", "precision": 3}})
    path.write_text(yaml.safe_dump(document))
    assert read_ops_config(path).max_operations == 3
    path.write_text(yaml.safe_dump({"tools": document["tools"][2:]}))
    with pytest.raises(ValueError) as err:
        read_ops_config(path)
    assert str(err.value) == (
        f"{path}: no pixel tools (verl_pixel.tools.pixel_tools.CropImageTool, "
        "verl_pixel.tools.pixel_tools.SelectFramesTool)"
    )


def test_bad_config_and_missing_file_name_the_place(tmp_path):
    path = write_tools_yaml(tmp_path / "tools.yaml", VisualOpsConfig())
    document = yaml.safe_load(path.read_text())
    document["tools"][0]["config"]["max_imagez"] = 4
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ValueError) as err:
        read_ops_config(path)
    assert str(err.value).startswith(f"{path}: tools[0].config.max_imagez: unknown key")
    with pytest.raises(ValueError) as missing:
        read_ops_config(tmp_path / "missing.yaml")
    assert str(missing.value).startswith(f"{tmp_path / 'missing.yaml'}: cannot read the tool YAML")


def test_agreed_config_of_one_tool_is_that_tools():
    assert agreed_ops_config({"crop_image": VisualOpsConfig(max_images=5)}, "x") == VisualOpsConfig(max_images=5)


def test_a_document_without_a_tools_list_is_named(tmp_path):
    path = tmp_path / "tools.yaml"
    for text, message in (
        ("tools: {crop: 1}\n", "expected a mapping with a `tools` list"),
        ("tools: [\n", "cannot read the tool YAML"),
    ):
        path.write_text(text)
        with pytest.raises(ValueError) as err:
            read_ops_config(path)
        assert str(err.value).startswith(f"{path}: {message}")
