#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# GRPO with DeepEyes' gated tool bonus: the DeepEyes baseline (arXiv 2505.14362).
#
# Method (configs/grpo_deepeyes.yaml): 16 rollouts per prompt, all adaptive (DeepEyes' n); reward
#   0.8 * r_acc + 0.2 * r_fmt + 1.2 * 1[used a visual op and correct],
# with accuracy from verl-pixel's rule-based scorers instead of DeepEyes' LLM judge. No KL, verl's GRPO advantage.
#
# Hardware: 1 node x 8 GPUs with 80 GB (H100 / H200 / A100-80G) for Qwen2.5-VL-7B or Qwen3-VL-8B (MODEL_FAMILY, read
# from MODEL_PATH's config.json); FSDP2 actor, no reference model, vLLM (TP 2) colocated with the actor. Needs
# `pip install "verl-pixel[gpu]"` (vLLM + flash-attn).
#
# Command:
#   MODEL_PATH=/ckpt/sft/global_step_246/huggingface TRAIN_FILES=/data/rl_train.parquet \
#   VAL_FILES=/data/rl_val.parquet bash recipes/grpo_deepeyes.sh [hydra overrides...]
#
#   DRY_RUN=1 ...                 print the full command and exit
#   MODEL_FAMILY=qwen3_vl ...     Qwen3-VL defaults (template, relative1000 boxes, 32-px budgets); auto reads MODEL_PATH
#   ROLLOUT=sglang ...            SGLang instead of vLLM
#   FILTER_GROUPS=1 ...           also drop prompt groups whose shaped rewards are all equal
#   PRESET=deepeyes ...           DeepEyes' zoom tool (no padding, its argument names), system prompt and format rule;
#                                 train on `verl-pixel prepare deepeyes` rows (they carry its user prompt)
#   ... actor_rollout_ref.rollout.n=8 pixel.rollout.mode_layout.adaptive=8   (layout must sum to n)
# Every variable and its default: recipes/_grpo.sh.
set -euo pipefail

RECIPE_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
CONFIG_NAME=grpo_deepeyes
DEFAULT_TRAIN_BATCH_SIZE=64         # x 16 rollouts = 1024 trajectories per step
DEFAULT_PPO_MINI_BATCH_SIZE=16   # 16 x 16 = 256 trajectories per optimizer step

# shellcheck source=_grpo.sh
source "$RECIPE_DIR/_grpo.sh"
pixel_grpo "$@"
