r"""``verl-pixel eval``: preprocess benchmarks, run them against an endpoint, report (and verl's validation overrides).

Wire-up: ``verl_pixel.cli.build_parser`` calls :func:`add_parser` with its subparsers.

Examples::

    verl-pixel eval preprocess vstar ~/data/vstar_bench -o data/eval/vstar.parquet
    verl-pixel eval run data/eval/vstar.parquet -o runs/qwen7b.jsonl \\
        --base-url http://127.0.0.1:8000/v1 --model Qwen/Qwen2.5-VL-7B-Instruct --concurrency 32
    verl-pixel eval run data/eval/vstar.parquet -o runs/rl.jsonl --paired ...   # + runs/rl.no_tool.jsonl
    verl-pixel eval report runs/qwen7b.jsonl baseline=runs/base.jsonl --verl-log rl=logs/val.jsonl -o reports/
    verl-pixel eval verl-overrides --model Qwen/Qwen2.5-VL-7B-Instruct data/eval/*.parquet
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from verl_pixel.model_family import FAMILY_NAMES

BENCHMARK_NAMES = ("vstar", "hrbench4k", "hrbench8k", "tallyqa", "infovqa", "mvbench", "mmerealworld")


def _layouts() -> str:
    from verl_pixel.eval.benchmarks import SPECS

    return "expected layouts:\n" + "\n".join(f"  {spec.name.value:13s} {spec.layout}" for spec in SPECS.values())


def _preprocess(args: argparse.Namespace) -> int:
    from verl_pixel.eval.benchmarks import LoadOptions
    from verl_pixel.eval.preprocess import PreprocessConfig, preprocess_benchmark
    from verl_pixel.eval.samples import EvalRowConfig

    load = LoadOptions(
        image_root=Path(args.image_root) if args.image_root else None,
        tally_split=args.tally_split,
        mvbench_tasks=tuple(args.mvbench_tasks.split(",")) if args.mvbench_tasks else None,
        num_frames=args.num_frames,
        workers=args.workers,
    )
    rows = EvalRowConfig(source_per_category=args.source_per_category, video_layout=args.video_layout)
    config = PreprocessConfig(embed_images=not args.no_embed, limit=args.limit, rows=rows, load=load)
    result = preprocess_benchmark(args.benchmark, args.source, args.out, config)
    print(f"{result.benchmark}: {result.rows} rows -> {result.path}")
    return 0


def _verl_family(requested: str, model: str) -> Any:
    """The family of ``eval verl-overrides``: named, or read from a local model folder (``auto``)."""
    from verl_pixel.model_family import AUTO, ModelFamily, resolve_family

    folder = model if (Path(model) / "config.json").is_file() else None
    if requested == AUTO and folder is None:
        print(f"note: {model} is not a local model folder; family qwen2_5_vl assumed (pass --family)", file=sys.stderr)
        return ModelFamily.QWEN2_5_VL
    return resolve_family(requested, folder)


def _run_error(args: argparse.Namespace) -> str | None:
    """Why the ``eval run`` options cannot work together, or ``None``."""
    from verl_pixel.presets import preset

    if args.samples > 1 and args.temperature == 0:
        return "--samples > 1 needs --temperature > 0 (greedy draws are all equal)"
    if preset(args.preset).tool_block is not None and args.tool_protocol == "api":
        return f"--preset {args.preset} writes its tools as prompt text: use --tool-protocol prompt"
    if args.paired and args.mode == "no_tool":
        return "--paired pairs a tool mode with no_tool: use --mode adaptive or force_tool"
    return None


def _episode_config(args: argparse.Namespace) -> Any:
    from verl_pixel.eval.episode import DEFAULT_MAX_TURNS, EpisodeConfig
    from verl_pixel.family_check import check_model_setup
    from verl_pixel.model_family import family_spec
    from verl_pixel.presets import preset
    from verl_pixel.rollout.config import PixelRolloutConfig
    from verl_pixel.tools.schema_yaml import SHIPPED_YAML, read_ops_config

    # The budgets and knobs training used: the run's tool YAML, else the one shipped for the family; a peer preset's
    # behaviour over them (its tool names, output style, crop rules and limits, as a recipe's PRESET writes them).
    spec, chosen = family_spec(args.family), preset(args.preset)
    ops = chosen.ops_config(read_ops_config(args.tool_config or SHIPPED_YAML[spec.family.value]))
    check_model_setup(spec.family, ops_config=ops, source=f"the model (--family {spec.family.value})")
    return EpisodeConfig(
        ops=ops,
        mode=args.mode,
        max_turns=args.max_turns or DEFAULT_MAX_TURNS,
        tool_protocol=args.tool_protocol,
        image_format=args.image_format,
        # the system prompt the family's template renders when a conversation has none (none for Qwen3-VL)
        rollout=PixelRolloutConfig(default_system_prompt=spec.default_system_prompt),
        tool_block=chosen.tool_block,  # the preset's tools as its checkpoints saw them (prompt protocol)
        guidelines=chosen.guidelines,
    )


def _run(args: argparse.Namespace) -> int:
    from verl_pixel.chat_endpoint import EndpointConfig
    from verl_pixel.eval.runner import RunnerConfig, run_eval

    error = _run_error(args)
    if error is not None:
        print(f"verl-pixel: error: {error}", file=sys.stderr)
        return 2
    endpoint = EndpointConfig(
        base_url=args.base_url,
        model=args.model,
        api_key=args.api_key,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        timeout_s=args.timeout,
        max_retries=args.retries,
    )
    runner = RunnerConfig(
        run_name=args.run_name or Path(args.out).stem,
        concurrency=args.concurrency,
        limit=args.limit,
        progress=not args.no_progress,
        tokenizer_path=args.tokenizer,
        samples=args.samples,
    )
    failed = 0
    for out, episode, pass_runner in eval_passes(args.out, _episode_config(args), runner, args.paired):
        summary = run_eval(args.parquet, out, endpoint, episode, pass_runner)
        failed += summary.failed
        unit = "rows" if runner.samples == 1 else "responses"
        print(
            f"{pass_runner.run_name}: {summary.total} {unit}, {summary.skipped} already done, {summary.finished} "
            f"finished, {summary.failed} failed -> {summary.path}"
        )
    return 0 if failed == 0 else 1


def eval_passes(out: str, episode: Any, runner: Any, paired: bool) -> list[tuple[Any, Any, Any]]:
    """``(output, episode config, runner config)`` of each pass: the run, and with ``paired`` its no-tool twin.

    Raises:
        ValueError: for ``--paired`` with ``--mode no_tool`` (nothing to pair with).
    """
    from verl_pixel.eval.paired import NO_TOOL_SUFFIX
    from verl_pixel.record import RolloutMode

    passes = [(out, episode, runner)]
    if paired:  # the same questions without tools, into OUT.no_tool.jsonl as run R/no_tool
        if episode.mode is RolloutMode.NO_TOOL:
            raise ValueError("--paired pairs a tool mode with no_tool: use --mode adaptive or force_tool")
        no_tool = dataclasses.replace(episode, mode=RolloutMode.NO_TOOL)
        passes.append(
            (no_tool_path(out), no_tool, dataclasses.replace(runner, run_name=runner.run_name + NO_TOOL_SUFFIX))
        )
    return passes


def no_tool_path(out: str) -> Path:
    """Where ``--paired`` writes the no-tool pass: ``OUT.no_tool.jsonl`` next to ``OUT.jsonl``."""
    path = Path(out)
    return path.with_name(f"{path.stem}.no_tool{path.suffix or '.jsonl'}")


def _named(spec: str) -> tuple[str | None, str]:
    name, sep, path = spec.partition("=")
    return (name, path) if sep and name and not Path(spec).exists() else (None, spec)


def collect_paired(inputs: list[str]) -> list[Any]:
    """Paired metrics of the runner JSONL inputs whose runs have ``<run>/no_tool`` companions among them."""
    from verl_pixel.eval.paired import paired_summaries
    from verl_pixel.eval.results import read_results
    from verl_pixel.eval.verl_native import is_verl_file_log

    results: list[Any] = []
    for spec in inputs:
        name, path = _named(spec)
        if Path(path).is_file() and not is_verl_file_log(path):
            found = read_results(path)
            results += [dataclasses.replace(r, run=_paired_name(name, r.run)) for r in found] if name else found
    return paired_summaries(results)


def _paired_name(name: str, run: str) -> str:
    """A ``NAME=PATH`` input renames its run; a no-tool pass keeps its suffix so it still pairs."""
    from verl_pixel.eval.paired import NO_TOOL_SUFFIX

    return name + NO_TOOL_SUFFIX if run.endswith(NO_TOOL_SUFFIX) and not name.endswith(NO_TOOL_SUFFIX) else name


def collect_summaries(inputs: list[str], verl_logs: list[str]) -> list[Any]:
    """Summaries of runner JSONL files and verl file-logger logs (``NAME=PATH`` names a run)."""
    from verl_pixel.eval.report import summarize_results
    from verl_pixel.eval.results import read_results
    from verl_pixel.eval.verl_native import is_verl_file_log, read_verl_file_log, summaries_from_val_metrics

    summaries: list[Any] = []
    for spec in [*inputs, *verl_logs]:
        name, path = _named(spec)
        if not Path(path).is_file():
            raise FileNotFoundError(f"no results file {path}")
        if spec in verl_logs or is_verl_file_log(path):
            summaries += summaries_from_val_metrics(read_verl_file_log(path), name or Path(path).stem)
        else:
            summaries += summarize_results(read_results(path), run=name)
    return summaries


def _report(args: argparse.Namespace) -> int:
    from verl_pixel.eval.report import json_report, markdown_report
    from verl_pixel.eval.tradeoff_plot import save_accuracy_tur_plot

    summaries = collect_summaries(args.inputs, args.verl_log)
    if not summaries:
        raise ValueError("no results to report")
    paired = collect_paired(args.inputs)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    markdown = markdown_report(summaries, paired)
    (out / "report.md").write_text(markdown, encoding="utf-8")
    report = json_report(summaries, paired)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    plots = save_accuracy_tur_plot(summaries, out)
    print(markdown)
    print(f"wrote {', '.join(str(path) for path in [out / 'report.md', out / 'report.json', *plots])}")
    return 0


def _verl_overrides(args: argparse.Namespace) -> int:
    from verl_pixel.eval.verl_native import verl_native_overrides

    overrides = verl_native_overrides(
        args.parquet,
        model_path=args.model,
        tool_config=args.tool_config,
        n=args.n,
        validation_dir=args.validation_dir,
        family=_verl_family(args.family, args.model),
    )
    print("\n".join(overrides))
    return 0


def _add_preprocess(sub: Any) -> None:
    parser = sub.add_parser(
        "preprocess",
        help="benchmark files -> verl parquet",
        epilog=_layouts(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("benchmark", choices=BENCHMARK_NAMES)
    parser.add_argument("source", help="the benchmark's folder (or file), as published")
    parser.add_argument("-o", "--out", required=True, help="output parquet file")
    parser.add_argument("--image-root", help="folder relative image paths start from (tallyqa, infovqa, mmerealworld)")
    parser.add_argument("--limit", type=int, help="keep the first N questions")
    parser.add_argument("--no-embed", action="store_true", help="store image file paths instead of bytes")
    parser.add_argument("--tally-split", default="complex", choices=("complex", "simple", "all"))
    parser.add_argument(
        "--mvbench-tasks",
        help="comma-separated MVBench tasks (default: all 20 but fine_grained_pose, whose clips are no longer "
        "distributed: it runs when video/nturgbd/ holds them)",
    )
    parser.add_argument("--num-frames", type=int, default=16, help="frames sampled per MVBench video")
    parser.add_argument("--workers", type=int, default=4, help="threads decoding MVBench videos")
    parser.add_argument(
        "--source-per-category",
        action="store_true",
        help="data_source <benchmark>/<category> (MVBench: per task), so verl's validation reports each apart",
    )
    parser.add_argument(
        "--video-layout",
        default="video",
        choices=("video", "frames"),
        help="a video question as one <video> (default) or its frames as <image>s",
    )
    parser.set_defaults(func=_preprocess)


def _add_run(sub: Any) -> None:
    from verl_pixel.presets import PRESETS

    parser = sub.add_parser("run", help="evaluate parquet files against an OpenAI-compatible endpoint (resumable)")
    parser.add_argument("parquet", nargs="+", help="parquet files from `eval preprocess`")
    parser.add_argument("-o", "--out", required=True, help="results JSONL (existing finished samples are skipped)")
    parser.add_argument("--base-url", required=True, help="API root, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--model", required=True, help="served model name")
    parser.add_argument("--api-key", help="bearer token (default: $OPENAI_API_KEY)")
    parser.add_argument("--run-name", help="label in reports (default: the output file's stem)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--mode", default="adaptive", choices=("adaptive", "force_tool", "no_tool"))
    parser.add_argument("--max-turns", type=int, help="assistant turns per episode (default: as verl-overrides)")
    parser.add_argument("--max-tokens", type=int, default=2048, help="generation cap per assistant turn")
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--tool-protocol", default="prompt", choices=("prompt", "api"))
    parser.add_argument(
        "--tool-config",
        help="the pixel tool YAML whose config (budgets, coordinates, output style, image_max_pixels = the server's "
        "max_pixels) to use, e.g. the one a recipe wrote for the run (default: the packaged one)",
    )
    parser.add_argument(
        "--family",
        choices=FAMILY_NAMES,
        default=FAMILY_NAMES[0],
        help="model family: its shipped tool YAML when --tool-config is not given, and its default system prompt",
    )
    parser.add_argument(
        "--preset",
        choices=tuple(PRESETS),
        default="verl_pixel",
        help="peer preset: the tools, tool outputs, crop rules, limits and question suffix a released "
        "checkpoint was trained with (Pixel Reasoner's tool block byte for byte); needs --tool-protocol prompt",
    )
    parser.add_argument(
        "--samples", type=int, default=1, help="responses per question, for Avg@k (mean and std over the k draws)"
    )
    parser.add_argument("--image-format", default="png", choices=("png", "jpeg"))
    parser.add_argument("--limit", type=int, help="first N rows of each file")
    parser.add_argument("--tokenizer", help="count response tokens with this tokenizer when the server sends no usage")
    parser.add_argument("--retries", type=int, default=5)
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="deadline of one request, seconds (to the reply's last byte)"
    )
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--paired", action="store_true", help="also run no_tool (OUT.no_tool.jsonl): gain/harm, MA")
    parser.set_defaults(func=_run)


def _add_report(sub: Any) -> None:
    parser = sub.add_parser("report", help="tables (Markdown, JSON) and the accuracy-vs-TUR plot")
    parser.add_argument("inputs", nargs="*", help="runner JSONL files or verl file logs, optionally NAME=PATH")
    parser.add_argument("--verl-log", action="append", default=[], help="verl file-logger JSONL, optionally NAME=PATH")
    parser.add_argument("-o", "--out", default="eval_report", help="output folder")
    parser.set_defaults(func=_report)


def _add_verl_overrides(sub: Any) -> None:
    parser = sub.add_parser("verl-overrides", help="print main_ppo overrides for a validation-only run")
    parser.add_argument("parquet", nargs="+")
    parser.add_argument("--model", required=True)
    parser.add_argument("--tool-config", help="pixel tool YAML (default: the one shipped for the family)")
    parser.add_argument(
        "--family",
        choices=("auto", *FAMILY_NAMES),
        default="auto",
        help="model family (default: read from --model's config.json; qwen2_5_vl for a hub id)",
    )
    parser.add_argument("--n", type=int, default=1, help="responses per query")
    parser.add_argument("--validation-dir", help="trainer.validation_data_dir (generation dumps)")
    parser.set_defaults(func=_verl_overrides)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``eval`` and its subcommands on the ``verl-pixel`` subparsers; returns the ``eval`` parser."""
    parser = subparsers.add_parser("eval", help="benchmarks: preprocess, run against an endpoint, report")
    sub = parser.add_subparsers(dest="eval_command", required=True)
    for add in (_add_preprocess, _add_run, _add_report, _add_verl_overrides):
        add(sub)
    return parser
