"""The probe plan's channel and the memory's checkpoint, through verl's real dataloader and checkpoint code.

``PixelRLDataset`` rows are fetched by verl's ``PPOTrainer._fetch_one_gen_batch`` (its ``StatefulDataLoader`` with
``collate_fn`` and ``num_workers=0``), saved by ``PPOTrainer._save_checkpoint`` (``data.pt``) and restored by
``PPOTrainer._load_checkpoint`` in a fresh "process" (new dataset, new memory, new link), exactly as a resumed run
would. Model-bound steps (actor checkpoints) are stubbed.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from omegaconf import OmegaConf
from torch.utils.data import SequentialSampler
from torchdata.stateful_dataloader import StatefulDataLoader
from verl.trainer.ppo.v1.trainer_base import PPOTrainer
from verl.utils.dataset.rl_dataset import collate_fn

from verl_pixel.data.rl_dataset import PixelRLDataset
from verl_pixel.quickstart.grpo_cpu import write_rl_sample
from verl_pixel.reward.adapters.probe_link import ProbeLink, active_link, link_probing
from verl_pixel.reward.probing_config import ProbingConfig
from verl_pixel.reward.shaping.necessity_memory import NecessityMemory, prompt_key_of_row
from verl_pixel.rollout.config import PixelRolloutConfig

LAYOUT = PixelRolloutConfig.from_mapping({"mode_layout": {"adaptive": 2, "force_tool": 1, "no_tool": 1}})
PROBING = ProbingConfig(enable=True, adaptive_weight=0.0)


@pytest.fixture(scope="module")
def train_file(tmp_path_factory):
    train, _ = write_rl_sample(tmp_path_factory.mktemp("rl"))
    return train


@pytest.fixture(autouse=True)
def no_link_left_behind():
    yield
    link_probing(None)


def dataset(train_file, tokenizer, processor) -> PixelRLDataset:
    config = OmegaConf.create({"return_raw_chat": True, "filter_overlong_prompts": False})
    return PixelRLDataset(str(train_file), tokenizer, config, processor=processor)


class Trainer(SimpleNamespace):
    """What verl's PPOTrainer dataloader and checkpoint methods touch, with the actor stubbed."""

    _fetch_one_gen_batch = PPOTrainer._fetch_one_gen_batch
    _save_checkpoint = PPOTrainer._save_checkpoint
    _load_checkpoint = PPOTrainer._load_checkpoint


def trainer(data: PixelRLDataset, folder) -> Trainer:
    """A fresh trainer "process": its dataloader over ``data`` and a linked, empty memory."""
    config = OmegaConf.create(
        {
            "trainer": {"default_local_dir": str(folder), "resume_mode": "auto", "default_hdfs_dir": None,
                        "del_local_ckpt_after_load": False},
            "actor_rollout_ref": {"actor": {"checkpoint": {}}},
        }
    )  # fmt: skip
    loader = StatefulDataLoader(data, batch_size=2, num_workers=0, collate_fn=collate_fn,
                                sampler=SequentialSampler(data), drop_last=True)  # fmt: skip
    stub = SimpleNamespace(save_checkpoint=lambda *a, **k: None, load_checkpoint=lambda *a, **k: None)
    run = Trainer(config=config, train_dataset=data, train_dataloader=loader, train_dataloader_it=None,
                  actor_rollout_wg=stub, use_critic=False, trainer_mode="sync", global_steps=0,
                  checkpoint_callback=SimpleNamespace(on_save=lambda **k: None))  # fmt: skip
    link_probing(ProbeLink(NecessityMemory(PROBING), LAYOUT, lambda: run.train_dataset))
    return run


def plans(batch) -> list[tuple[str, int, int, int]]:
    """(reason, adaptive, force_tool, no_tool) of each row, checked against the row's __rollout_n__."""
    out = []
    for extra, n in zip(batch["extra_info"], batch["__rollout_n__"], strict=True):
        plan = extra.data["pixel_probe_plan"] if hasattr(extra, "data") else extra["pixel_probe_plan"]
        assert plan["adaptive"] + plan["force_tool"] + plan["no_tool"] == n
        out.append((plan["reason"], plan["adaptive"], plan["force_tool"], plan["no_tool"]))
    return out


def test_training_rows_carry_the_plan(train_file, tiny_tokenizer, tiny_processor):
    data = dataset(train_file, tiny_tokenizer, tiny_processor)
    memory = NecessityMemory(PROBING)
    link_probing(ProbeLink(memory, LAYOUT, lambda: data))
    first = data[0]
    plan = first["extra_info"]["pixel_probe_plan"]
    assert plan == {"key": prompt_key_of_row(first), "adaptive": 2, "force_tool": 1, "no_tool": 1, "reason": "new"}
    assert first["__rollout_n__"] == 4
    assert prompt_key_of_row(first) != prompt_key_of_row(data[1])
    memory.observe(plan["key"], [1.0] * 4, [0.0] * 4)  # the buffer's evidence: the tool is needed, clearly
    again = data[0]
    assert again["extra_info"]["pixel_probe_plan"]["reason"] == "settled" and again["__rollout_n__"] == 2
    assert data.state_dict() == {"necessity_memory": memory.state_dict()}


def test_other_datasets_get_no_plan(train_file, tiny_tokenizer, tiny_processor):
    validation = dataset(train_file, tiny_tokenizer, tiny_processor)
    link_probing(ProbeLink(NecessityMemory(PROBING), LAYOUT, lambda: object()))  # the training dataset is another
    row = validation[0]
    assert "pixel_probe_plan" not in row["extra_info"] and "__rollout_n__" not in row
    assert validation.state_dict() == {}
    link_probing(None)  # memory off
    assert "__rollout_n__" not in validation[0]


def test_memory_survives_verl_checkpoint_save_and_resume(train_file, tiny_tokenizer, tiny_processor, tmp_path):
    first = trainer(dataset(train_file, tiny_tokenizer, tiny_processor), tmp_path)
    batch = first._fetch_one_gen_batch()
    assert plans(batch) == [("new", 2, 1, 1)] * 2
    keys = [extra["pixel_probe_plan"]["key"] for extra in batch["extra_info"]]
    saved_link = active_link()
    saved_link.memory.observe(keys[0], [1.0] * 4, [0.0] * 4)  # settled: need
    saved_link.memory.observe(keys[1], [1.0, 0.0], [1.0, 0.0])  # uncertain
    first.global_steps = 1
    first._save_checkpoint()
    assert (tmp_path / "global_step_1" / "data.pt").is_file()
    saved = saved_link.memory.state_dict()

    resumed = trainer(dataset(train_file, tiny_tokenizer, tiny_processor), tmp_path)  # a new process
    resumed._load_checkpoint()
    assert resumed.global_steps == 1
    memory = active_link().memory
    assert memory is not saved_link.memory and len(memory) == 0  # restored on the first fetch, not before
    rest_of_epoch = resumed._fetch_one_gen_batch()  # the dataloader resumes after the saved batch: rows 2, 3
    assert {k: memory.state_dict()["entries"][k] for k in keys} == saved["entries"]  # back, unchanged
    assert plans(rest_of_epoch) == [("new", 2, 1, 1)] * 2
    next_epoch = resumed._fetch_one_gen_batch()  # rows 0, 1 again, planned from the restored memory
    assert [e["pixel_probe_plan"]["key"] for e in next_epoch["extra_info"]] == keys
    assert plans(next_epoch) == [("settled", 2, 0, 0), ("uncertain", 2, 1, 1)]

    control = trainer(dataset(train_file, tiny_tokenizer, tiny_processor), tmp_path / "fresh")  # nothing to load
    control._load_checkpoint()
    assert plans(control._fetch_one_gen_batch()) == [("new", 2, 1, 1)] * 2
