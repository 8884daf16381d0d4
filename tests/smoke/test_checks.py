"""``verl-pixel smoke``'s pass/fail rules (hand-written metrics) and its command line's errors."""

from __future__ import annotations

import math

import pytest

from verl_pixel.smoke.checks import (
    CPU_GAP_BOUND,
    GPU_MEAN_GAP_BOUND,
    Check,
    Status,
    accounting_check,
    checkpoint_check,
    format_table,
    grpo_checks,
    passed,
    read_metrics,
    sft_checks,
    versions_check,
)
from verl_pixel.smoke.token_accounting import pad_runs

EXPECTED = {"steps": 2, "rollouts": 8}


def _step(score: float = 0.175, shaped: float = 0.175, defined: float = 1.0, rollouts: float = 8.0, gap=5e-10):
    return {
        "critic/score/mean": score,
        "pixel/reward/total": shaped,
        "pixel/probe/present_rate": defined,
        "pixel/rollouts": rollouts,
        "training/rollout_probs_diff_max": gap,
        "training/rollout_probs_diff_mean": gap,
    }


def _status(checks: list[Check]) -> dict[str, Status]:
    return {check.name: check.status for check in checks}


def test_healthy_grpo_run_passes_every_row():
    checks = grpo_checks(0, [_step(), _step(score=0.25, shaped=0.25)], EXPECTED, "cpu")
    assert _status(checks) == {
        "GRPO recipe": Status.PASS,
        "probes present": Status.PASS,
        "shaped rewards reached the trainer": Status.PASS,
        "rollout-vs-actor log-prob gap": Status.PASS,
    }
    assert passed(checks)


@pytest.mark.parametrize(
    ("steps", "returncode", "failing"),
    [
        ([_step(), _step(score=0.0)], 0, "shaped rewards reached the trainer"),  # verl trained on another score
        ([_step(), _step(shaped=0.5)], 0, "shaped rewards reached the trainer"),
        ([_step(), _step(defined=0.5)], 0, "probes present"),  # half the groups lost a probe
        ([_step(), _step(rollouts=4.0)], 0, "probes present"),  # rollout.n smaller than the layout
        ([_step(), _step(gap=10 * CPU_GAP_BOUND)], 0, "rollout-vs-actor log-prob gap"),  # stale rollout weights
        ([_step()], 0, "GRPO recipe"),  # a step missing from the log
        ([_step(), _step()], 1, "GRPO recipe"),
    ],
)
def test_each_broken_grpo_run_fails_its_row(steps, returncode, failing):
    status = _status(grpo_checks(returncode, steps, EXPECTED, "cpu"))
    assert status[failing] is Status.FAIL
    if len(steps) == 2 and returncode == 0:  # and only that row
        assert [name for name, value in status.items() if value is Status.FAIL] == [failing]


def test_gpu_gap_is_bounded_on_the_mean_difference():
    ok = _status(grpo_checks(0, [_step(gap=GPU_MEAN_GAP_BOUND / 2)] * 2, EXPECTED, "gpu"))
    bad = _status(grpo_checks(0, [_step(gap=2 * GPU_MEAN_GAP_BOUND)] * 2, EXPECTED, "gpu"))
    assert ok["rollout-vs-actor log-prob gap"] is Status.PASS and bad["rollout-vs-actor log-prob gap"] is Status.FAIL


def test_sft_rows_need_finite_losses_and_the_export(tmp_path):
    export = tmp_path / "huggingface"
    assert _status(sft_checks(0, [{"train/loss": 7.6}, {"train/loss": 7.5}], 2, export)) == {
        "SFT recipe": Status.PASS,
        "SFT Hugging Face export": Status.FAIL,
    }
    export.mkdir()
    (export / "config.json").write_text("{}")
    assert _status(sft_checks(0, [{"train/loss": 7.6}, {"train/loss": math.nan}], 2, export)) == {
        "SFT recipe": Status.FAIL,
        "SFT Hugging Face export": Status.PASS,
    }


def test_metrics_are_read_as_verls_file_logger_writes_them(tmp_path, monkeypatch):
    from verl.utils.tracking import FileLogger

    path = tmp_path / "metrics.jsonl"
    monkeypatch.setenv("VERL_FILE_LOGGER_PATH", str(path))
    logger = FileLogger("p", "e")
    logger.log({"train/loss": 1.5}, step=1)
    logger.log({"train/loss": 1.25, "pixel/rollouts": 8}, step=2)
    logger.finish()
    assert read_metrics(path) == [{"train/loss": 1.5}, {"train/loss": 1.25, "pixel/rollouts": 8}]
    assert read_metrics(tmp_path / "absent.jsonl") == []


def test_versions_need_verl_0_9_1_and_the_platforms_packages():
    good = {"torch": "2.13.0", "transformers": "5.10", "verl": "0.9.1", "ray": "2.60", "vllm": "0.24.0"}
    assert versions_check(good, ["torch", "verl", "vllm"]).status is Status.PASS
    assert versions_check({**good, "verl": "0.9.0"}, ["torch"]).status is Status.FAIL
    assert versions_check({**good, "vllm": None}, ["vllm"]).status is Status.FAIL


def test_accounting_and_checkpoint_rows(tmp_path):
    assert accounting_check(None, "hf").status is Status.FAIL
    mismatch = {"ok": False, "pad_runs": [391, 116], "image_tokens": [391, 117], "generated": 1}
    assert accounting_check(mismatch, "hf").status is Status.FAIL
    assert "[391, 116] = image grids [391, 117]" in accounting_check(mismatch, "hf").detail
    assert checkpoint_check(tmp_path / "actor").status is Status.FAIL
    (tmp_path / "actor").mkdir()
    assert checkpoint_check(tmp_path / "actor").status is Status.FAIL  # an empty folder is no checkpoint
    (tmp_path / "actor" / "model.pt").write_bytes(b"x")
    assert checkpoint_check(tmp_path / "actor").status is Status.PASS


def test_a_table_passes_only_with_a_pass_and_no_fail():
    info = Check("peak host memory", Status.INFO, "1 GiB")
    assert not passed([info])
    assert passed([info, Check.of("a", True, "")])
    assert not passed([info, Check.of("a", True, ""), Check.of("b", False, "")])
    assert format_table([Check.of("a", True, "x"), info]).splitlines()[2:] == [
        "a                 PASS    x",
        "peak host memory  info    1 GiB",
    ]


def test_pad_runs_counts_each_run_of_the_pad_token():
    assert pad_runs([1, 7, 7, 7, 2, 7, 3, 7, 7], pad_id=7) == [3, 1, 2]
    assert pad_runs([1, 2], pad_id=7) == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--platform", "cpu", "--rollout", "vllm"], "--rollout vllm needs a GPU; on CPU the smoke rolls out with hf"),
        (["--platform", "cpu", "--model", "/nonexistent"], "no model folder at /nonexistent (config.json missing)"),
        (["--platform", "cpu", "--recipes", "/nonexistent"], "no recipes in /nonexistent"),
    ],
)
def test_smoke_command_refuses_bad_options_in_one_line(argv, message, capsys):
    from verl_pixel.cli import main

    assert main(["smoke", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"verl-pixel smoke: {message}") and "\n" not in err
