"""The ``verl-pixel`` command line: one entry for the project's tools.

Subcommands:
    doctor      import the verl plugin loudly and list what it registered in verl
    tiny-model  build an offline tiny model (Qwen2.5-VL or Qwen3-VL: model + tokenizer + processor) into a folder
    model-family  print a model family's settings (template, patch size, coordinates, budgets) as shell lines
    preset      a peer preset's settings as shell lines, or its chat template for a family (for recipes)
    cpu-overrides  print the overrides a GPU recipe takes in its CPU mode (PLATFORM=cpu), one per line
    quickstart  look-or-not task: verl's SFT trainer, its HF export, GRPO from it — on CPU, offline
    smoke       the real recipes at tiny scale on this machine (GPU or CPU) and a pass/fail table
    synthesize  operation-aware SFT trajectories from seed annotations
    prepare     seed sample, RL parquet, Pixel Reasoner SFT import
    data        ``data check``: every bad row of SFT / RL parquet files (file, row, field, reason)
    view        render rollouts or SFT rows to HTML + PNGs with crop boxes and masked spans
    eval        benchmark preprocessing, endpoint runs and accuracy-vs-tool-use reports
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence


def _doctor(args: argparse.Namespace) -> int:
    from verl_pixel.plugin import check

    code, report = check()
    print("\n".join(report))
    return code


def _tiny_model(args: argparse.Namespace) -> int:
    from verl_pixel.tiny_models import build_tiny_model

    print(build_tiny_model(args.out, args.family))
    return 0


def _model_family(args: argparse.Namespace) -> int:
    from verl_pixel.model_family import shell_settings

    try:
        print(shell_settings(args.family, args.model))
    except (ValueError, FileNotFoundError) as err:
        print(f"model family: {err}", file=sys.stderr)
        return 2
    return 0


def _preset(args: argparse.Namespace) -> int:
    from verl_pixel.presets import shell_settings, write_preset_template

    if args.preset_command == "shell":
        print(shell_settings(args.preset, args.recipe))
    else:
        print(write_preset_template(args.preset, args.base, args.output))
    return 0


def _add_preset(sub: argparse._SubParsersAction) -> None:
    from verl_pixel.presets import PRESETS

    parser = sub.add_parser("preset", help="a peer preset's recipe settings (shell lines) or chat template")
    commands = parser.add_subparsers(dest="preset_command", required=True)
    shell = commands.add_parser("shell", help="print PRESET_* shell assignments for a recipe")
    shell.add_argument("preset", choices=sorted(PRESETS))
    shell.add_argument("--recipe", choices=("grpo", "sft"), required=True)
    template = commands.add_parser("template", help="write the preset's chat template for a family's template")
    template.add_argument("preset", choices=sorted(PRESETS))
    template.add_argument("--base", required=True, help="the family's template, e.g. qwen2_5_vl_tools.jinja")
    template.add_argument("--output", required=True, help="file to write")
    parser.set_defaults(func=_preset)


def _cpu_overrides(args: argparse.Namespace) -> int:
    from verl_pixel.platform.cpu import CPU_OVERRIDES

    print("\n".join(CPU_OVERRIDES[args.trainer]))
    return 0


def _quickstart(args: argparse.Namespace) -> int:
    from verl_pixel.quickstart.pipeline import format_report, run_quickstart

    report = run_quickstart(args.workdir, sft_steps=args.sft_steps, grpo_steps=args.grpo_steps)
    print(format_report(report))
    return 0 if report.ok else 1


def _smoke(args: argparse.Namespace) -> int:
    from verl_pixel.smoke import format_report, resolve_options, run_smoke

    try:
        options = resolve_options(args.workdir, args.family, args.platform, args.rollout, args.model, args.recipes)
    except (ValueError, FileNotFoundError) as err:
        print(f"verl-pixel smoke: {err}", file=sys.stderr)
        return 2
    report = run_smoke(options)
    print(format_report(report))
    return 0 if report.ok else 1


def _add_smoke(sub: argparse._SubParsersAction) -> None:
    from verl_pixel.model_family import FAMILY_NAMES

    smoke = sub.add_parser("smoke", help="run the recipes at tiny scale on this machine and print a pass/fail table")
    smoke.add_argument("--workdir", default="outputs/smoke", help="folder for model, data, logs, checkpoints")
    smoke.add_argument("--family", choices=FAMILY_NAMES, help="model family (default: --model's, else qwen2_5_vl)")
    smoke.add_argument("--model", help="a model folder instead of the tiny random-weight kit")
    smoke.add_argument(
        "--platform", choices=("auto", "cpu", "gpu"), default="auto", help="auto: GPU when torch sees one"
    )
    smoke.add_argument("--rollout", choices=("auto", "hf", "vllm", "sglang"), default="auto", help="auto: vllm / hf")
    smoke.add_argument("--recipes", help="the recipes/ folder (default: this checkout's)")
    smoke.set_defaults(func=_smoke)


def _family_argument(parser: argparse.ArgumentParser) -> None:
    from verl_pixel.model_family import FAMILY_NAMES

    parser.add_argument(
        "--family",
        choices=FAMILY_NAMES,
        default=FAMILY_NAMES[0],
        help="model family of the tiny model (default: %(default)s)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``verl-pixel`` (subcommands register themselves here)."""
    parser = argparse.ArgumentParser(prog="verl-pixel", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    doctor = sub.add_parser("doctor", help="check that verl loads the plugin; list registrations")
    doctor.set_defaults(func=_doctor)
    tiny = sub.add_parser("tiny-model", help="build an offline tiny model (random weights) into a folder")
    tiny.add_argument("out", help="destination folder")
    _family_argument(tiny)
    tiny.set_defaults(func=_tiny_model)
    family = sub.add_parser("model-family", help="print a model family's settings as shell lines (for recipes)")
    family.add_argument("--family", default="auto", help="auto (read --model's config.json) or a family name")
    family.add_argument("--model", help="model folder or hub id (a folder is checked against --family)")
    family.set_defaults(func=_model_family)
    _add_preset(sub)
    cpu = sub.add_parser("cpu-overrides", help="print the overrides of a GPU recipe's CPU mode (for recipes)")
    cpu.add_argument("trainer", choices=("grpo", "sft"), help="which trainer's recipes")
    cpu.set_defaults(func=_cpu_overrides)
    from verl_pixel.data.cli import add_parser as add_data_parsers
    from verl_pixel.eval.cli import add_parser as add_eval_parser
    from verl_pixel.viewer.cli import add_parser as add_view_parser

    add_data_parsers(sub)  # synthesize, prepare, data check
    add_view_parser(sub)  # view
    add_eval_parser(sub)  # eval preprocess / run / report / verl-overrides
    quick = sub.add_parser(
        "quickstart", help="look-or-not task: verl's SFT trainer, then GRPO from its export, on CPU (offline)"
    )
    quick.add_argument("--workdir", default="outputs/quickstart", help="folder for model, data, logs, checkpoints")
    quick.add_argument("--sft-steps", type=int, default=8, help="SFT training steps")
    quick.add_argument("--grpo-steps", type=int, default=2, help="GRPO steps (from the SFT export)")
    quick.set_defaults(func=_quickstart)
    _add_smoke(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (2, with a message on stderr and no traceback, for bad input)."""
    from verl_pixel.data.row_checks import BadRowsError
    from verl_pixel.data.seeds import SeedError
    from verl_pixel.data.sft_schema import RowError

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (FileNotFoundError, BadRowsError, RowError, SeedError) as err:  # the input is wrong, not the program
        print(f"verl-pixel: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
