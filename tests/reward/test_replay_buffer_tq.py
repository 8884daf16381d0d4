"""The group step through verl V1's real pieces, on a real in-process Ray + TransferQueue.

Trajectories are produced by verl's ``AgentLoopWorkerTQ.generate_sequences`` -> ``_run_prompt`` (status tags) ->
``_agent_loop_postprocess`` (TransferQueue put) -> ``_compute_score`` -> verl's ``RewardLoopWorker`` running the
``pixel`` manager; only the agent loop body is scripted (it returns a trajectory record per session). The buffer is
built by verl's ``PPOTrainer._build_replay_buffer`` from ``trainer.v1.sampler.custom_sampler`` and sampled by
verl's ``PPOTrainer.step`` / ``_step_once``, whose model-bound stages (batch balancing, log-probs, actor update) are
stubbed; ``_compute_advantage`` is verl's, so the advantages checked here are the ones training would use.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from verl_pixel.record import RolloutMode, TrajectoryRecord
from verl_pixel.reward.adapters import manager as _registers_pixel  # noqa: F401  (the plugin imports it in verl)

pytestmark = [
    pytest.mark.slow,  # Ray + TransferQueue start-up: ~15 s on 2 cores
    pytest.mark.filterwarnings("ignore:.*load_extern_type.*:FutureWarning"),  # verl's own loader warns
]

MC_TRUTH = {"answer": "B", "answer_type": "multiple_choice", "options": ["red", "blue", "green", "white"]}
ADAPTIVE, FORCE, NO = RolloutMode.ADAPTIVE, RolloutMode.FORCE_TOOL, RolloutMode.NO_TOOL
# the Look Less layout of LOOK_LESS_GROUP (the buffer refuses Look Less without probes, and a layout that is not n)
LOOK_LESS_LAYOUT = [
    "actor_rollout_ref.rollout.n=16",
    "+pixel.rollout.mode_layout.adaptive=8",
    "+pixel.rollout.mode_layout.force_tool=4",
    "+pixel.rollout.mode_layout.no_tool=4",
]
# one prompt group per training step (PPOTrainer.step samples data.train_batch_size groups), GRPO advantages
SAMPLER = [
    "trainer.v1.sampler.custom_sampler.path=pkg://verl_pixel.reward.adapters.replay_buffer",
    "data.train_batch_size=1",
    "algorithm.adv_estimator=grpo",
]


def rollout(correct: bool, ops: int = 0, mode: RolloutMode = ADAPTIVE, complied: bool = True) -> TrajectoryRecord:
    answer = r"Looked closer. \boxed{B}" if correct else r"\boxed{C}"
    return TrajectoryRecord(mode=mode, complied=complied, ops_attempted=ops, ops_succeeded=ops, answer_text=answer)


# Look Less group, n = 16: adaptive sessions 0-7, force_tool 8-11, no_tool 12-15 (METHOD §2 order).
# acc_tool = 3/4 > acc_no = 1/4, so need(x) = 1.
LOOK_LESS_GROUP = [
    *(rollout(c, ops) for c, ops in [(1, 1), (1, 2), (0, 1), (1, 0), (0, 0), (1, 1), (1, 0), (0, 3)]),
    rollout(1, 1, FORCE),
    rollout(1, 1, FORCE),
    rollout(1, 2, FORCE),
    rollout(0, 0, FORCE, complied=False),
    rollout(1, 0, NO),
    rollout(0, 0, NO),
    rollout(0, 0, NO),
    rollout(0, 0, NO, complied=False),
]
# r_acc + lambda_align * A(need=1, used, correct) + beta * min(1 - n_ops, 0) for adaptive rollouts,
# r_acc + lambda_instr * 1[complied] for probes.
LOOK_LESS_SHAPED = {
    "adaptive": [1.5, 1.45, 0.1, 0.9, -0.1, 1.5, 0.9, 0.0],
    "force_tool": [1.5, 1.5, 1.5, 0.0],
    "no_tool": [1.5, 0.5, 0.5, 0.0],
}


def grpo(scores: list[float]) -> list[float]:
    """verl's GRPO outcome advantage of one group (unbiased std, eps 1e-6), in float32 as verl computes it."""
    values = torch.tensor(scores, dtype=torch.float32)
    return ((values - values.mean()) / (values.std() + 1e-6)).tolist()


@pytest.fixture(scope="module")
def transfer_queue():
    import ray
    import transfer_queue as tq
    from omegaconf import OmegaConf

    temp_dir = tempfile.mkdtemp(prefix="vp_ray_")  # Ray socket paths must stay short
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=temp_dir)
    tq.init(OmegaConf.create({"backend": {"SimpleStorage": {"num_data_storage_units": 1, "total_storage_size": 4096}}}))
    yield tq
    tq.close()
    if started:
        ray.shutdown()
    shutil.rmtree(temp_dir, ignore_errors=True)


class StepHarness:
    """verl's ``PPOTrainer`` step code on an object without models: model-bound stages are stubbed."""

    from verl.trainer.ppo.v1.trainer_base import PPOTrainer

    _build_replay_buffer = PPOTrainer._build_replay_buffer
    _compute_advantage = PPOTrainer._compute_advantage
    _step_once = PPOTrainer._step_once
    step = PPOTrainer.step

    def __init__(self, config) -> None:
        self.config = config
        self.trainer_mode = config.trainer.v1.trainer_mode
        self.parameter_sync_step, self.local_trigger_step, self.global_steps = 1, 0, 1
        self.use_reference_policy = self.use_critic = False
        self.reward_loop_manager = SimpleNamespace(reward_loop_worker_handles=["streaming"])
        self.refills: list[int] = []
        self.replay_buffer = self._build_replay_buffer()

    def _add_prompts_to_generate(self, num_prompts: int) -> int:
        self.refills.append(num_prompts)
        return num_prompts

    def prepare_step(self) -> dict:
        return {}

    def on_sample_begin(self) -> None: ...

    def on_sample_end(self) -> None: ...

    def _balance_batch(self, batch, metrics):
        return batch

    def _compute_old_log_prob(self, batch, metrics):
        return batch

    def _update_actor(self, batch, metrics):
        return batch


def generate(
    config, groups: dict[str, list[TrajectoryRecord]], partition: str = "train", extra_info: list | None = None
) -> None:
    """Run verl's V1 agent-loop worker for one prompt per uid; session i returns ``groups[uid][i]``."""
    import transfer_queue as tq
    from verl.experimental.agent_loop.agent_loop import AgentLoopMetrics, AgentLoopOutput
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker
    from verl.trainer.ppo.v1.agent_loop_tq import AgentLoopWorkerTQ
    from verl.utils import tensordict_utils as tu

    uids = list(groups)
    tq.kv_batch_put(  # what PPOTrainer._submit_batch_to_rollout / _validate register before generation
        keys=uids,
        partition_id=partition,
        tags=[{"is_prompt": True, "status": "pending", "global_steps": 1}] * len(uids),
    )
    batch = tu.get_tensordict(
        {
            "raw_prompt": [[{"role": "user", "content": "Which color is the box?"}] for _ in uids],
            "data_source": ["vstar"] * len(uids),
            "reward_model": [{"ground_truth": MC_TRUTH, "style": "rule"} for _ in uids],
            "extra_info": extra_info or [{"index": i} for i in range(len(uids))],
            "uid": np.array(uids, dtype=object),
            "index": np.arange(len(uids)),
        }
    )
    tu.assign_non_tensor_data(batch, "global_steps", 1)
    if partition == "val":
        tu.assign_non_tensor_data(batch, "validate", True)

    async def scripted_agent_loop(sampling_params, trajectory, *, agent_name, trace, session_id, **kwargs):
        record = groups[kwargs["uid"]][session_id]
        response = list(range(20, 24 + session_id))  # jagged lengths, as real responses are
        output = AgentLoopOutput(
            prompt_ids=[1, 2, 3],
            response_ids=response,
            response_mask=[1] * len(response),
            num_turns=2 + 2 * record.ops_attempted,
            metrics=AgentLoopMetrics(),
            extra_fields={**record.to_extra_fields(), "min_global_steps": 1, "max_global_steps": 1},
        )
        return await worker._agent_loop_postprocess(output, trajectory["validate"], session_id=session_id, **kwargs)

    async def run() -> None:
        reward_worker = RewardLoopWorker(config)
        handle = SimpleNamespace(compute_score=SimpleNamespace(remote=reward_worker.compute_score))
        nonlocal worker
        worker = object.__new__(AgentLoopWorkerTQ.__ray_actor_class__)  # verl's worker, Ray wrapper aside
        worker.config, worker.processor, worker.mm_processor_kwargs = config, None, None
        worker.reward_loop_worker_handles, worker.distillation_enabled = [handle], False
        worker.background_tasks = set()
        worker._run_agent_loop = scripted_agent_loop  # the only scripted part: the agent loop body
        await worker.generate_sequences(batch)
        await asyncio.gather(*list(worker.background_tasks))

    worker = None
    asyncio.run(run())
    statuses = {uid: tag["status"] for uid, tag in tq.kv_list(partition)[partition].items() if uid in groups}
    assert statuses == dict.fromkeys(uids, "finished")


def stored(partition: str, keys: list[str], *fields: str) -> dict:
    import transfer_queue as tq

    data = tq.kv_batch_get(keys=keys, partition_id=partition, select_fields=list(fields))
    return {name: data[name] for name in fields}


def clear(partition: str) -> None:
    import transfer_queue as tq

    listed = tq.kv_list(partition).get(partition, {})
    if listed:
        tq.kv_clear(keys=list(listed), partition_id=partition)


def test_look_less_group_reaches_grpo_shaped_per_mode(transfer_queue, compose_verl_config):
    config = compose_verl_config(
        *SAMPLER,
        "trainer.v1.sampler.custom_sampler.name=PixelReplayBuffer",
        "reward.reward_manager.name=pixel",
        *LOOK_LESS_LAYOUT,
        "+pixel.reward.method=look_less",
    )
    generate(config, {"ll": LOOK_LESS_GROUP})
    keys = [f"ll_{session}_0" for session in range(16)]
    raw = stored("train", keys, "rm_scores")["rm_scores"]
    assert [float(row[-1]) for row in raw.unbind(0)] == [float(r.answer_text.endswith("{B}")) for r in LOOK_LESS_GROUP]

    harness = StepHarness(config)
    assert type(harness.replay_buffer).__name__ == "PixelReplayBuffer"
    metrics: dict = {}
    batch = harness.step(metrics, timing_raw={})

    assert sorted(batch.keys) == sorted(keys)
    data = stored("train", keys, "rm_scores", "uid", "advantages", "extra_fields")
    shaped = [float(row[-1]) for row in data["rm_scores"].unbind(0)]
    expected = [*LOOK_LESS_SHAPED["adaptive"], *LOOK_LESS_SHAPED["force_tool"], *LOOK_LESS_SHAPED["no_tool"]]
    assert shaped == torch.tensor(expected, dtype=torch.float32).tolist()
    modes = ["adaptive"] * 8 + ["force_tool"] * 4 + ["no_tool"] * 4
    assert list(data["uid"]) == [f"ll/{mode}" for mode in modes]
    # GRPO normalized per (prompt, mode): the advantage of every token of a rollout is its group-relative score
    advantages = [float(row[0]) for row in data["advantages"].unbind(0)]
    expected_adv = [a for mode in ("adaptive", "force_tool", "no_tool") for a in grpo(LOOK_LESS_SHAPED[mode])]
    assert advantages == pytest.approx(expected_adv, abs=1e-5)
    assert advantages[8:12] == pytest.approx([0.5, 0.5, 0.5, -1.5], abs=1e-5)  # force_tool: mean 1.125, std 0.75
    info = dict(data["extra_fields"][4])["reward_extra_info"]
    assert (info["pixel/shaped/alignment_bonus"], info["pixel/shaped/total"], info["pixel/group/need"]) == (
        -0.1,
        -0.1,
        1.0,
    )

    # the step's metrics (verl's MetricsAggregator) carry METHOD §6's numbers for the sampled group
    assert metrics["pixel/groups"] == 1.0 and metrics["pixel/rollouts"] == 16.0
    assert metrics["pixel/reward/total"] == pytest.approx(sum(expected) / 16)
    assert metrics["pixel/reward/acc"] == 9 / 16
    assert metrics["pixel/reward/instr_bonus"] == 6 * 0.5 / 16
    # probes that obeyed their mode (the default): force_tool 3 of 3 right, no_tool 1 of 3 (one of each disobeyed)
    assert (metrics["pixel/probe/need_rate"], metrics["pixel/probe/acc_tool"], metrics["pixel/probe/acc_no"]) == (
        1.0,
        1.0,
        1 / 3,
    )
    assert metrics["pixel/rapr"] == 8 / 16 and metrics["pixel/rapr/adaptive"] == 5 / 8
    assert metrics["pixel/rapr/force_tool"] == 3 / 4 and metrics["pixel/rapr/no_tool"] == 0.0
    assert metrics["pixel/compliance/force_tool"] == 0.75 and metrics["pixel/compliance/no_tool"] == 0.75
    assert metrics["pixel/ops/attempted"] == (1 + 2 + 1 + 1 + 3 + 1 + 1 + 2) / 16
    assert metrics["pixel/ops/failed_rate"] == 0.0
    clear("train")


def test_probes_off_get_zero_advantage_and_no_loss_tokens(transfer_queue, compose_verl_config):
    config = compose_verl_config(
        *SAMPLER,
        "trainer.v1.sampler.custom_sampler.name=PixelReplayBuffer",
        "reward.reward_manager.name=pixel",
        *LOOK_LESS_LAYOUT,
        "+pixel.reward.look_less.probe_gradient=off",
    )
    generate(config, {"off": LOOK_LESS_GROUP})
    harness = StepHarness(config)
    harness.step({}, timing_raw={})
    keys = [f"off_{session}_0" for session in range(16)]
    data = stored("train", keys, "advantages", "response_mask", "loss_mask", "uid")
    advantages = [row.tolist() for row in data["advantages"].unbind(0)]
    assert [a[0] for a in advantages[:8]] == pytest.approx(grpo(LOOK_LESS_SHAPED["adaptive"]), abs=1e-5)
    assert all(value == 0.0 for row in advantages[8:] for value in row)
    assert all(int(row.sum()) == 0 for row in data["response_mask"].unbind(0)[8:])
    assert all(int(row.sum()) == 0 for row in data["loss_mask"].unbind(0)[8:])
    assert all(int(row.sum()) == len(row) for row in data["response_mask"].unbind(0)[:8])
    assert list(data["uid"]) == ["off/adaptive"] * 8 + ["off/frozen"] * 8
    clear("train")


def test_curiosity_group_dapo_sees_shaped_rewards_and_resume_does_not_reshape(transfer_queue, compose_verl_config):
    config = compose_verl_config(
        *SAMPLER,
        "trainer.v1.sampler.custom_sampler.name=PixelReplayBuffer",
        "reward.reward_manager.name=pixel",
        "actor_rollout_ref.rollout.n=8",
        "algorithm.filter_groups.enable=True",
        "+trainer.v1.sampler.sampler_kwargs.filter_groups_metric=reward",
        "+trainer.v1.sampler.sampler_kwargs.train_batch_size=${data.train_batch_size}",
        "+trainer.v1.sampler.sampler_kwargs.gen_batch_size=1",
        "+trainer.v1.sampler.sampler_kwargs.max_inflight_gen_batches=1",
        "+pixel.reward.method=curiosity",
    )
    # "cur": all correct (raw rewards all 1.0, which DAPO would evict) but RaPR 2/8 < H, so shaped rewards vary;
    # "flat": all correct without a tool: raw and shaped rewards all 1.0, evicted
    curious = [rollout(1, 1), *[rollout(1, 0)] * 4, rollout(1, 3), rollout(1, 0), rollout(1, 0)]
    generate(config, {"cur": curious, "flat": [rollout(1, 0)] * 8})
    keys = [f"cur_{session}_0" for session in range(8)]
    assert [float(row[-1]) for row in stored("train", keys, "rm_scores")["rm_scores"].unbind(0)] == [1.0] * 8
    bonus = 0.5 * (0.3 - 0.25)
    expected = [1.0 + bonus, 1.0, 1.0, 1.0, 1.0, 1.0 + bonus - 0.1, 1.0, 1.0]

    restored = StepHarness(config).replay_buffer  # a buffer that shaped nothing yet, as after a resume
    harness = StepHarness(config)
    harness.replay_buffer._sync_metadata_from_transfer_queue()  # shape once...
    restored._sync_metadata_from_transfer_queue()  # ...and again from a fresh buffer: the same values
    first = [float(row[-1]) for row in stored("train", keys, "rm_scores")["rm_scores"].unbind(0)]
    assert first == torch.tensor(expected, dtype=torch.float32).tolist()

    metrics: dict = {}
    batch = harness.step(metrics, timing_raw={})
    assert sorted({key.split("_")[0] for key in batch.keys}) == ["cur"]  # "flat" had no variance: evicted by DAPO
    # writing the shaped fields kept the tags verl's later stages read (seq_len, min/max_global_steps)
    assert all(
        tag["seq_len"] == 7 + int(key.split("_")[1]) and tag["min_global_steps"] == 1
        for key, tag in zip(batch.keys, batch.tags, strict=True)
    )
    assert metrics["training/filter_groups/evicted_samples"] == 1.0
    assert "flat" not in (transfer_queue.kv_list("train").get("train") or {})
    data = stored("train", keys, "rm_scores", "advantages", "uid")
    assert [float(row[-1]) for row in data["rm_scores"].unbind(0)] == first
    assert list(data["uid"]) == ["cur"] * 8  # one shared GRPO group
    assert [float(row[0]) for row in data["advantages"].unbind(0)] == pytest.approx(grpo(expected), abs=1e-5)
    assert metrics["pixel/reward/curiosity_bonus"] == pytest.approx(2 * bonus / 8)
    assert metrics["pixel/reward/redundancy_penalty"] == pytest.approx(-0.1 / 8)
    assert metrics["pixel/rapr"] == 0.25 and metrics["pixel/group/rapr"] == 0.25
    clear("train")


def test_near_uniform_groups_are_dropped_by_verls_filter_through_the_pixel_metric(transfer_queue, compose_verl_config):
    # Pixel Reasoner drops groups with mean |r - mean(r)| < 0.01 (experience_maker.py line 2462); verl's filter drops
    # a group whose metric is equal across it, and the buffer writes pixel/group/filter_reward to make it so.
    config = compose_verl_config(
        *SAMPLER,
        "trainer.v1.sampler.custom_sampler.name=PixelReplayBuffer",
        "reward.reward_manager.name=pixel",
        "actor_rollout_ref.rollout.n=8",
        "algorithm.filter_groups.enable=True",
        "algorithm.filter_groups.metric=pixel/group/filter_reward",
        "+trainer.v1.sampler.sampler_kwargs.filter_groups_metric=pixel/group/filter_reward",
        "+trainer.v1.sampler.sampler_kwargs.train_batch_size=${data.train_batch_size}",
        "+trainer.v1.sampler.sampler_kwargs.gen_batch_size=1",
        "+trainer.v1.sampler.sampler_kwargs.max_inflight_gen_batches=1",
        "+pixel.reward.method=none",
        "+pixel.reward.format.weight=0.01",
        "+pixel.reward.uniform_threshold=0.01",
    )
    failed = TrajectoryRecord(ops_attempted=1, ops_failed=1, answer_text=r"\boxed{B}")  # r_fmt -1: total 0.99
    # "near": totals 1 x 7 and 0.99: mean |r - mean| = 0.0021875 < 0.01; "far": half right, half wrong.
    generate(config, {"near": [rollout(1, 0)] * 7 + [failed], "far": [rollout(1, 0)] * 4 + [rollout(0, 0)] * 4})
    harness = StepHarness(config)
    metrics: dict = {}
    batch = harness.step(metrics, timing_raw={})
    assert sorted({key.split("_")[0] for key in batch.keys}) == ["far"]
    assert metrics["training/filter_groups/evicted_samples"] == 1.0
    scores = [float(row[-1]) for row in stored("train", batch.keys, "rm_scores")["rm_scores"].unbind(0)]
    assert sorted(scores) == [0.0] * 4 + [1.0] * 4  # the trained rewards are the shaped totals, untouched
    clear("train")


def test_validation_partition_is_left_raw(transfer_queue, compose_verl_config):
    config = compose_verl_config(
        *SAMPLER,
        "trainer.v1.sampler.custom_sampler.name=PixelReplayBuffer",
        "reward.reward_manager.name=pixel",
        "+pixel.reward.method=curiosity",
    )
    generate(config, {"v1": [rollout(1, 1)], "v2": [rollout(0, 0)]}, partition="val")
    buffer = StepHarness(config).replay_buffer
    _, metrics = buffer.sample(global_steps=1, partition_id="val", batch_size=2)
    assert not any(name.startswith("pixel/") for name in metrics)
    data = stored("val", ["v1_0_0", "v2_0_0"], "rm_scores", "uid", "extra_fields")
    assert [float(row[-1]) for row in data["rm_scores"].unbind(0)] == [1.0, 0.0]  # r_acc, no curiosity bonus
    assert list(data["uid"]) == ["v1", "v2"]
    assert "pixel/shaped/total" not in dict(data["extra_fields"][0])["reward_extra_info"]
    clear("val")


def test_async_buffer_and_misconfiguration_errors(transfer_queue, compose_verl_config):
    base = [*SAMPLER, "reward.reward_manager.name=pixel", "+pixel.reward.method=none"]
    async_config = compose_verl_config(
        *base, "trainer.v1.trainer_mode=colocate_async", "trainer.v1.sampler.custom_sampler.name=PixelReplayBufferAsync"
    )
    assert type(StepHarness(async_config).replay_buffer).__name__ == "PixelReplayBufferAsync"
    wrong_class = compose_verl_config(
        *base, "trainer.v1.trainer_mode=colocate_async", "trainer.v1.sampler.custom_sampler.name=PixelReplayBuffer"
    )
    with pytest.raises(ValueError, match=r"custom_sampler\.name=PixelReplayBufferAsync"):
        StepHarness(wrong_class)
    dapo_lost = compose_verl_config(
        *base, "trainer.v1.sampler.custom_sampler.name=PixelReplayBuffer", "algorithm.filter_groups.enable=True"
    )
    with pytest.raises(ValueError, match=r"sampler_kwargs\.filter_groups_metric"):
        StepHarness(dapo_lost)
    typo = compose_verl_config(
        *base, "trainer.v1.sampler.custom_sampler.name=PixelReplayBuffer", "+trainer.v1.sampler.sampler_kwargs.pixle=1"
    )
    with pytest.raises(ValueError, match=r"sampler_kwargs\.pixle: unknown key"):
        StepHarness(typo)
    colocated_rm = compose_verl_config(
        *base, "trainer.v1.sampler.custom_sampler.name=PixelReplayBuffer", "reward.reward_model.enable=True"
    )
    with pytest.raises(ValueError, match="colocated reward model"):
        StepHarness(colocated_rm)


def test_hdpo_advantages_reach_the_loss_through_pixel_precomputed(transfer_queue, compose_verl_config):
    config = compose_verl_config(
        *SAMPLER,
        "trainer.v1.sampler.custom_sampler.name=PixelReplayBuffer",
        "reward.reward_manager.name=pixel",
        "actor_rollout_ref.rollout.n=4",
        "algorithm.adv_estimator=pixel_precomputed",
        "+pixel.reward.method=hdpo",
    )
    # right with 0, 1 and 3 calls, wrong with 1 (tests/reward/test_hdpo_and_adatooler_shaping.py, by hand)
    generate(config, {"h": [rollout(1, 0), rollout(1, 1), rollout(1, 3), rollout(0, 1)]})
    StepHarness(config).step({}, timing_raw={})
    keys = [f"h_{session}_0" for session in range(4)]
    data = stored("train", keys, "advantages", "response_mask")
    eps, std = 1e-6, (((5 / 12) ** 2 + (1 / 12) ** 2 + (4 / 12) ** 2) / 2) ** 0.5
    acc = [0.25 / (0.5 + eps)] * 3 + [-0.75 / (0.5 + eps)]
    tool = [(5 / 12) / (std + eps), (-1 / 12) / (std + eps), (-4 / 12) / (std + eps), 0.0]
    expected = [a + 0.15 * t for a, t in zip(acc, tool, strict=True)]
    for row, mask, value in zip(data["advantages"].unbind(0), data["response_mask"].unbind(0), expected, strict=True):
        assert row.tolist() == pytest.approx([value * int(m) for m in mask.tolist()], abs=1e-5)
    clear("train")


def test_necessity_memory_takes_each_group_once(transfer_queue, compose_verl_config):
    config = compose_verl_config(
        *SAMPLER,
        "trainer.v1.sampler.custom_sampler.name=PixelReplayBuffer",
        "reward.reward_manager.name=pixel",
        *LOOK_LESS_LAYOUT,
        "+pixel.probing.enable=True",
        "data.dataloader_num_workers=0",
        "+data.custom_cls.path=pkg://verl_pixel.data.rl_dataset",
        "+data.custom_cls.name=PixelRLDataset",
    )
    plan = {"key": "vstar/0/k", "adaptive": 8, "force_tool": 4, "no_tool": 4, "reason": "new"}
    generate(config, {"mem": LOOK_LESS_GROUP}, extra_info=[{"index": 0, "pixel_probe_plan": plan}])
    harness = StepHarness(config)
    metrics: dict = {}
    harness.step(metrics, timing_raw={})
    harness.replay_buffer._sync_metadata_from_transfer_queue()  # polling again shapes (and observes) nothing new
    memory = harness.replay_buffer.probe_link.memory
    # obeying probes: with a tool 3 of 3 right, without 1 of 3 (the disobeying one of each mode is no evidence);
    # adaptive (weight 0.5): with a tool 3 of 5 right, without 2 of 3
    assert memory.state_dict()["entries"]["vstar/0/k"][:4] == [3 + 0.5 * 3, 0 + 0.5 * 2, 1 + 0.5 * 2, 2 + 0.5 * 1]
    keys = [f"mem_{session}_0" for session in range(16)]
    shaped = [float(row[-1]) for row in stored("train", keys, "rm_scores")["rm_scores"].unbind(0)]
    expected = [*LOOK_LESS_SHAPED["adaptive"], *LOOK_LESS_SHAPED["force_tool"], *LOOK_LESS_SHAPED["no_tool"]]
    assert shaped == torch.tensor(expected, dtype=torch.float32).tolist()  # the memory's need is 1 too
    assert metrics["pixel/memory/prompts"] == 1.0 and metrics["pixel/memory/need_rate"] == 1.0
    assert metrics["pixel/probe/plan/new"] == 1.0 and metrics["pixel/probe/rollouts"] == 8.0
    clear("train")
