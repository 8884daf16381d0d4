#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Operation-aware SFT of Qwen3-VL-8B-Instruct with PixelSFTDataset on verl's SFT trainer (METHOD.md §4): the same
# method as sft_qwen25vl7b.sh (lr 1e-6, 10% warmup, cosine, 5 epochs, FSDP2, flash-attention 2 with remove-padding,
# a Hugging Face export per epoch for the GRPO recipes, which read the family back from its config.json) with the
# Qwen3-VL template (qwen3_vl_tools.jinja: renders what Qwen3-VL's own template renders, byte for byte).
# Config: recipes/configs/sft_qwen3vl8b.yaml. The vision tower is NOT frozen (see configs/sft_common.yaml).
#
# Data: synthesize it for this family, so crop calls use Qwen3-VL's 0..1000 coordinates and budgets count 32-px
# tokens: `verl-pixel synthesize --family qwen3_vl ...` (inputs at 2048000 px by default: 2000 tokens, the GRPO
# recipes' IMAGE_MAX_PIXELS for Qwen3-VL).
#
# Hardware: 1 node x 8 GPUs with 80 GB (H100 / H200 / A100-80G); FSDP2 shards parameters, gradients and optimizer
# state over the GPUs. Needs `pip install "verl-pixel[gpu]"` (flash-attn).
#
# Command:
#   TRAIN_FILES=/data/sft_q3_train.parquet VAL_FILES=/data/sft_q3_val.parquet bash recipes/sft_qwen3vl8b.sh
#
#   DRY_RUN=1 ...        print the full command and exit
#   NNODES=2 NODE_RANK=0|1 MASTER_ADDR=host0 ...   run once per node
#
# Every variable and its default: recipes/_sft.sh (MODEL_PATH [Qwen/Qwen3-VL-8B-Instruct],
# EXPERIMENT_NAME [qwen3vl8b_sft], CHAT_TEMPLATE [qwen3_vl_tools.jinja]).
set -euo pipefail

RECIPE_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
CONFIG_NAME=sft_qwen3vl8b
MODEL_FAMILY=qwen3_vl
DEFAULT_MODEL_PATH=Qwen/Qwen3-VL-8B-Instruct
DEFAULT_EXPERIMENT_NAME=qwen3vl8b_sft

# shellcheck source=_sft.sh
source "$RECIPE_DIR/_sft.sh"
pixel_sft "$@"
