#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# GRPO with Pixel Reasoner's curiosity bonus: the Pixel Reasoner baseline (arXiv 2505.15966, App. C.3).
#
# Method (configs/grpo_curiosity.yaml): 8 rollouts per prompt, all adaptive; reward
#   r_acc + 0.5 * max(0.3 - RaPR(x), 0) * 1[used a visual op] - 0.05 * (ops beyond the first),
# shaped per prompt group by verl-pixel's replay buffer; advantage r - mean(group) without std division,
# clip 0.2 / 0.35, no KL, groups whose shaped rewards are all equal dropped and refilled (FILTER_GROUPS=1).
#
# Hardware: 1 node x 8 GPUs with 80 GB (H100 / H200 / A100-80G) for Qwen2.5-VL-7B or Qwen3-VL-8B (MODEL_FAMILY, read
# from MODEL_PATH's config.json); FSDP2 actor, no reference model, vLLM (TP 2) colocated with the actor. Needs
# `pip install "verl-pixel[gpu]"` (vLLM + flash-attn).
#
# Command:
#   MODEL_PATH=/ckpt/sft/global_step_246/huggingface TRAIN_FILES=/data/rl_train.parquet \
#   VAL_FILES=/data/rl_val.parquet bash recipes/grpo_curiosity.sh [hydra overrides...]
#
#   DRY_RUN=1 ...                 print the full command and exit
#   MODEL_FAMILY=qwen3_vl ...     Qwen3-VL defaults (template, relative1000 boxes, 32-px budgets); auto reads MODEL_PATH
#   ROLLOUT=sglang ...            SGLang instead of vLLM
#   ... actor_rollout_ref.rollout.n=16 pixel.rollout.mode_layout.adaptive=16   (layout must sum to n)
#   ... pixel.reward.curiosity.variant=released_code   the released code's 0.25/RaPR scaling
#   PRESET=pixel_reasoner ...     continue a released Pixel Reasoner checkpoint (TIGER-Lab/PixelReasoner-WarmStart
#                                 or -RL-v1) with the tools, outputs, limits and RL numbers it was trained with
#                                 (prints what verl cannot express)
# Every variable and its default: recipes/_grpo.sh.
set -euo pipefail

RECIPE_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
CONFIG_NAME=grpo_curiosity
DEFAULT_TRAIN_BATCH_SIZE=128        # x 8 rollouts = 1024 trajectories per step
DEFAULT_PPO_MINI_BATCH_SIZE=32   # 32 x 8 = 256 trajectories per optimizer step (Pixel Reasoner's 256)

# shellcheck source=_grpo.sh
source "$RECIPE_DIR/_grpo.sh"
pixel_grpo "$@"
