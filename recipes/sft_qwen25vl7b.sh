#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Operation-aware SFT of Qwen2.5-VL-7B-Instruct with PixelSFTDataset on verl's SFT trainer (METHOD.md §4):
# lr 1e-6, 10% warmup, cosine, 5 epochs, FSDP2, flash-attention 2 with verl's remove-padding, a Hugging Face
# export after every epoch (the GRPO recipes start from one). Config: recipes/configs/sft_qwen25vl7b.yaml.
# The vision tower is NOT frozen: verl 0.9.1's SFT trainer has no key for it (see configs/sft_common.yaml).
#
# Hardware: 1 node x 8 GPUs with 80 GB (H100 / H200 / A100-80G); FSDP2 shards parameters, gradients and optimizer
# state over the GPUs. Needs `pip install "verl-pixel[gpu]"` (flash-attn).
#
# Command:
#   TRAIN_FILES=/data/sft_train.parquet VAL_FILES=/data/sft_val.parquet bash recipes/sft_qwen25vl7b.sh [overrides]
#
#   DRY_RUN=1 ...        print the full command and exit
#   NNODES=2 NODE_RANK=0|1 MASTER_ADDR=host0 ...   run once per node
#   PRESET=pixel_reasoner ...   Pixel Reasoner's SFT numbers where verl has a key (batch 16, weight decay 0); prints
#                               the rest
#
# Synthesize the data with `verl-pixel synthesize` (inputs at 1568000 px by default, the GRPO recipes' budget).
# Every variable and its default: recipes/_sft.sh (MODEL_PATH [Qwen/Qwen2.5-VL-7B-Instruct],
# EXPERIMENT_NAME [qwen25vl7b_sft], CHAT_TEMPLATE [qwen2_5_vl_tools.jinja]).
set -euo pipefail

RECIPE_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
CONFIG_NAME=sft_qwen25vl7b
MODEL_FAMILY=qwen2_5_vl
DEFAULT_MODEL_PATH=Qwen/Qwen2.5-VL-7B-Instruct
DEFAULT_EXPERIMENT_NAME=qwen25vl7b_sft

# shellcheck source=_sft.sh
source "$RECIPE_DIR/_sft.sh"
pixel_sft "$@"
