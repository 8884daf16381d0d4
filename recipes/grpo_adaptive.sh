#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# GRPO with verl-pixel's adaptive dual-rollout reward (Look Less, Reason More, arXiv 2510.01681; METHOD.md §3).
#
# Method (configs/grpo_adaptive.yaml): 16 rollouts per prompt by session id: 8 adaptive (the model decides),
# 4 force_tool, 4 no_tool. The probes decide whether pixels were needed (acc_tool > acc_no); probes are rewarded
# for accuracy and compliance, adaptive rollouts for accuracy and for agreeing with that label, each kind in its
# own advantage group. Validation (n=1, session 0) is always adaptive.
#
# Hardware: 1 node x 8 GPUs with 80 GB (H100 / H200 / A100-80G) for Qwen2.5-VL-7B or Qwen3-VL-8B (MODEL_FAMILY, read
# from MODEL_PATH's config.json); FSDP2 actor, no reference model, vLLM (TP 2) colocated with the actor. Needs
# `pip install "verl-pixel[gpu]"` (vLLM + flash-attn).
#
# Command:
#   MODEL_PATH=/ckpt/sft/global_step_246/huggingface TRAIN_FILES=/data/rl_train.parquet \
#   VAL_FILES=/data/rl_val.parquet bash recipes/grpo_adaptive.sh [hydra overrides...]
#
#   DRY_RUN=1 ...                 print the full command and exit
#   MODEL_FAMILY=qwen3_vl ...     Qwen3-VL defaults (template, relative1000 boxes, 32-px budgets); auto reads MODEL_PATH
#   ROLLOUT=sglang ...            SGLang instead of vLLM
#   FILTER_GROUPS=1 ...           also drop prompt groups whose shaped rewards are all equal
#   ... actor_rollout_ref.rollout.n=8 pixel.rollout.mode_layout.adaptive=4 \
#       pixel.rollout.mode_layout.force_tool=2 pixel.rollout.mode_layout.no_tool=2   (layout must sum to n)
# Every variable and its default: recipes/_grpo.sh.
set -euo pipefail

RECIPE_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
CONFIG_NAME=grpo_adaptive
DEFAULT_TRAIN_BATCH_SIZE=64         # x 16 rollouts = 1024 trajectories per step
DEFAULT_PPO_MINI_BATCH_SIZE=16   # 16 x 16 = 256 trajectories per optimizer step

# shellcheck source=_grpo.sh
source "$RECIPE_DIR/_grpo.sh"
pixel_grpo "$@"
