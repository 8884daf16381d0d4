r"""Evaluating inside verl: ``main_ppo`` with ``trainer.val_only=True``, the ``pixel_agent`` loop and ``pixel`` reward.

verl runs one validation pass over ``data.val_files`` and logs, per ``data_source`` (our benchmark name):

* ``val-core/<benchmark>/acc/mean@1``: mean ``r_acc``, the accuracy (ANLS for ``infovqa``): the ``pixel`` reward
  manager puts ``acc`` in ``reward_extra_info``, which verl makes the core validation metric;
* ``val-aux/<benchmark>/pixel/used_tool/mean@1``: the TUR (1 per query with >= 1 successful operation);
* ``val-aux/<benchmark>/pixel/ops_attempted|ops_failed|tool_visual_tokens|turns/mean@1``.

Rows preprocessed with ``--source-per-category`` (data source ``<benchmark>/<category>``) get all of these per
category, e.g. per MVBench task: ``val-core/mvbench/action_sequence/acc/mean@1``, and the report folds them back
into the benchmark with its per-category accuracies.

Command (GPU; the model folder must carry the package's tool chat template, or set
``actor_rollout_ref.model.custom_chat_template`` in a recipe YAML)::

    verl-pixel eval verl-overrides --model Qwen/Qwen2.5-VL-7B-Instruct data/eval/*.parquet > overrides.txt
    xargs -a overrides.txt -d '\n' python -m verl.trainer.main_ppo   # plus your resource overrides

(:func:`verl_native_overrides` returns the same list for Python callers.) With ``trainer.logger`` including
``file`` (set here) verl writes the metrics as JSON lines (``VERL_FILE_LOGGER_PATH``, default
``./<project>/<experiment>.jsonl``), which ``verl-pixel eval report --verl-log NAME=PATH`` turns into the same
tables as the endpoint runner's (accuracy, TUR, ops / response, failed ops, tool visual tokens; verl reports no
input visual tokens or response lengths in validation, so those columns stay empty).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from verl_pixel.eval.benchmarks import SPECS, Benchmark, OfficialScore
from verl_pixel.eval.episode import DEFAULT_MAX_TURNS
from verl_pixel.eval.report import BenchmarkSummary, benchmark_metric
from verl_pixel.model_family import ModelFamily, family_spec
from verl_pixel.tools.schema_yaml import SHIPPED_YAML

_VAL_METRIC = re.compile(
    r"^val-(?:core|aux)/(?P<source>.+)/(?P<var>acc|pixel/used_tool|pixel/ops_attempted|pixel/ops_failed"
    r"|pixel/tool_visual_tokens)/mean@(?P<n>\d+)$"
)


def verl_native_overrides(
    val_files: Sequence[str | os.PathLike],
    *,
    model_path: str,
    tool_config: str | os.PathLike | None = None,
    n: int = 1,
    max_assistant_turns: int = DEFAULT_MAX_TURNS,
    validation_dir: str | None = None,
    extra: Sequence[str] = (),
    family: str | ModelFamily = ModelFamily.QWEN2_5_VL,
) -> list[str]:
    """Hydra overrides of ``verl.trainer.main_ppo`` for a validation-only run of the benchmark parquet files.

    Args:
        val_files: parquet files from ``verl-pixel eval preprocess``.
        model_path: the model (HF id or folder).
        tool_config: the pixel tools' YAML (operation knobs and budgets; the endpoint runner's ``--tool-config``
            reads the same file; keep its ``image_max_pixels`` = the processor's); default: the one shipped for
            ``family``.
        n: responses per query (``val_kwargs.n``; 1 gives the per-query TUR).
        max_assistant_turns: assistant-turn limit of ``pixel_agent`` (the endpoint runner's ``--max-turns``).
        validation_dir: where verl dumps the generations (``trainer.validation_data_dir``), if anywhere.
        extra: further overrides appended last (they win).
        family: the model's family: the default tool config (its shipped preset) and ``data.image_patch_size``.
    """
    if not val_files:
        raise ValueError("val_files: give at least one parquet file")
    spec = family_spec(family)
    tool_config = tool_config or SHIPPED_YAML[spec.family.value]
    files = ",".join(str(Path(path).resolve()) for path in val_files)
    overrides = [
        "trainer.val_only=True",
        "trainer.val_before_train=True",
        "trainer.logger=[console,file]",
        f"data.val_files=[{files}]",
        f"data.train_files=[{Path(val_files[0]).resolve()}]",  # verl builds a train set even when validating only
        "data.custom_cls.path=pkg://verl_pixel.data.rl_dataset",
        "data.custom_cls.name=PixelRLDataset",
        f"data.image_patch_size={spec.patch_size}",
        f"actor_rollout_ref.model.path={model_path}",
        "actor_rollout_ref.model.trust_remote_code=True",  # else verl's hf_processor is None: a text-only run
        "actor_rollout_ref.rollout.multi_turn.enable=True",
        f"actor_rollout_ref.rollout.multi_turn.max_assistant_turns={max_assistant_turns}",
        f"actor_rollout_ref.rollout.multi_turn.tool_config_path={Path(tool_config).resolve()}",
        "actor_rollout_ref.rollout.agent.default_agent_loop=pixel_agent",
        f"actor_rollout_ref.rollout.val_kwargs.n={n}",
        f"actor_rollout_ref.rollout.val_kwargs.do_sample={n > 1}",
        "actor_rollout_ref.rollout.val_kwargs.temperature=0",
        "reward.reward_manager.name=pixel",
    ]
    if validation_dir:
        overrides.append(f"trainer.validation_data_dir={validation_dir}")
    return [*overrides, *extra]


def summaries_from_val_metrics(metrics: Mapping[str, Any], run: str) -> list[BenchmarkSummary]:
    """Per-benchmark summaries from verl's validation metrics (keys in the module docstring).

    When several ``mean@N`` exist, the largest ``N`` (all responses) is used. The failed-operation rate is
    ``mean(ops_failed) / mean(ops_attempted)``, which equals the ratio of totals. Sources ``<benchmark>/<category>``
    of a known benchmark (rows written with ``source_per_category``) are folded into one summary of the benchmark:
    its ``by_category`` holds each category's accuracy and its other numbers are means over the categories (verl
    logs means, not counts), which is also its ``official`` score where that is the category mean (MVBench).
    """
    found: dict[str, dict[str, tuple[int, float]]] = {}
    for key, value in metrics.items():
        match = _VAL_METRIC.match(key)
        # "<source>/pixel/acc" is our reward's own pixel/acc column, not the accuracy of a source "<source>/pixel"
        if match is None or value is None or match["source"].endswith(_REWARD_NAMESPACE):
            continue
        values = found.setdefault(match["source"], {})
        n = int(match["n"])
        if match["var"] not in values or n > values[match["var"]][0]:
            values[match["var"]] = (n, float(value))
    by_source = {source: {var: value for var, (_, value) in found[source].items()} for source in found}
    parents: dict[str, dict[str, dict[str, float]]] = {}
    summaries = []
    for source in sorted(by_source):
        benchmark, _, category = source.partition("/")
        if category and benchmark in _KNOWN_BENCHMARKS:
            parents.setdefault(benchmark, {})[category] = by_source[source]
        else:
            summaries.append(_summary(run, source, by_source[source]))
    for benchmark, categories in parents.items():
        means = {var: _mean([values[var] for values in categories.values() if var in values]) for var in _VARS}
        by_category = tuple((name, values["acc"]) for name, values in sorted(categories.items()) if "acc" in values)
        summary = _summary(run, benchmark, {var: value for var, value in means.items() if value is not None})
        task_mean = SPECS[Benchmark(benchmark)].official_score is OfficialScore.CATEGORY_MEAN
        official = summary.accuracy if task_mean else None
        summaries.append(dataclasses.replace(summary, by_category=by_category, official=official))
    return sorted(summaries, key=lambda summary: summary.benchmark)


_REWARD_NAMESPACE = "/pixel"
_VARS = ("acc", "pixel/used_tool", "pixel/ops_attempted", "pixel/ops_failed", "pixel/tool_visual_tokens")
_KNOWN_BENCHMARKS = frozenset(benchmark.value for benchmark in Benchmark)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _summary(run: str, source: str, values: Mapping[str, float]) -> BenchmarkSummary:
    attempted = values.get("pixel/ops_attempted")
    failed = values.get("pixel/ops_failed")
    return BenchmarkSummary(
        run=run,
        benchmark=source,
        metric=benchmark_metric(source),
        queries=None,
        accuracy=values.get("acc"),
        tur=values.get("pixel/used_tool"),
        ops_per_response=attempted,
        failed_op_rate=failed / attempted if attempted and failed is not None else None,
        tool_visual_tokens_per_query=values.get("pixel/tool_visual_tokens"),
    )


def read_verl_file_log(path: str | os.PathLike) -> dict[str, Any]:
    """The last logged step with validation metrics from verl's ``file`` logger (``{"step", "data"}`` lines).

    Raises:
        ValueError: naming the file, if it holds no validation metrics.
    """
    latest: dict[str, Any] | None = None
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        data = json.loads(line).get("data") or {}
        if any(key.startswith("val-core/") for key in data):
            latest = data
    if latest is None:
        raise ValueError(f"{path}: no val-core/... metrics (was the run started with trainer.logger including file?)")
    return latest


def is_verl_file_log(path: str | os.PathLike) -> bool:
    """Whether the first line of a JSONL file looks like verl's file logger (``{"step": ..., "data": ...}``)."""
    with Path(path).open(encoding="utf-8") as file:
        for line in file:
            if line.strip():
                try:
                    first = json.loads(line)
                except json.JSONDecodeError:
                    return False
                return isinstance(first, dict) and "step" in first and "data" in first
    return False
