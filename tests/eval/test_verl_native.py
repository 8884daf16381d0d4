"""The verl-native way: preprocessed rows -> pixel_agent (AgentLoopWorker) -> pixel reward (RewardLoopWorker) ->
verl's own validation-metric code -> per-benchmark accuracy and TUR."""

from __future__ import annotations

import asyncio
import re

import numpy as np
import pytest
from omegaconf import OmegaConf

from verl_pixel.data.rl_dataset import PixelRLDataset
from verl_pixel.eval.cli import collect_summaries
from verl_pixel.eval.preprocess import preprocess_benchmark
from verl_pixel.eval.report import markdown_report
from verl_pixel.eval.verl_native import read_verl_file_log, summaries_from_val_metrics, verl_native_overrides
from verl_pixel.reward.adapters import manager as _pixel_manager  # noqa: F401  (registers the "pixel" reward manager)
from verl_pixel.reward.scoring.ground_truth import parse_ground_truth
from verl_pixel.testing.agent_harness import Rollouts, call

CROP = "Let me look." + call(bbox_2d=[0.1, 0.1, 0.5, 0.5])
MALFORMED = '<tool_call>{"name": "crop_image", "arguments": {bbox_2d</tool_call>'


def _objects(values) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


@pytest.fixture
def eval_files(tmp_path, bench):
    vstar = preprocess_benchmark("vstar", bench.vstar(tmp_path / "vstar"), tmp_path / "vstar.parquet").path
    tally = preprocess_benchmark("tallyqa", bench.tallyqa(tmp_path / "tally"), tmp_path / "tallyqa.parquet").path
    return [vstar, tally]


def test_overrides_compose_on_verl_ppo_trainer(eval_files, tiny_model_dir, tmp_path):
    overrides = verl_native_overrides(eval_files, model_path=str(tiny_model_dir), validation_dir=str(tmp_path / "gen"))
    config = Rollouts(tiny_model_dir, None, overrides).config  # hydra composition against verl's packaged config
    assert config.trainer.val_only is True and list(config.trainer.logger) == ["console", "file"]
    assert list(config.data.val_files) == [str(path.resolve()) for path in eval_files]
    assert config.reward.reward_manager.name == "pixel"
    assert config.actor_rollout_ref.rollout.agent.default_agent_loop == "pixel_agent"
    assert (
        config.actor_rollout_ref.rollout.val_kwargs.n == 1
        and config.actor_rollout_ref.rollout.val_kwargs.do_sample is False
    )
    assert config.trainer.validation_data_dir == str(tmp_path / "gen")
    with pytest.raises(ValueError, match="at least one parquet"):
        verl_native_overrides([], model_path="m")


def _script_for(answers: dict[str, str]):
    """sa_1: crop, right; sa_2: wrong; sa_3: malformed call, right; tally 10: right; tally 12: crop, wrong."""

    def script(generate_call, tokenizer):
        prompt = tokenizer.decode(generate_call.prompt_ids)
        question = re.findall(r"(Question sa_\d|How many \w+)", prompt)[0]
        turns = {
            "Question sa_1": [CROP, f"\\boxed{{{answers['direct_attributes/sa_1']}}}"],
            "Question sa_2": ["\\boxed{Z}"],
            "Question sa_3": [MALFORMED, f"\\boxed{{{answers['relative_position/sa_3']}}}"],
            "How many red": ["\\boxed{2}"],
            "How many dogs": [CROP, "\\boxed{1}"],
        }[question]
        return turns[min(generate_call.turn, len(turns) - 1)]

    return script


def test_validation_metrics_through_agent_loop_and_reward_loop(eval_files, tiny_model_dir, tiny_tokenizer,
                                                               tiny_processor, tmp_path, monkeypatch):  # fmt: skip
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker
    from verl.trainer.ppo.ray_trainer import RayPPOTrainer
    from verl.utils.tracking import FileLogger

    rows = []
    data_config = OmegaConf.create({"filter_overlong_prompts": False, "return_raw_chat": True})
    for path in eval_files:
        dataset = PixelRLDataset(str(path), tiny_tokenizer, data_config, processor=tiny_processor)
        rows += [dataset[i] for i in range(len(dataset))]
    answers = {}
    for row in rows:
        truth = parse_ground_truth(row["reward_model"]["ground_truth"])
        answers[row["extra_info"]["sample_id"]] = truth.answers[0]
    overrides = verl_native_overrides(eval_files, model_path=str(tiny_model_dir))
    rollouts = Rollouts(tiny_model_dir, tiny_tokenizer, overrides)
    script = _script_for(answers)
    out, _ = rollouts.batch(lambda c: script(c, tiny_tokenizer), [row["raw_prompt"] for row in rows], [0] * len(rows))
    # the trainer unions the dataset columns into the generation output before scoring
    for key in ("data_source", "reward_model", "extra_info"):
        out.non_tensor_batch[key] = _objects([row[key] for row in rows])
    out.non_tensor_batch["uid"] = _objects([f"u{i}" for i in range(len(rows))])

    async def score():
        return await RewardLoopWorker(rollouts.config).compute_score_batch(out)

    scored = asyncio.run(score())
    infos = [item["reward_extra_info"] for item in scored]
    extra = {"reward": [item["reward_score"] for item in scored]}
    extra.update({key: [info[key] for info in infos] for key in infos[0]})
    metrics = RayPPOTrainer._val_metrics_update(
        None, out.non_tensor_batch["data_source"], list(out.non_tensor_batch["uid"]), extra,
        [out.non_tensor_batch["__num_turns__"]],
    )  # fmt: skip
    assert metrics["val-core/vstar/acc/mean@1"] == pytest.approx(2 / 3)
    summaries = {s.benchmark: s for s in summaries_from_val_metrics(metrics, "tiny")}
    vstar, tally = summaries["vstar"], summaries["tallyqa"]
    assert (vstar.accuracy, vstar.tur, vstar.ops_per_response, vstar.failed_op_rate) == pytest.approx(
        (2 / 3, 1 / 3, 2 / 3, 1 / 2)
    )
    assert (tally.accuracy, tally.tur, tally.ops_per_response, tally.failed_op_rate) == pytest.approx(
        (1 / 2, 1 / 2, 1 / 2, 0.0)
    )
    tool_tokens = [info["pixel/tool_visual_tokens"] for info in infos]
    assert vstar.tool_visual_tokens_per_query == pytest.approx(sum(tool_tokens[:3]) / 3) and tool_tokens[0] > 0

    # verl's file logger -> the report CLI's reader
    log = tmp_path / "val.jsonl"
    monkeypatch.setenv("VERL_FILE_LOGGER_PATH", str(log))
    logger = FileLogger("project", "experiment")
    logger.log({"train/x": 1.0}, step=0)
    logger.log(metrics, step=0)
    logger.finish()
    assert read_verl_file_log(log)["val-core/tallyqa/acc/mean@1"] == pytest.approx(0.5)
    (from_log,) = [s for s in collect_summaries([], [f"rl={log}"]) if s.benchmark == "vstar"]
    assert (from_log.run, from_log.accuracy, from_log.queries) == ("rl", vstar.accuracy, None)
    assert "| rl | – | 66.7 | 33.3 | 0.67 | 50.0 | – |" in markdown_report([from_log])


def test_per_category_sources_fold_into_their_benchmark():
    metrics = {
        "val-core/mvbench/object_existence/acc/mean@1": 1.0,
        "val-core/mvbench/episodic_reasoning/acc/mean@1": 0.0,
        "val-aux/mvbench/object_existence/pixel/used_tool/mean@1": 1.0,
        "val-aux/mvbench/episodic_reasoning/pixel/used_tool/mean@1": 0.5,
        "val-aux/mvbench/object_existence/pixel/ops_attempted/mean@1": 1.0,
        "val-aux/mvbench/episodic_reasoning/pixel/ops_attempted/mean@1": 2.0,
        "val-aux/mvbench/episodic_reasoning/pixel/acc/mean@1": 0.0,  # the reward's own column, not a source
        "val-core/verl_pixel/seed_sample/acc/mean@1": 0.25,  # not a known benchmark: a source of its own
    }
    mvbench, seed = summaries_from_val_metrics(metrics, "run")
    assert mvbench.benchmark == "mvbench" and seed.benchmark == "verl_pixel/seed_sample" and seed.accuracy == 0.25
    # MVBench's official score is the task mean; TUR and operations are task means too (verl logs means only)
    assert (mvbench.accuracy, mvbench.tur, mvbench.ops_per_response) == (0.5, 0.75, 1.5)
    assert mvbench.by_category == (("episodic_reasoning", 0.0), ("object_existence", 1.0))
