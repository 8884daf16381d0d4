"""``verl-pixel smoke``: a self-test to run on a new machine before a real job (CI runs it on CPU).

It builds a tiny model of the chosen family (or takes a model folder), synthesizes a few SFT and RL rows, runs the
real recipes at tiny scale (``sft_<family>.sh`` two steps with the Hugging Face export, then ``grpo_adaptive.sh`` two
steps from that export) and prints a pass/fail table: install versions, plugin registered, SFT rows within
``MAX_LENGTH``, image-token accounting (vLLM on GPU, the ``hf`` backend on CPU), probes present, shaped rewards in
the trainer, the rollout-vs-actor probability gap, checkpoints written, peak host and GPU memory.

:mod:`.runner` runs the stages, :mod:`.checks` holds the pass/fail rules, :mod:`.monitor` samples memory,
:mod:`.token_accounting` is the image-token probe (run as its own process).
"""

from verl_pixel.smoke.runner import SmokeOptions, SmokeReport, format_report, resolve_options, run_smoke

__all__ = ["SmokeOptions", "SmokeReport", "format_report", "resolve_options", "run_smoke"]
