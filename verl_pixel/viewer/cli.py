"""``verl-pixel view``: render SFT rows or a verl rollout dump to ``OUT/index.html`` and PNGs with crop boxes.

Examples::

    verl-pixel view data/sft.parquet --out /tmp/view                       # SFT rows 0..19
    verl-pixel view outputs/rollouts --data data/rl_train.parquet --step 12 --out /tmp/view
    verl-pixel view outputs/rollouts/12.jsonl --tool-config my_tools.yaml --limit 50
    verl-pixel view outputs/rollouts --data data/rl_train.parquet --family qwen3_vl --out /tmp/view
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from verl_pixel.model_family import FAMILY_NAMES, family_spec
from verl_pixel.ops import CoordinateConvention, VisualOpsConfig

DEFAULT_LIMIT = 20


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``view`` command on ``subparsers`` (the result of ``ArgumentParser.add_subparsers``)."""
    view = subparsers.add_parser(
        "view",
        help="render SFT rows or a verl rollout dump to HTML + PNGs with crop boxes",
        description=__doc__.split("\n")[0],
    )
    view.add_argument("input", help="SFT parquet, rollout dump <step>.jsonl, or the dump folder (rollout_data_dir)")
    view.add_argument("--out", default="outputs/view", help="output folder (index.html and PNGs)")
    view.add_argument("--kind", choices=("auto", "sft", "rollout"), default="auto", help="input kind (auto: by suffix)")
    view.add_argument("--data", help="rollouts: the RL parquet the run read, for the input images")
    view.add_argument("--index-field", help="rollouts: dump field naming the data row (default: join by question)")
    view.add_argument("--step", type=int, help="rollouts: step file to read from a dump folder (default: latest)")
    view.add_argument("--start", type=int, default=0, help="first row / record")
    view.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help="most trajectories rendered")
    view.add_argument(
        "--family",
        choices=FAMILY_NAMES,
        default=FAMILY_NAMES[0],
        help="model family of the run: its tool preset (coordinates, budgets) unless --tool-config",
    )
    view.add_argument("--tool-config", help="tool YAML whose crop config the run used (default: the family's preset)")
    view.add_argument(
        "--coordinates", choices=[c.value for c in CoordinateConvention], help="override the bbox_2d convention"
    )
    view.add_argument("--padding", type=float, help="override the crop padding (fraction of the image side)")
    view.set_defaults(func=run_view)
    return view


def ops_config(
    tool_config: str | None, coordinates: str | None, padding: float | None, family: str = FAMILY_NAMES[0]
) -> VisualOpsConfig:
    """The visual-operation config: a tool YAML's (``schema_yaml.read_ops_config``) or the family's, overridden."""
    from verl_pixel.tools.schema_yaml import read_ops_config

    config = family_spec(family).ops_config() if tool_config is None else read_ops_config(tool_config)
    overrides = {"coordinates": coordinates, "padding": padding}
    return dataclasses.replace(config, **{key: value for key, value in overrides.items() if value is not None})


def input_kind(path: Path, kind: str) -> str:
    """``sft`` for a parquet, ``rollout`` for a JSONL file or a folder, unless ``kind`` says otherwise."""
    if kind != "auto":
        return kind
    return "sft" if path.suffix == ".parquet" else "rollout"


def run_view(args: argparse.Namespace) -> int:
    """Handler of ``verl-pixel view``: renders and prints the page's path."""
    from verl_pixel.viewer.load import load_rollout_views, load_sft_views
    from verl_pixel.viewer.output import write_views

    config = ops_config(args.tool_config, args.coordinates, args.padding, args.family)
    source = Path(args.input)
    if input_kind(source, args.kind) == "sft":
        views = load_sft_views(source, config, start=args.start, limit=args.limit)
    else:
        views = load_rollout_views(
            source,
            config,
            data=args.data,
            step=args.step,
            start=args.start,
            limit=args.limit,
            index_field=args.index_field,
        )
    index = write_views(views, args.out, source=str(source))
    print(index)
    return 0
