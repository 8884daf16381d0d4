# shellcheck shell=bash source-path=SCRIPTDIR
# The part the three GRPO recipes share: variables (with defaults) and the `main_ppo` command line.
# Sourced by grpo_adaptive.sh, grpo_curiosity.sh and grpo_deepeyes.sh after they set CONFIG_NAME and their own
# defaults; never run on its own. What a method *is* (group layout, reward shaping, loss settings) lives in
# configs/<recipe>.yaml; what a run *needs* (paths, sizes, hardware) lives here as variables.
#
# Variables (environment; defaults in brackets):
#   MODEL_PATH            required; the SFT model as a Hugging Face folder (sft_qwen25vl7b.sh / sft_qwen3vl8b.sh save
#                         one per epoch under .../global_step_N/huggingface; Pixel Reasoner starts RL from epoch 1)
#   MODEL_FAMILY [auto]   qwen2_5_vl | qwen3_vl; auto reads MODEL_PATH's config.json (model_type). It selects the chat
#                         template, the tools' coordinate convention (Qwen3-VL: relative1000), patch size (14 | 16) and
#                         the pixel budgets below (in 28- or 32-px token units); a named family that MODEL_PATH
#                         contradicts stops the recipe

#   PRESET [verl_pixel]   verl_pixel | pixel_reasoner | deepeyes: whose tools (names, descriptions, argument types as
#                         the system prompt shows them), tool outputs, crop rules, limits and RL numbers the run uses
#                         (verl_pixel/presets.py); it composes with MODEL_FAMILY (geometry). pixel_reasoner: its two
#                         tools byte for byte, its output style, model-view crops, the 5th call ending the trajectory,
#                         lr floor 0.5 lr, weight decay 0, Adam betas (0.9, 0.95), 512 prompts x 8 per rollout batch in
#                         256-sample updates (16), the released-code curiosity variant, groups within 0.01 of uniform
#                         dropped; what verl cannot express is printed. A variable you set wins over the preset's
#   TRAIN_FILES, VAL_FILES  required; RL parquet file(s) (verl-pixel prepare-rl), a path or a Hydra list [a,b]
#   OUTPUT_DIR            [$PWD/outputs/$PROJECT_NAME/$EXPERIMENT_NAME] checkpoints and the run's tool YAML;
#                         must be on storage every node can read when NNODES > 1
#   PROJECT_NAME [verl_pixel], EXPERIMENT_NAME [<qwen25vl7b|qwen3vl8b>_<recipe>]
#   NNODES [1], NGPUS_PER_NODE [8; CPU mode 1]   more than one node: start a Ray cluster first (ray start) and export
#                         RAY_ADDRESS
#   ROLLOUT [vllm; CPU mode hf]  vllm | sglang | hf. sglang needs `pip install "verl-pixel[gpu-sglang]"`; pixel_agent
#                         bans vision placeholders from its sampling (verl does so for vLLM only). hf: verl-pixel's
#                         transformers backend (debugging; the CPU mode's only choice)
#   ROLLOUT_TP [2; CPU mode 1], ROLLOUT_GPU_MEM_UTIL [0.6]
#   LOGGER [file]         verl loggers besides console, comma-separated: file (metrics as JSON lines under
#                         $OUTPUT_DIR/logs, or VERL_FILE_LOGGER_PATH), tensorboard, wandb (needs a key or WANDB_MODE)
#   FILTER_WORKERS [CPUs, at most 32]  processes of verl's overlong-prompt filter (data.filter_overlong_prompts_workers)
#   PLATFORM [gpu]        gpu: refuses VERL_PLATFORM=cpu in the environment; cpu: the recipe's CPU mode for tiny models
#                         (`verl-pixel smoke`): VERL_PLATFORM=cpu, the hf rollout and `verl-pixel cpu-overrides grpo`
#   TRAIN_BATCH_SIZE      prompts per step [the preset's, else per recipe]; x rollout.n trajectories
#   PPO_MINI_BATCH_SIZE   prompts per optimizer step [the preset's, else per recipe]
#   MAX_PROMPT_LENGTH [4096], MAX_RESPONSE_LENGTH [8192]  the response holds every turn, tool images included
#   PPO_MAX_TOKEN_LEN_PER_GPU [24576]  dynamic micro-batching budget; >= prompt + response
#   TOTAL_EPOCHS [3], SAVE_FREQ [20], TEST_FREQ [10]
#   IMAGE_MAX_PIXELS [2000 tokens: 1568000 = 2000*28*28; Qwen3-VL 2048000 = 2000*32*32]  input images as the model
#                         sees them (data.max_pixels and the tools)
#   CROP_MAX_PIXELS [1000 tokens: 784000; Qwen3-VL 1024000], FRAME_MAX_PIXELS [400 tokens: 313600; Qwen3-VL 409600]
#                         tool outputs
#   FILTER_GROUPS         [the preset's, else the recipe yaml's choice] 1: drop groups whose shaped rewards are all
#                         equal (algorithm.filter_groups, refilled with new prompts), 0: keep them
#   CHAT_TEMPLATE [the family's: qwen2_5_vl_tools.jinja | qwen3_vl_tools.jinja]  a template shipped in
#                         verl_pixel/configs/chat_templates
#   PYTHON [python3], DRY_RUN [0]  DRY_RUN=1 writes the tool YAML, prints the command and exits 0
# Any further argument is a Hydra override appended last (it wins), e.g. trainer.total_training_steps=50.

: "${CONFIG_NAME:?the recipe must set CONFIG_NAME before sourcing _grpo.sh}"
: "${RECIPE_DIR:?the recipe must set RECIPE_DIR before sourcing _grpo.sh}"

MODEL_PATH=${MODEL_PATH:?set MODEL_PATH to the SFT model (a Hugging Face folder, e.g. .../global_step_N/huggingface)}
TRAIN_FILES=${TRAIN_FILES:?set TRAIN_FILES to the RL training parquet (verl-pixel prepare-rl)}
VAL_FILES=${VAL_FILES:?set VAL_FILES to the RL validation parquet}
MODEL_FAMILY=${MODEL_FAMILY:-auto}
PRESET=${PRESET:-verl_pixel}

# shellcheck source=_lib.sh
source "$RECIPE_DIR/_lib.sh"
PLATFORM=${PLATFORM:-gpu}
pixel_platform "$PLATFORM" grpo  # refuses VERL_PLATFORM=cpu on GPU; sets PLATFORM_OVERRIDES
pixel_model_family "$MODEL_FAMILY" "$MODEL_PATH"  # sets FAMILY and FAMILY_* (template, patch size, budgets)
pixel_preset "$PRESET" grpo  # sets PRESET_* (tool fields, overrides, defaults, what verl cannot express)
case "$FAMILY" in
    qwen3_vl) MODEL_TAG=qwen3vl8b ;;
    *) MODEL_TAG=qwen25vl7b ;;
esac

PROJECT_NAME=${PROJECT_NAME:-verl_pixel}
EXPERIMENT_NAME=${EXPERIMENT_NAME:-${MODEL_TAG}_$CONFIG_NAME}
OUTPUT_DIR=${OUTPUT_DIR:-$PWD/outputs/$PROJECT_NAME/$EXPERIMENT_NAME}

NNODES=${NNODES:-1}
if [[ "$PLATFORM" == cpu ]]; then
    NGPUS_PER_NODE=${NGPUS_PER_NODE:-1} ROLLOUT=${ROLLOUT:-hf} ROLLOUT_TP=${ROLLOUT_TP:-1}
fi
NGPUS_PER_NODE=${NGPUS_PER_NODE:-8}
ROLLOUT=${ROLLOUT:-vllm}
ROLLOUT_TP=${ROLLOUT_TP:-2}
ROLLOUT_GPU_MEM_UTIL=${ROLLOUT_GPU_MEM_UTIL:-0.6}
LOGGER=${LOGGER:-file}
FILTER_WORKERS=${FILTER_WORKERS:-$(pixel_filter_workers)}

: "${DEFAULT_TRAIN_BATCH_SIZE:?the recipe must set DEFAULT_TRAIN_BATCH_SIZE}"
: "${DEFAULT_PPO_MINI_BATCH_SIZE:?the recipe must set DEFAULT_PPO_MINI_BATCH_SIZE}"
TRAIN_BATCH_SIZE=${TRAIN_BATCH_SIZE:-${PRESET_DEFAULT_TRAIN_BATCH_SIZE:-$DEFAULT_TRAIN_BATCH_SIZE}}
PPO_MINI_BATCH_SIZE=${PPO_MINI_BATCH_SIZE:-${PRESET_DEFAULT_PPO_MINI_BATCH_SIZE:-$DEFAULT_PPO_MINI_BATCH_SIZE}}
MAX_PROMPT_LENGTH=${MAX_PROMPT_LENGTH:-4096}
MAX_RESPONSE_LENGTH=${MAX_RESPONSE_LENGTH:-8192}
PPO_MAX_TOKEN_LEN_PER_GPU=${PPO_MAX_TOKEN_LEN_PER_GPU:-24576}
TOTAL_EPOCHS=${TOTAL_EPOCHS:-3}
SAVE_FREQ=${SAVE_FREQ:-20}
TEST_FREQ=${TEST_FREQ:-10}

IMAGE_MAX_PIXELS=${IMAGE_MAX_PIXELS:-$FAMILY_IMAGE_MAX_PIXELS}
CROP_MAX_PIXELS=${CROP_MAX_PIXELS:-$FAMILY_CROP_MAX_PIXELS}
FRAME_MAX_PIXELS=${FRAME_MAX_PIXELS:-$FAMILY_FRAME_MAX_PIXELS}
FILTER_GROUPS=${FILTER_GROUPS:-}
CHAT_TEMPLATE=${CHAT_TEMPLATE:-$FAMILY_CHAT_TEMPLATE}

pixel_grpo() {
    case "$PLATFORM/$ROLLOUT" in
        gpu/vllm | gpu/sglang | */hf) ;;
        cpu/*) pixel_die "ROLLOUT=$ROLLOUT needs GPUs: the CPU mode (PLATFORM=cpu) rolls out with hf" ;;
        *) pixel_die "ROLLOUT=$ROLLOUT: use vllm, sglang or hf" ;;
    esac
    local filter=() preset=() override
    case "$FILTER_GROUPS" in
        "") ;;
        1) filter=(group_filter=drop_zero_variance) ;;
        0) filter=(group_filter=keep_all) ;;
        *) pixel_die "FILTER_GROUPS=$FILTER_GROUPS: use 1, 0 or leave it unset" ;;
    esac
    for override in ${PRESET_OVERRIDES[@]+"${PRESET_OVERRIDES[@]}"}; do
        # An explicit FILTER_GROUPS wins over the preset's group filter (hydra takes one group_filter).
        [[ -n "$FILTER_GROUPS" && "$override" == group_filter=* ]] || preset+=("$override")
    done

    local tools_yaml="$OUTPUT_DIR/pixel_tools.yaml" template="$OUTPUT_DIR/chat_template.jinja" template_override
    pixel_write_tools_yaml "$tools_yaml" "$FAMILY" "$IMAGE_MAX_PIXELS" "$CROP_MAX_PIXELS" "$FRAME_MAX_PIXELS" \
        ${PRESET_TOOL_SETTINGS[@]+"${PRESET_TOOL_SETTINGS[@]}"}
    pixel_log "model family $FAMILY, preset $PRESET; tool config with this run's budgets: $tools_yaml"
    pixel_preset_template "$template" "$PRESET" "$CHAT_TEMPLATE"
    export VERL_FILE_LOGGER_ROOT=${VERL_FILE_LOGGER_ROOT:-$OUTPUT_DIR/logs}  # where LOGGER=file writes
    template_override=$(pixel_text_override actor_rollout_ref.model.custom_chat_template "$template")

    local cmd=(
        "$PYTHON" -m verl.trainer.main_ppo
        "--config-path=$RECIPE_DIR/configs"
        "--config-name=$CONFIG_NAME"
        "actor_rollout_ref.model.path=$MODEL_PATH"
        "$template_override"
        "data.train_files=$TRAIN_FILES"
        "data.val_files=$VAL_FILES"
        "data.train_batch_size=$TRAIN_BATCH_SIZE"
        "data.max_prompt_length=$MAX_PROMPT_LENGTH"
        "data.max_response_length=$MAX_RESPONSE_LENGTH"
        "data.max_pixels=$IMAGE_MAX_PIXELS"
        "data.image_patch_size=$FAMILY_PATCH_SIZE"
        "actor_rollout_ref.actor.ppo_mini_batch_size=$PPO_MINI_BATCH_SIZE"
        "actor_rollout_ref.actor.ppo_max_token_len_per_gpu=$PPO_MAX_TOKEN_LEN_PER_GPU"
        "actor_rollout_ref.rollout.name=$ROLLOUT"
        "actor_rollout_ref.rollout.tensor_model_parallel_size=$ROLLOUT_TP"
        "actor_rollout_ref.rollout.gpu_memory_utilization=$ROLLOUT_GPU_MEM_UTIL"
        "actor_rollout_ref.rollout.multi_turn.tool_config_path=$tools_yaml"
        "trainer.nnodes=$NNODES"
        "trainer.n_gpus_per_node=$NGPUS_PER_NODE"
        "trainer.project_name=$PROJECT_NAME"
        "trainer.experiment_name=$EXPERIMENT_NAME"
        "trainer.default_local_dir=$OUTPUT_DIR/checkpoints"
        "trainer.total_epochs=$TOTAL_EPOCHS"
        "trainer.save_freq=$SAVE_FREQ"
        "trainer.test_freq=$TEST_FREQ"
        ${preset[@]+"${preset[@]}"}
        "$(pixel_logger_override "$LOGGER")"
        "data.filter_overlong_prompts_workers=$FILTER_WORKERS"
        ${filter[@]+"${filter[@]}"}
        ${PLATFORM_OVERRIDES[@]+"${PLATFORM_OVERRIDES[@]}"}
        "$@"
    )
    pixel_run "${cmd[@]}"
}
