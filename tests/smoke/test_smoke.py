"""``verl-pixel smoke`` on CPU: the real recipes at tiny scale (hf rollout) and every row of its table.

The run is the one CI does: ``sft_qwen25vl7b.sh`` two steps with the Hugging Face export, the token-accounting probe
on that export, ``grpo_adaptive.sh`` two steps from it (2 prompts x 4 rollouts: adaptive 2, force_tool 1, no_tool 1).
The rows are checked against the files the trainers wrote, not against the smoke's own arithmetic.
"""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest

ROW = re.compile(r"^(?P<name>\S.*?)\s{2,}(?P<status>PASS|FAIL|info|skip)\s{2,}(?P<detail>.*)$")
PASS_ROWS = [
    "install versions", "plugin registered", "SFT rows fit MAX_LENGTH", "SFT recipe", "SFT Hugging Face export",
    "image-token accounting", "GRPO recipe", "probes present", "shaped rewards reached the trainer",
    "rollout-vs-actor log-prob gap", "checkpoint written",
]  # fmt: skip


def _table(out: str) -> dict[str, tuple[str, str]]:
    rows = {}
    for line in out.splitlines():
        match = ROW.match(line)
        if match and match["name"] != "check":
            rows[match["name"]] = (match["status"], match["detail"])
    return rows


def _logged(path, key):
    steps = [json.loads(line)["data"] for line in path.read_text().splitlines() if line.strip()]
    return [step[key] for step in steps if key in step]


@pytest.mark.slow
def test_smoke_runs_the_recipes_on_cpu_and_every_check_passes(tmp_path):
    started = time.perf_counter()
    proc = subprocess.run(
        ["verl-pixel", "smoke", "--platform", "cpu", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    seconds = time.perf_counter() - started
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    assert out.startswith("verl-pixel smoke PASSED: cpu, rollout hf, family qwen2_5_vl")
    rows = _table(out)
    assert {name: rows[name][0] for name in PASS_ROWS} == dict.fromkeys(PASS_ROWS, "PASS"), out
    assert rows["peak GPU memory"][0] == "skip"
    assert rows["peak host memory (PSS, all processes)"][0] == "info"
    assert [name for name, (status, _) in rows.items() if status == "FAIL"] == []
    # The rows say what the trainers logged (verl's file logger).
    grpo = tmp_path / "grpo_metrics.jsonl"
    assert _logged(grpo, "pixel/rollouts") == [8.0, 8.0]  # by construction: 2 prompts x layout 2 + 1 + 1
    scores = ", ".join(f"{value:.4g}" for value in _logged(grpo, "critic/score/mean"))
    assert f"critic/score/mean [{scores}]" in rows["shaped rewards reached the trainer"][1]
    losses = ", ".join(f"{value:.4f}" for value in _logged(tmp_path / "sft_metrics.jsonl", "train/loss"))
    assert rows["SFT recipe"][1] == f"exit 0, train/loss {losses}" and len(losses.split(", ")) == 2
    # GRPO started from the SFT export, and saved the actor at its last step.
    export = tmp_path / "sft" / "checkpoints" / "global_step_2" / "huggingface"
    assert (export / "config.json").is_file()
    assert f"'path': '{export}'" in (tmp_path / "grpo.log").read_text()  # verl's printed config: model.path
    assert any((tmp_path / "grpo" / "checkpoints" / "global_step_2" / "actor").iterdir())
    # The input image and the crop: two pad runs, each as long as its image grid needs.
    pads = re.search(r"pad runs \[(\d+), (\d+)\] = image grids \[(\d+), (\d+)\]", rows["image-token accounting"][1])
    assert pads and pads[1] == pads[3] and pads[2] == pads[4], rows["image-token accounting"]
    assert seconds <= 300, f"smoke took {seconds:.0f} s (budget: 5 min on 2 cores)"
