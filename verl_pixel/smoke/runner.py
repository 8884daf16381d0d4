"""``verl-pixel smoke``: the real recipes at tiny scale on this machine, then a pass/fail table.

Stages, each a subprocess whose log lands in the work folder:

1. install versions and the plugin as verl loads it (``python -m verl_pixel.plugin --check``);
2. the model: the family's tiny random-weight kit, or ``--model`` (a real small checkpoint; on GPU, recommended);
3. data: synthesized SFT trajectories and RL rows from the bundled seed sample; every SFT row counted in tokens
   against the SFT run's ``MAX_LENGTH`` (the pre-check ``PixelSFTDataset`` runs at load);
4. ``recipes/sft_<family>.sh`` for two steps, exporting a Hugging Face folder;
5. the image-token accounting probe on that export (:mod:`verl_pixel.smoke.token_accounting`: vLLM on GPU, the
   ``hf`` backend on CPU);
6. ``recipes/grpo_adaptive.sh`` for two steps from the export (Look Less layout 2 + 1 + 1), saving a checkpoint.

On a machine without GPUs the recipes run in their CPU mode (``PLATFORM=cpu``: verl-pixel's CPU platform, the
``hf`` rollout, fp32); on GPU they run as a user runs them, on one GPU with vLLM (or ``--rollout sglang``). Every
shipped default stays on: no test hook forces tool calls in the recipe runs, so a random-weight model calls none.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform as python_platform
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path

from verl_pixel.model_family import ModelFamily, family_spec, resolve_family
from verl_pixel.smoke import checks as rules
from verl_pixel.smoke.checks import Check, Status
from verl_pixel.smoke.monitor import GIB, Peaks, watch

REPO_RECIPES = Path(__file__).resolve().parents[2] / "recipes"
SFT_RECIPES = {ModelFamily.QWEN2_5_VL: "sft_qwen25vl7b.sh", ModelFamily.QWEN3_VL: "sft_qwen3vl8b.sh"}
LAYOUT = {"adaptive": 2, "force_tool": 1, "no_tool": 1}  # rollout.n = 4: every group has both probes
PROMPTS_PER_STEP = 2
# Visual tokens of inputs / crops / frames: small on CPU (short steps), larger on GPU.
TOKENS = {"cpu": (64, 64, 64), "gpu": (256, 128, 64)}
LENGTHS = {"cpu": (4096, 2048, 384, 4096), "gpu": (8192, 3072, 1024, 8192)}  # SFT max, prompt, response, token budget


@dataclasses.dataclass(frozen=True)
class SmokeOptions:
    """What the smoke runs.

    Attributes:
        workdir: folder for the model, data, logs and checkpoints (created).
        family: model family of the tiny model and the recipes.
        platform: ``cpu`` or ``gpu``.
        rollout: ``hf`` (CPU), ``vllm`` or ``sglang`` (GPU).
        model: a model folder to use instead of the tiny kit.
        recipes: the ``recipes/`` folder of a verl-pixel checkout.
        steps: SFT and GRPO training steps.
        timeout_s: limit per stage.
    """

    workdir: Path
    family: ModelFamily = ModelFamily.QWEN2_5_VL
    platform: str = "cpu"
    rollout: str = "hf"
    model: Path | None = None
    recipes: Path = REPO_RECIPES
    steps: int = 2
    timeout_s: int = 900


@dataclasses.dataclass
class SmokeReport:
    """The table and what ran."""

    options: SmokeOptions
    checks: list[Check]
    seconds: float

    @property
    def ok(self) -> bool:
        """Every pass/fail row passed."""
        return rules.passed(self.checks)


def resolve_options(
    workdir: str | os.PathLike,
    family: str | None = None,
    platform: str = "auto",
    rollout: str = "auto",
    model: str | os.PathLike | None = None,
    recipes: str | os.PathLike | None = None,
) -> SmokeOptions:
    """Options from the command line's values (``auto``: a GPU if torch sees one; vLLM there, hf on CPU).

    Raises:
        FileNotFoundError: no recipes folder (the smoke runs a checkout's recipes) or no such model folder.
        ValueError: a rollout backend the platform cannot run.
    """
    import torch

    platform = ("gpu" if torch.cuda.is_available() else "cpu") if platform == "auto" else platform
    rollout = ("vllm" if platform == "gpu" else "hf") if rollout == "auto" else rollout
    if platform == "cpu" and rollout != "hf":
        raise ValueError(f"--rollout {rollout} needs a GPU; on CPU the smoke rolls out with hf")
    folder = Path(recipes) if recipes else REPO_RECIPES
    if not (folder / "grpo_adaptive.sh").is_file():
        raise FileNotFoundError(f"no recipes in {folder}: run from a verl-pixel checkout or pass --recipes")
    model_dir = Path(model).resolve() if model else None
    if model_dir is not None and not (model_dir / "config.json").is_file():
        raise FileNotFoundError(f"no model folder at {model_dir} (config.json missing)")
    chosen = resolve_family(family or "auto", model_dir) if (family or model_dir) else ModelFamily.QWEN2_5_VL
    return SmokeOptions(Path(workdir).resolve(), chosen, platform, rollout, model_dir, folder.resolve())


def run_smoke(options: SmokeOptions) -> SmokeReport:
    """Run every stage (module docstring) and collect the table; later stages are skipped after a failure."""
    from verl_pixel.tiny_models import build_tiny_model

    started = time.perf_counter()
    work = options.workdir
    work.mkdir(parents=True, exist_ok=True)
    table = [_versions(options), _plugin(options)]
    model = options.model or build_tiny_model(work / "model", options.family)
    table.append(Check(f"model ({options.family.value})", Status.INFO, _describe_model(options, model)))
    sft_rows, rl_rows = _write_data(work / "data", options.family)
    table.append(_length_check(model, options, sft_rows))
    sft_run = _run_sft(options, model, sft_rows)
    export = work / "sft" / "checkpoints" / f"global_step_{options.steps}" / "huggingface"
    table += rules.sft_checks(sft_run.returncode, rules.read_metrics(work / "sft_metrics.jsonl"), options.steps, export)
    stages = {"SFT": sft_run}
    if rules.passed(table):
        table.append(rules.accounting_check(_accounting(options, export), _engine(options)))
        stages["GRPO"] = grpo_run = _run_grpo(options, export, rl_rows)
        expected = {"steps": options.steps, "rollouts": PROMPTS_PER_STEP * sum(LAYOUT.values())}
        steps = rules.read_metrics(work / "grpo_metrics.jsonl")
        table += rules.grpo_checks(grpo_run.returncode, steps, expected, options.platform)
        table.append(rules.checkpoint_check(work / "grpo" / "checkpoints" / f"global_step_{options.steps}" / "actor"))
    else:
        table.append(Check("GRPO recipe", Status.SKIP, "skipped: an earlier stage failed"))
    table += _stage_rows(stages, options.platform)
    return SmokeReport(options, table, time.perf_counter() - started)


def _engine(options: SmokeOptions) -> str:
    """The backend the token-accounting probe checks: vLLM on GPU (SGLang runs set it too), hf on CPU."""
    return "vllm" if options.platform == "gpu" else "hf"


@dataclasses.dataclass(frozen=True)
class StageRun:
    """A finished stage: exit code (124: timed out), wall time, memory peaks."""

    returncode: int
    seconds: float
    peaks: Peaks


def run_stage(command: Sequence[str], env: Mapping[str, str], log: Path, timeout_s: int, gpu: bool) -> StageRun:
    """Run one stage with its output in ``log``, sampling its process tree's memory; kill it past ``timeout_s``."""
    started = time.perf_counter()
    with open(log, "w") as out:
        process = subprocess.Popen(
            list(command), env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        with watch(process.pid, gpu=gpu) as peaks:
            try:
                returncode = process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # the recipe, torchrun ranks, Ray processes it started
                process.wait()
                returncode = 124
    return StageRun(returncode, time.perf_counter() - started, peaks)


def base_env(options: SmokeOptions, metrics: Path) -> dict[str, str]:
    """Environment of a stage: offline, no wandb, verl's file logger to ``metrics``; the platform from PLATFORM."""
    env = {key: value for key, value in os.environ.items() if key != "VERL_PLATFORM"}  # the recipes decide it
    env.update(
        PYTHON=sys.executable,
        PLATFORM=options.platform,
        NGPUS_PER_NODE="1",
        LOGGER="file",
        VERL_FILE_LOGGER_PATH=str(metrics),
        HF_HUB_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        WANDB_MODE="disabled",
        RAY_AUTH_MODE="disabled",
    )
    return env


def _versions(options: SmokeOptions) -> Check:
    import torch

    names = ["torch", "transformers", "verl", "ray", "verl-pixel"]
    required = ["torch", "transformers", "verl", "ray"]
    if options.platform == "gpu":
        backend = {"vllm": "vllm", "sglang": "sglang"}.get(options.rollout)
        names += [name for name in ("flash-attn", backend) if name]
        required += [name for name in ("flash-attn", backend) if name]
    versions = {"python": python_platform.python_version(), **{name: _version(name) for name in names}}
    if options.platform == "gpu":
        versions["cuda"] = torch.version.cuda
    return rules.versions_check(versions, required)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _plugin(options: SmokeOptions) -> Check:
    env = base_env(options, options.workdir / "unused.jsonl")
    if options.platform == "cpu":
        env["VERL_PLATFORM"] = "cpu"
    command = [sys.executable, "-m", "verl_pixel.plugin", "--check"]
    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    lines = [line.strip() for line in out.stdout.splitlines() if line.strip()]
    registered = "; ".join(" ".join(line.split()) for line in lines[1:] if not line.startswith("cpu platform"))
    return Check.of("plugin registered", out.returncode == 0, registered or out.stderr.strip()[-300:])


def _describe_model(options: SmokeOptions, model: Path) -> str:
    kind = "given" if options.model else f"tiny {family_spec(options.family).processor_class} kit, random weights"
    return f"{model} ({kind})"


def _write_data(folder: Path, family: ModelFamily) -> tuple[Path, tuple[Path, Path]]:
    """SFT trajectories and RL rows (4 train, 2 val) from the bundled seed sample."""
    from verl_pixel.data.parquet_io import write_rl_parquet
    from verl_pixel.data.rl_prepare import RLPrepareConfig, seeds_to_rl_rows
    from verl_pixel.data.seed_sample import load_seed_sample
    from verl_pixel.data.smoke_sample import write_synthesized_sft_sample

    sft_train, _ = write_synthesized_sft_sample(folder / "sft", family=family)
    seeds = [seed for seed in load_seed_sample(folder / "seeds") if seed.image]
    rows = seeds_to_rl_rows(seeds[:6], RLPrepareConfig())
    return sft_train, (
        write_rl_parquet(rows[:4], folder / "rl_train.parquet"),
        write_rl_parquet(rows[4:], folder / "rl_val.parquet"),
    )


def _length_check(model: Path, options: SmokeOptions, sft_rows: Path) -> Check:
    """Every SFT row within the SFT run's MAX_LENGTH, counted as verl will build it."""
    from transformers import AutoProcessor

    from verl_pixel.configs import read_chat_template
    from verl_pixel.data.parquet_io import iter_rows
    from verl_pixel.data.sft_lengths import token_counter

    processor = AutoProcessor.from_pretrained(str(model), trust_remote_code=True)
    processor.chat_template = read_chat_template(family_spec(options.family).chat_template)
    count = token_counter(processor)
    lengths = [count(row) for _, row in iter_rows(sft_rows)]
    limit = LENGTHS[options.platform][0]
    detail = f"{len(lengths)} rows, longest {max(lengths)} tokens of MAX_LENGTH {limit}"
    return Check.of("SFT rows fit MAX_LENGTH", max(lengths) <= limit, detail)


def _run_sft(options: SmokeOptions, model: Path, train: Path) -> StageRun:
    max_length = LENGTHS[options.platform][0]
    env = base_env(options, options.workdir / "sft_metrics.jsonl")
    env.update(
        MODEL_PATH=str(model),
        TRAIN_FILES=str(train),
        OUTPUT_DIR=str(options.workdir / "sft"),
        TRAIN_BATCH_SIZE="4",
        MAX_LENGTH=str(max_length),
        MAX_TOKEN_LEN_PER_GPU=str(max_length),
    )
    env.pop("VAL_FILES", None)
    overrides = [f"trainer.total_training_steps={options.steps}", f"trainer.save_freq={options.steps}",
                 "data.num_workers=0", "trainer.resume_mode=disable"]  # fmt: skip
    command = ["bash", str(options.recipes / SFT_RECIPES[options.family]), *overrides]
    return run_stage(command, env, options.workdir / "sft.log", options.timeout_s, options.platform == "gpu")


def _accounting(options: SmokeOptions, model: Path) -> dict | None:
    backend = _engine(options)
    env = base_env(options, options.workdir / "unused.jsonl")
    if options.platform == "cpu":
        env["VERL_PLATFORM"] = "cpu"
    command = [sys.executable, "-m", "verl_pixel.smoke.token_accounting", "--model", str(model), "--backend", backend]
    log = options.workdir / "token_accounting.log"
    with open(log, "w") as out:
        proc = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=out, text=True, timeout=900, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else None


def _run_grpo(options: SmokeOptions, model: Path, rl_rows: tuple[Path, Path]) -> StageRun:
    image, crop, frame = (family_spec(options.family).pixels(n) for n in TOKENS[options.platform])
    _, prompt, response, budget = LENGTHS[options.platform]
    env = base_env(options, options.workdir / "grpo_metrics.jsonl")
    env.update(
        MODEL_PATH=str(model), TRAIN_FILES=str(rl_rows[0]), VAL_FILES=str(rl_rows[1]),
        OUTPUT_DIR=str(options.workdir / "grpo"), ROLLOUT=options.rollout, ROLLOUT_TP="1", ROLLOUT_GPU_MEM_UTIL="0.35",
        TRAIN_BATCH_SIZE=str(PROMPTS_PER_STEP), PPO_MINI_BATCH_SIZE=str(PROMPTS_PER_STEP),
        MAX_PROMPT_LENGTH=str(prompt), MAX_RESPONSE_LENGTH=str(response), PPO_MAX_TOKEN_LEN_PER_GPU=str(budget),
        IMAGE_MAX_PIXELS=str(image), CROP_MAX_PIXELS=str(crop), FRAME_MAX_PIXELS=str(frame),
        SAVE_FREQ=str(options.steps), TEST_FREQ="-1", TOTAL_EPOCHS="1",
    )  # fmt: skip
    if options.platform == "cpu":
        env["FILTER_WORKERS"] = "1"  # a handful of rows: process start-up would cost more than it saves
    overrides = [
        f"actor_rollout_ref.rollout.n={sum(LAYOUT.values())}",
        *(f"pixel.rollout.mode_layout.{mode}={count}" for mode, count in LAYOUT.items()),
        f"trainer.total_training_steps={options.steps}",
        "trainer.val_before_train=False",
    ]
    if options.platform == "gpu":  # one GPU, one of each worker; eager vLLM starts faster than CUDA graphs
        overrides += ["actor_rollout_ref.rollout.enforce_eager=True", "actor_rollout_ref.rollout.agent.num_workers=1",
                      "reward.num_workers=1", "transfer_queue.backend.SimpleStorage.num_data_storage_units=1",
                      "data.dataloader_num_workers=0"]  # fmt: skip
    command = ["bash", str(options.recipes / "grpo_adaptive.sh"), *overrides]
    return run_stage(command, env, options.workdir / "grpo.log", options.timeout_s, options.platform == "gpu")


def _stage_rows(stages: Mapping[str, StageRun], platform: str) -> list[Check]:
    """Measurements without a bound: wall time and memory peaks per recipe stage."""
    rows = [
        Check("stage wall time", Status.INFO, ", ".join(f"{name} {run.seconds:.0f} s" for name, run in stages.items()))
    ]
    host = ", ".join(f"{name} {run.peaks.host / GIB:.1f} GiB" for name, run in stages.items())
    rows.append(Check("peak host memory (PSS, all processes)", Status.INFO, host))
    if platform == "gpu":
        gpu = ", ".join(f"{name} {(run.peaks.gpu or 0) / GIB:.1f} GiB" for name, run in stages.items())
        rows.append(Check("peak GPU memory (nvidia-smi)", Status.INFO, gpu))
    else:
        rows.append(Check("peak GPU memory", Status.SKIP, "no GPU on this machine"))
    return rows


def format_report(report: SmokeReport) -> str:
    """Header, the table and where the logs are."""
    options = report.options
    verdict = "PASSED" if report.ok else "FAILED"
    header = (
        f"verl-pixel smoke {verdict}: {options.platform}, rollout {options.rollout}, family {options.family.value}, "
        f"{report.seconds:.0f} s (work folder {options.workdir})"
    )
    logs = "logs: " + ", ".join(str(options.workdir / name) for name in ("sft.log", "token_accounting.log", "grpo.log"))
    return "\n".join([header, "", rules.format_table(report.checks), "", logs])
