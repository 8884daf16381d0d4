"""The ``pixel`` reward manager, resolved by verl's own loader and run by verl's own reward-loop worker."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from verl_pixel.record import RolloutMode, StopReason, TrajectoryRecord

# importing the manager registers "pixel" (the plugin does it in verl)
from verl_pixel.reward.adapters import manager as pixel_manager

MC_TRUTH = {"answer": "B", "answer_type": "multiple_choice", "options": ["red", "blue", "green", "white"]}
PROMPT_LEN, RESPONSE_LEN = 12, 48


def _objects(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _agent_loop_batch(tokenizer, rows: list[dict]):
    """A DataProto laid out like verl's ``AgentLoopWorker._postprocess`` output (the batch reward path).

    Each row: ``segments`` [(text, is_model_token)], ``truth``, optional ``record`` (the agent loop's extra_fields).
    """
    from verl import DataProto

    pad = tokenizer.pad_token_id or 0
    prompts = torch.full((len(rows), PROMPT_LEN), pad)
    responses = torch.full((len(rows), RESPONSE_LEN), pad)
    response_mask = torch.zeros((len(rows), RESPONSE_LEN), dtype=torch.int64)
    attention_mask = torch.zeros((len(rows), PROMPT_LEN + RESPONSE_LEN), dtype=torch.int64)
    prompt_ids = tokenizer.encode("What color is the box?", add_special_tokens=False)[:PROMPT_LEN]
    for i, row in enumerate(rows):
        prompts[i, PROMPT_LEN - len(prompt_ids) :] = torch.tensor(prompt_ids)  # left-padded
        attention_mask[i, PROMPT_LEN - len(prompt_ids) : PROMPT_LEN] = 1
        ids, mask = [], []
        for text, is_model in row["segments"]:
            piece = tokenizer.encode(text, add_special_tokens=False)
            ids += piece
            mask += [int(is_model)] * len(piece)
        assert len(ids) <= RESPONSE_LEN
        responses[i, : len(ids)] = torch.tensor(ids)  # right-padded
        response_mask[i, : len(ids)] = torch.tensor(mask)
        attention_mask[i, PROMPT_LEN : PROMPT_LEN + len(ids)] = 1
    # verl's _postprocess: every extra_fields key becomes a column, None where an agent loop did not write it.
    records = [row.get("record") for row in rows]
    record_keys = sorted({key for record in records if record for key in record.to_extra_fields()})
    extra_columns = {
        key: _objects([record.to_extra_fields()[key] if record else None for record in records]) for key in record_keys
    }
    return DataProto.from_dict(
        tensors={
            "prompts": prompts,
            "responses": responses,
            "response_mask": response_mask,
            "attention_mask": attention_mask,
            "input_ids": torch.cat([prompts, responses], dim=1),
        },
        non_tensors={
            "data_source": _objects(["vstar"] * len(rows)),
            "reward_model": _objects([{"ground_truth": row["truth"], "style": "rule"} for row in rows]),
            "extra_info": _objects([{"index": i, "split": "train"} for i in range(len(rows))]),
            "uid": _objects([f"u{i}" for i in range(len(rows))]),
            "__num_turns__": np.array([row.get("turns", 2) for row in rows], dtype=np.int32),
            **extra_columns,
        },
    )


def _record_info(record: TrajectoryRecord) -> dict:
    return {k: v for k, v in record.to_extra_fields().items() if k != "pixel/answer_text"}


def test_verl_loader_resolves_pixel_from_the_reward_loop_registry(compose_verl_config, tiny_tokenizer):
    from verl.experimental.reward_loop.reward_manager import get_reward_manager_cls
    from verl.trainer.ppo.reward import load_reward_manager

    config = compose_verl_config("reward.reward_manager.name=pixel", "+pixel.reward.method=curiosity")
    assert get_reward_manager_cls("pixel") is pixel_manager.PixelRewardManager

    async def build():  # RewardManagerBase captures the running event loop: build it inside one, as Ray actors do
        return load_reward_manager(config, tiny_tokenizer)

    manager = asyncio.run(build())
    assert isinstance(manager, pixel_manager.PixelRewardManager)
    assert manager.reward_config.method == "curiosity"


def test_reward_loop_worker_scores_agent_loop_batch(compose_verl_config, tiny_tokenizer):
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

    config = compose_verl_config(
        "reward.reward_manager.name=pixel", "+pixel.reward.format.weight=0.5", "reward.num_workers=1"
    )
    zoomed = TrajectoryRecord(mode=RolloutMode.ADAPTIVE, ops_attempted=1, ops_succeeded=1, turns=2, images_added=1)
    rows = [
        # 0: pixel_agent record; the answer comes from pixel/answer_text, the response tokens are not read
        {
            "record": TrajectoryRecord(**{**zoomed.__dict__, "answer_text": r"Zoomed in. \boxed{B}"}),
            "segments": [("ignored", True)],
            "truth": MC_TRUTH,
        },
        # 1: another agent loop, multi-turn: the decoy \boxed{red} sits in a tool output (response_mask 0)
        {
            "segments": [("Let me zoom. ", True), (r"tool says \boxed{red}", False), (r"It is \boxed{blue}", True)],
            "truth": "blue",
            "turns": 4,
        },
        # 2: same decoy, but the model's final turn has no answer: the tool output must not be scored
        {
            "segments": [("Let me zoom. ", True), (r"tool says \boxed{blue}", False), ("Not sure.", True)],
            "truth": "blue",
            "turns": 4,
        },
        # 3: record with a failed operation (format error); numeric ground truth
        {
            "record": TrajectoryRecord(
                ops_attempted=2, ops_succeeded=1, ops_failed=1, turns=3, answer_text=r"There are \boxed{3} cars"
            ),
            "segments": [("x", True)],
            "truth": {"answer": 3, "answer_type": "number"},
        },
        # 4: ground truth as a JSON object string; a force_tool probe that did not comply
        {
            "record": TrajectoryRecord(
                mode=RolloutMode.FORCE_TOOL, complied=False, stop_reason=StopReason.MAX_TURNS, answer_text="Paris"
            ),
            "segments": [("x", True)],
            "truth": '{"answer": "Paris", "answer_type": "short_text"}',
        },
    ]

    async def score():
        worker = RewardLoopWorker(config)
        return await worker.compute_score_batch(_agent_loop_batch(tiny_tokenizer, rows))

    out = asyncio.run(score())
    assert [o["reward_score"] for o in out] == [1.0, 1.0, -0.5, 0.5, 0.5]
    infos = [o["reward_extra_info"] for o in out]
    assert len({tuple(sorted(info)) for info in infos}) == 1  # same keys everywhere (verl's batch path needs it)
    assert infos[0] == {
        "acc": 1.0,
        "pixel/acc": 1.0,
        "pixel/fmt": 0.0,
        "pixel/answer_source": "boxed",
        "pixel/answer_marked": True,
        "pixel/answer": "B",
        "pixel/used_tool": 1.0,
        **_record_info(rows[0]["record"]),
    }
    plain_record = _record_info(TrajectoryRecord())
    assert infos[1] == {
        "acc": 1.0,
        "pixel/acc": 1.0,
        "pixel/fmt": 0.0,
        "pixel/answer_source": "boxed",
        "pixel/answer_marked": True,
        "pixel/answer": "blue",
        "pixel/used_tool": 0.0,
        **plain_record,
    }
    assert (infos[2]["pixel/acc"], infos[2]["pixel/fmt"], infos[2]["pixel/answer"]) == (0.0, -1.0, "Not sure.")
    assert (infos[3]["pixel/acc"], infos[3]["pixel/fmt"], infos[3]["pixel/ops_failed"]) == (1.0, -1.0, 1)
    assert (infos[4]["pixel/acc"], infos[4]["pixel/fmt"], infos[4]["pixel/answer_source"]) == (1.0, -1.0, "last_line")
    assert (infos[2]["pixel/answer_marked"], infos[4]["pixel/answer_marked"]) == (False, False)
    assert (infos[4]["pixel/mode"], infos[4]["pixel/complied"], infos[4]["pixel/stop_reason"]) == (
        "force_tool",
        False,
        "max_turns",
    )


def test_streaming_path_through_agent_loop_worker_compute_score(compose_verl_config, tiny_tokenizer):
    """verl V1's per-trajectory path: the real ``AgentLoopWorker._compute_score`` calls the reward worker."""
    from verl.experimental.agent_loop.agent_loop import AgentLoopMetrics, AgentLoopOutput
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker
    from verl.trainer.ppo.v1.agent_loop_tq import AgentLoopWorkerTQ

    config = compose_verl_config("reward.reward_manager.name=pixel")
    record = TrajectoryRecord(ops_attempted=1, ops_succeeded=1, turns=2, answer_text=r"\boxed{blue}")
    response = tiny_tokenizer.encode("I will zoom. Final: it is green", add_special_tokens=False)
    kwargs = {  # what V1 forwards from the dataset row (plus uid / session_id / global_steps)
        "raw_prompt": [{"role": "user", "content": "What color is the box?"}],
        "data_source": "vstar",
        "reward_model": {"ground_truth": MC_TRUTH, "style": "rule"},
        "extra_info": {"index": 7},
        "uid": "u7",
        "session_id": 3,
        "global_steps": 1,
        "index": 7,
    }

    def output(answer_record):
        fields = {**answer_record.to_extra_fields(), "min_global_steps": 1, "max_global_steps": 1}
        return AgentLoopOutput(
            prompt_ids=[1, 2, 3],
            response_ids=response,
            response_mask=[1] * len(response),
            num_turns=2,
            metrics=AgentLoopMetrics(),
            extra_fields=fields,
        )

    async def run():
        reward_worker = RewardLoopWorker(config)
        worker = object.__new__(AgentLoopWorkerTQ.__ray_actor_class__)  # verl's class, Ray wrapper aside
        worker.processor, worker.mm_processor_kwargs = None, None
        worker.reward_loop_worker_handles = [
            SimpleNamespace(compute_score=SimpleNamespace(remote=reward_worker.compute_score))
        ]
        with_record, without = output(record), output(TrajectoryRecord())
        without.extra_fields.pop("pixel/answer_text")  # another agent loop: no record answer, no response_mask here
        await worker._compute_score([with_record], kwargs=kwargs)
        await worker._compute_score([without], kwargs=kwargs)
        return with_record, without

    with_record, without = asyncio.run(run())
    assert with_record.reward_score == 1.0
    info = with_record.extra_fields["reward_extra_info"]
    assert (info["pixel/acc"], info["pixel/answer"], info["pixel/used_tool"]) == (1.0, "blue", 1.0)
    # single-turn response (num_turns 2) without a mask: decoded whole; "green" is option C, the answer is B
    assert without.reward_score == 0.0
    assert without.extra_fields["reward_extra_info"]["pixel/answer_source"] == "last_line"


def test_row_ground_truth_forms_and_errors():
    row_ground_truth = pixel_manager.row_ground_truth
    with pytest.raises(ValueError, match="no ground_truth"):
        row_ground_truth({"style": "rule"})
    with pytest.raises(ValueError, match="answer_type"):
        row_ground_truth({"ground_truth": {"answer": "B", "answer_type": "riddle"}})
    # a parquet round trip turns lists into numpy arrays
    truth = row_ground_truth({"ground_truth": np.array(["Paris", "paris, france"], dtype=object)})
    assert (truth.answer_type.value, truth.answers) == ("short_text", ("Paris", "paris, france"))
    options = {**MC_TRUTH, "options": np.array(MC_TRUTH["options"], dtype=object)}
    assert row_ground_truth({"ground_truth": options}).correct_option == 1
    assert row_ground_truth({"ground_truth": 3.0}).answers == ("3",)


def test_final_turn_token_ids_uses_the_last_model_run():
    final_turn = pixel_manager.final_turn_token_ids
    responses = torch.tensor([5, 6, 7, 8, 9, 10, 0, 0])
    attention = torch.tensor([1, 1, 1, 1, 1, 1, 1, 1, 0, 0])  # 2 prompt tokens, 6 valid response tokens
    mask = torch.tensor([1, 1, 0, 0, 1, 1, 0, 0])
    assert final_turn(responses, attention, mask, 4) == [9, 10]
    assert final_turn(responses, attention, torch.zeros(8, dtype=torch.int64), 4) == []
    assert final_turn(responses, attention, None, 2) == [5, 6, 7, 8, 9, 10]
    assert final_turn(responses, attention, None, 4) is None


def test_warns_when_shaping_is_configured_without_the_replay_buffer(caplog):
    from verl_pixel.reward.adapters.manager import warn_if_shaping_unwired

    wired = {"trainer": {"v1": {"sampler": {"custom_sampler": {
        "path": "pkg://verl_pixel.reward.adapters.replay_buffer", "name": "PixelReplayBuffer"}}}}}  # fmt: skip
    assert warn_if_shaping_unwired(wired, "look_less") is False
    assert warn_if_shaping_unwired({}, "none") is False
    with caplog.at_level("WARNING"):
        assert warn_if_shaping_unwired({"trainer": {}}, "curiosity") is True
    assert "trainer.v1.sampler.custom_sampler" in caplog.text
