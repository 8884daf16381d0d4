"""``verl-pixel synthesize``, ``prepare`` and ``data check``: the data subcommands (wired in by :mod:`verl_pixel.cli`).

Usage::

    verl-pixel synthesize --seeds sample --out data/sft.parquet --val-out data/sft_val.parquet --val-size 4
    verl-pixel synthesize --seeds seeds.jsonl --out sft.parquet --text-only 0.2 --recrop-twice 0.25 ...
    verl-pixel synthesize --seeds seeds.jsonl --out sft.parquet --writer endpoint \
        --endpoint-url http://127.0.0.1:8000/v1 --endpoint-model Qwen2.5-VL-72B-Instruct --concurrency 16
    verl-pixel prepare sample DIR                      # draw the bundled seed sample into DIR
    verl-pixel prepare rl --seeds sample --out data/rl.parquet
    verl-pixel prepare pixel-reasoner --json sft.json --image-root unzipped/ --out data/pr_sft.parquet
    verl-pixel prepare pixel-reasoner-rl --parquet PixelReasoner-RL-Data/release.parquet --out data/pr_rl.parquet
    verl-pixel prepare deepeyes --parquet data_0.1.2_visual_toolbox_v2.parquet --out data/deepeyes_rl.parquet
    verl-pixel data check data/sft.parquet data/rl.parquet   # every bad row: file, row, field, reason
    verl-pixel data check data/sft.parquet --max-length 16384 --model ckpt/   # and every SFT row over 16384 tokens

``--seeds sample`` draws the bundled procedural sample into ``--sample-dir`` (default: next to ``--out``).
The importers of the peers' data skip a bad row, naming it (file, row, field), print how many they skipped, and
write atomically: no output file when no row is good.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from verl_pixel.data.seeds import SeedAnnotation
from verl_pixel.model_family import FAMILY_NAMES

SAMPLE_SEEDS = "sample"
_SHARE_FLAGS = (
    "single_pass",
    "recrop_once",
    "recrop_twice",
    "further_zoom",
    "video_single_pass",
    "video_reselect",
    "text_only",
)


INPUT_MAX_PIXELS_HELP = (
    "resize stored inputs to this pixel budget (default: the family's RL image budget, the GRPO recipes' "
    "IMAGE_MAX_PIXELS, so SFT sees images as RL will; 0: keep the files as they are)"
)


def add_parser(subparsers: Any) -> None:
    """Register ``synthesize``, ``prepare`` and ``data`` on an ``argparse`` subparsers object."""
    synth = subparsers.add_parser("synthesize", help="synthesize SFT trajectories from seed annotations")
    _seed_arguments(synth)
    synth.add_argument("--out", required=True, help="SFT parquet to write")
    synth.add_argument("--val-out", help="optional second parquet for the last --val-size rows")
    synth.add_argument("--val-size", type=int, default=0, help="rows moved to --val-out")
    synth.add_argument("--seed", type=int, default=0, help="seed of all random choices")
    for name in _SHARE_FLAGS:
        synth.add_argument(f"--{name.replace('_', '-')}", type=float, dest=name, help=f"share of {name}")
    synth.add_argument(
        "--output-style",
        choices=("qwen", "pixel_reasoner"),
        default="qwen",
        help="tool outputs as tool messages (qwen) or user observation turns (pixel_reasoner)",
    )
    synth.add_argument(
        "--family",
        choices=FAMILY_NAMES,
        default=FAMILY_NAMES[0],
        help="model family: coordinates of the calls, patch factor and budgets (default: %(default)s)",
    )
    synth.add_argument("--input-max-pixels", type=int, help=INPUT_MAX_PIXELS_HELP)
    synth.add_argument("--crop-max-pixels", type=int, help="pixel budget of crops (default: the ops default)")
    synth.add_argument("--writer", choices=("template", "endpoint"), default="template")
    synth.add_argument("--endpoint-url", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1")
    synth.add_argument("--endpoint-model", help="model name for the endpoint")
    synth.add_argument("--concurrency", type=int, default=8, help="endpoint requests in flight")
    synth.add_argument("--send-images", action="store_true", help="attach step images to endpoint requests")
    synth.set_defaults(func=_synthesize)

    prepare = subparsers.add_parser("prepare", help="preprocess data to verl parquet")
    targets = prepare.add_subparsers(dest="target", required=True)
    sample = targets.add_parser("sample", help="draw the bundled procedural seed sample into a folder")
    sample.add_argument("out", help="destination folder")
    sample.set_defaults(func=_prepare_sample)
    rl = targets.add_parser("rl", help="seed annotations to the RL schema (pixel_agent rows)")
    _seed_arguments(rl)
    rl.add_argument("--out", required=True, help="RL parquet to write")
    rl.add_argument("--video-layout", choices=("video", "frames"), default="video")
    rl.add_argument("--no-embed-images", action="store_true", help="store absolute paths instead of bytes")
    rl.add_argument("--split", default="train")
    rl.add_argument("--skip-bad", action="store_true", help="drop seeds whose images are missing or do not decode")
    rl.set_defaults(func=_prepare_rl)
    _add_pixel_reasoner(targets)
    _add_peer_rl(targets)
    _add_check(subparsers)


def _add_pixel_reasoner(targets: Any) -> None:
    from verl_pixel.data.pixel_reasoner_import import (
        PIXEL_REASONER_SFT_FRAME_MAX_PIXELS,
        PIXEL_REASONER_SFT_IMAGE_MAX_PIXELS,
    )
    from verl_pixel.model_family import ModelFamily, family_spec

    pr = targets.add_parser("pixel-reasoner", help="Pixel Reasoner SFT JSON to the SFT schema")
    pr.add_argument("--json", required=True, help="Pixel Reasoner SFT JSON (list) or JSON lines")
    pr.add_argument("--image-root", help="folder relative image paths are resolved against")
    pr.add_argument("--mask-policy", choices=("last_two", "all"), default="last_two")
    pr.add_argument("--out", required=True, help="SFT parquet to write")
    # Default: the GRPO recipes' budgets (Pixel Reasoner's model is a Qwen2.5-VL), so SFT sees images as RL will and
    # rows stay within the SFT recipes' MAX_LENGTH; Pixel Reasoner's own SFT budgets are one flag away.
    rl = family_spec(ModelFamily.QWEN2_5_VL).ops_config()
    pr.add_argument(
        "--image-max-pixels", type=_budget, default=rl.image_max_pixels,
        help="pixel budget recorded on each image (default: the RL recipes' %(default)s; Pixel Reasoner's SFT "
        f"processor: {PIXEL_REASONER_SFT_IMAGE_MAX_PIXELS}; 0: none)",
    )  # fmt: skip
    pr.add_argument(
        "--frame-max-pixels", type=_budget, default=rl.frame_max_pixels,
        help="pixel budget recorded on each video frame (default: the RL recipes' %(default)s; Pixel Reasoner's: "
        f"{PIXEL_REASONER_SFT_FRAME_MAX_PIXELS}; 0: none)",
    )  # fmt: skip
    pr.set_defaults(func=_prepare_pixel_reasoner)


def _budget(text: str) -> int | None:
    value = int(text)
    return value or None


def _add_peer_rl(targets: Any) -> None:
    for name, help_text, func in (
        ("pixel-reasoner-rl", "Pixel Reasoner RL / eval parquet (release.parquet) to the RL schema", _prepare_pr_rl),
        ("deepeyes", "DeepEyes RL parquet (DeepEyes-Datasets-47k) to the RL schema", _prepare_deepeyes),
    ):
        parser = targets.add_parser(name, help=help_text)
        parser.add_argument("--parquet", required=True, help="the released parquet file")
        parser.add_argument("--out", required=True, help="RL parquet to write")
        parser.add_argument("--split", default="train")
        parser.add_argument("--data-source", help="rows' data_source (default: from the source)")
        if name == "pixel-reasoner-rl":
            parser.add_argument("--image-root", help="folder relative image paths start from (default: the parquet's)")
            parser.add_argument("--no-embed-images", action="store_true", help="store absolute paths, not bytes")
            parser.add_argument("--video-layout", choices=("frames", "video"), default="frames")
        parser.set_defaults(func=func)


def _add_check(subparsers: Any) -> None:
    data = subparsers.add_parser("data", help="check SFT / RL parquet files")
    commands = data.add_subparsers(dest="data_command", required=True)
    check = commands.add_parser(
        "check",
        help="list every bad row (file, row, field, reason) with the checks the datasets run at load; no training",
    )
    check.add_argument("files", nargs="+", help="SFT or RL parquet files")
    check.add_argument("--kind", choices=("auto", "sft", "rl"), default="auto", help="auto: by the files' columns")
    check.add_argument("--no-decode", action="store_true", help="do not decode images (only check that files exist)")
    check.add_argument("--no-file-check", action="store_true", help="do not open image paths (nodes-only paths)")
    check.add_argument(
        "--max-length", type=int,
        help="SFT rows longer than this many tokens (images included) are bad: the SFT recipes' MAX_LENGTH",
    )  # fmt: skip
    check.add_argument("--model", help="model folder whose processor counts the tokens (with --max-length)")
    check.add_argument(
        "--chat-template",
        help="template the trainer renders with: a file, or a shipped name (default: the model family's)",
    )
    check.set_defaults(func=_check)


def _seed_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seeds", required=True, help=f"seeds.jsonl, or '{SAMPLE_SEEDS}' for the bundled sample")
    parser.add_argument("--sample-dir", help="where '--seeds sample' draws its files (default: next to --out)")
    parser.add_argument("--limit", type=int, help="use only the first N seeds")


def _load_seeds(args: argparse.Namespace) -> list[SeedAnnotation]:
    from verl_pixel.data.seed_sample import load_seed_sample
    from verl_pixel.data.seeds import read_seeds

    if args.seeds == SAMPLE_SEEDS:
        folder = Path(args.sample_dir) if args.sample_dir else Path(args.out).parent / "seed_sample"
        seeds = load_seed_sample(folder)
    else:
        seeds = read_seeds(args.seeds)
    return seeds[: args.limit] if args.limit else seeds


def _synthesis_config(args: argparse.Namespace) -> Any:
    from verl_pixel.data.synthesis_config import SynthesisConfig
    from verl_pixel.data.video_sampling import VideoBudget
    from verl_pixel.model_family import family_spec
    from verl_pixel.ops.config import VIDEO_FRAME_MAX_TOKENS

    ops_overrides: dict[str, Any] = {"output_style": args.output_style}
    if args.crop_max_pixels:
        ops_overrides["crop_max_pixels"] = args.crop_max_pixels
    shares = {name: getattr(args, name) for name in _SHARE_FLAGS if getattr(args, name) is not None}
    spec = family_spec(args.family)
    ops = spec.ops_config(**ops_overrides)
    inputs = ops.image_max_pixels if args.input_max_pixels is None else (args.input_max_pixels or None)
    video = VideoBudget(max_pixels=spec.pixels(VIDEO_FRAME_MAX_TOKENS))  # Pixel Reasoner's 512 tokens, family units
    return SynthesisConfig(seed=args.seed, ops=ops, input_max_pixels=inputs, video=video, **shares)


def _writer(args: argparse.Namespace, seed: int) -> Any:
    from verl_pixel.data.writers import TemplateWriter

    if args.writer == "template":
        return TemplateWriter(seed=seed)
    from verl_pixel.data.endpoint_writer import EndpointWriter, EndpointWriterConfig, writer_endpoint

    if not args.endpoint_url or not args.endpoint_model:
        raise SystemExit("--writer endpoint needs --endpoint-url and --endpoint-model")
    config = EndpointWriterConfig(
        writer_endpoint(args.endpoint_url, args.endpoint_model, seed=seed),
        max_concurrency=args.concurrency,
        send_images=args.send_images,
    )
    return EndpointWriter(config)


def _synthesize(args: argparse.Namespace) -> int:
    from verl_pixel.data.parquet_io import write_sft_parquet
    from verl_pixel.data.synthesize import format_share_table, synthesize

    config = _synthesis_config(args)
    result = synthesize(_load_seeds(args), config, _writer(args, config.seed))
    rows = result.rows
    if args.val_size:
        if not args.val_out or args.val_size >= len(rows):
            raise SystemExit("--val-size needs --val-out and must be smaller than the number of rows")
        print(f"wrote {write_sft_parquet(rows[-args.val_size :], args.val_out)} ({args.val_size} rows)")
        rows = rows[: -args.val_size]
    print(f"wrote {write_sft_parquet(rows, args.out)} ({len(rows)} rows)")
    print(format_share_table(result.shares))
    return 0


def _prepare_sample(args: argparse.Namespace) -> int:
    from verl_pixel.data.seed_sample import write_seed_sample

    print(write_seed_sample(args.out))
    return 0


def _prepare_rl(args: argparse.Namespace) -> int:
    from verl_pixel.data.parquet_io import write_rl_parquet
    from verl_pixel.data.rl_prepare import RLPrepareConfig, seeds_to_rl_rows

    config = RLPrepareConfig(video_layout=args.video_layout, embed_images=not args.no_embed_images, split=args.split)
    rows = seeds_to_rl_rows(_load_seeds(args), config, skip_bad=args.skip_bad)
    print(f"wrote {write_rl_parquet(rows, args.out)} ({len(rows)} rows)")
    return 0


def _prepare_pixel_reasoner(args: argparse.Namespace) -> int:
    from verl_pixel.data.parquet_io import write_sft_parquet
    from verl_pixel.data.pixel_reasoner_import import PixelReasonerImportConfig, import_pixel_reasoner_file

    root = args.image_root or str(Path(args.json).resolve().parent)
    config = PixelReasonerImportConfig(
        image_root=root,
        mask_policy=args.mask_policy,
        image_max_pixels=args.image_max_pixels,
        frame_max_pixels=args.frame_max_pixels,
    )
    return _write_import(lambda: import_pixel_reasoner_file(args.json, config), args.out, write_sft_parquet)


def _peer_rl_config(args: argparse.Namespace) -> Any:
    from verl_pixel.data.peer_rl_import import PeerRLImportConfig

    return PeerRLImportConfig(
        image_root=getattr(args, "image_root", None),
        embed_images=not getattr(args, "no_embed_images", False),
        video_layout=getattr(args, "video_layout", "frames"),
        split=args.split,
        data_source=args.data_source,
    )


def _prepare_pr_rl(args: argparse.Namespace) -> int:
    from verl_pixel.data.parquet_io import write_rl_parquet
    from verl_pixel.data.peer_rl_import import import_pixel_reasoner_rl

    config = _peer_rl_config(args)
    return _write_import(lambda: import_pixel_reasoner_rl(args.parquet, config), args.out, write_rl_parquet)


def _prepare_deepeyes(args: argparse.Namespace) -> int:
    from verl_pixel.data.parquet_io import write_rl_parquet
    from verl_pixel.data.peer_rl_import import import_deepeyes

    config = _peer_rl_config(args)
    return _write_import(lambda: import_deepeyes(args.parquet, config), args.out, write_rl_parquet)


def _write_import(run: Any, out: str, write: Any) -> int:
    """Run an import; print the skipped rows and the counts; write the good rows (atomically), or nothing if none.

    A source that cannot be read at all (not JSON, not parquet) is one line on stderr and exit code 2.
    """
    try:
        result = run()
    except ValueError as err:  # row-level problems never get here: they are skipped and listed
        print(f"verl-pixel: error: {err}", file=sys.stderr)
        return 2
    for line in result.listing():
        print(line)
    print(result.summary())
    if not result.rows:
        print(f"no good rows: {out} not written")
        return 1
    print(f"wrote {write(result.rows, out)} ({len(result.rows)} rows)")
    return 0


def _check(args: argparse.Namespace) -> int:
    from verl_pixel.data.row_checks import RowCheckConfig, check_file, kind_of_file

    limit = _token_limit(args)
    bad_total = 0
    for path in args.files:
        kind = kind_of_file(path) if args.kind == "auto" else args.kind
        config = RowCheckConfig(
            kind, decode_images=not args.no_decode, check_files=not args.no_file_check, token_limit=limit
        )
        result = check_file(path, config)
        errors = sorted((*result.unreadable, *result.bad), key=lambda error: error.row_index or 0)
        for error in errors:
            print(error)
        print(f"{path}: {config.kind.value} rows: {result.rows}, bad: {len(errors)}")
        bad_total += len(errors)
    return 1 if bad_total else 0


def _token_limit(args: argparse.Namespace) -> Any:
    """``--max-length`` as a row check, counted with ``--model``'s processor and the trainer's chat template."""
    if args.max_length is None:
        return None
    if not args.model:
        raise SystemExit("--max-length needs --model: the model folder whose processor counts the tokens")
    from transformers import AutoProcessor

    from verl_pixel.configs import read_chat_template
    from verl_pixel.data.sft_lengths import TokenLimit, token_counter
    from verl_pixel.model_family import family_spec, resolve_family

    if not Path(args.model, "config.json").is_file():
        raise FileNotFoundError(f"no model folder at {args.model} (config.json missing)")
    processor = AutoProcessor.from_pretrained(args.model, trust_remote_code=True)
    template = args.chat_template or family_spec(resolve_family(model_dir=args.model)).chat_template
    path = Path(template)
    processor.chat_template = path.read_text(encoding="utf-8") if path.is_file() else read_chat_template(template)
    return TokenLimit(token_counter(processor), args.max_length, "--max-length")
