# shellcheck shell=bash source-path=SCRIPTDIR
# The part the SFT recipes share (sft_qwen25vl7b.sh, sft_qwen3vl8b.sh): variables (with defaults) and the torchrun
# command of verl's SFT trainer. Sourced after the recipe sets RECIPE_DIR, CONFIG_NAME, MODEL_FAMILY (the recipe's
# own family, fixed), DEFAULT_MODEL_PATH and DEFAULT_EXPERIMENT_NAME; never run on its own. What the method *is*
# (lr, schedule, epochs, checkpoints) lives in configs/sft_common.yaml; what a run *needs* lives here.
#
# Variables (environment; defaults in brackets):
#   TRAIN_FILES           required; SFT parquet file(s), a path or a Hydra list [a,b]. Synthesize them with
#                         `verl-pixel synthesize --family <the recipe's family>`, which stores input images at the GRPO
#                         recipes' IMAGE_MAX_PIXELS (verl gives the SFT processor no pixel budget of its own)
#   VAL_FILES             [none] validation parquet; without it, no validation (trainer.test_freq=-1)
#   MODEL_PATH            [per recipe] Hugging Face id or folder (a folder is checked against the recipe's family)
#   OUTPUT_DIR            [$PWD/outputs/$PROJECT_NAME/$EXPERIMENT_NAME] checkpoints (global_step_N/huggingface)
#   PROJECT_NAME [verl_pixel], EXPERIMENT_NAME [per recipe]
#   NNODES [1], NGPUS_PER_NODE [8], NODE_RANK [0], MASTER_ADDR [127.0.0.1], MASTER_PORT [29500]
#   PRESET [verl_pixel]   verl_pixel | pixel_reasoner | deepeyes (verl_pixel/presets.py): pixel_reasoner trains with
#                         its instruction_tuning/sft.sh numbers where verl has a key (16 conversations per step:
#                         8 GPUs x 1 x gradient accumulation 2; weight decay 0, the HF Trainer default) and its chat
#                         template; what verl cannot express (per-sample loss mean, frozen vision tower) is printed.
#                         Import its data with `verl-pixel prepare pixel-reasoner` (the budget each row carries is
#                         the RL recipes' unless --image-max-pixels / --frame-max-pixels say otherwise, e.g. Pixel
#                         Reasoner's own 4014080 / 151200). A variable you set wins over the preset's
#   TRAIN_BATCH_SIZE [the preset's, else 128]  conversations per optimizer step (Pixel Reasoner's paper: 128)
#   MICRO_BATCH_SIZE_PER_GPU [1]  (with dynamic batching, the token budget below decides)
#   MAX_LENGTH [16384]    longest conversation in tokens, images included: PixelSFTDataset counts every row at load
#                         and stops, naming each longer row with its count, before training; offline:
#                         `verl-pixel data check FILE --max-length 16384 --model MODEL_PATH`
#   MAX_TOKEN_LEN_PER_GPU [16384]  dynamic micro-batching budget; >= MAX_LENGTH
#   SP_SIZE [1]           Ulysses sequence parallel size
#   LOGGER [file]         verl loggers besides console, comma-separated: file (metrics as JSON lines under
#                         $OUTPUT_DIR/logs, or VERL_FILE_LOGGER_PATH), tensorboard, wandb (needs a key or WANDB_MODE)
#   PLATFORM [gpu]        gpu: refuses VERL_PLATFORM=cpu in the environment; cpu: the recipe's CPU mode for tiny models
#                         (`verl-pixel smoke`): VERL_PLATFORM=cpu and `verl-pixel cpu-overrides sft`
#   CHAT_TEMPLATE [the family's: qwen2_5_vl_tools.jinja | qwen3_vl_tools.jinja]  a template shipped in
#                         verl_pixel/configs/chat_templates
#   PYTHON [python3], DRY_RUN [0]
# Any further argument is a Hydra override appended last (it wins), e.g. trainer.total_epochs=1.

: "${CONFIG_NAME:?the recipe must set CONFIG_NAME before sourcing _sft.sh}"
: "${RECIPE_DIR:?the recipe must set RECIPE_DIR before sourcing _sft.sh}"
: "${MODEL_FAMILY:?the recipe must set MODEL_FAMILY before sourcing _sft.sh}"

# shellcheck source=_lib.sh
source "$RECIPE_DIR/_lib.sh"
PLATFORM=${PLATFORM:-gpu}
pixel_platform "$PLATFORM" sft  # refuses VERL_PLATFORM=cpu on GPU; sets PLATFORM_OVERRIDES

PRESET=${PRESET:-verl_pixel}
pixel_preset "$PRESET" sft  # sets PRESET_* (overrides, defaults, what verl cannot express)

TRAIN_FILES=${TRAIN_FILES:?set TRAIN_FILES to the SFT training parquet (verl-pixel synthesize)}
VAL_FILES=${VAL_FILES:-}
MODEL_PATH=${MODEL_PATH:-$DEFAULT_MODEL_PATH}
PROJECT_NAME=${PROJECT_NAME:-verl_pixel}
EXPERIMENT_NAME=${EXPERIMENT_NAME:-$DEFAULT_EXPERIMENT_NAME}
OUTPUT_DIR=${OUTPUT_DIR:-$PWD/outputs/$PROJECT_NAME/$EXPERIMENT_NAME}
NNODES=${NNODES:-1}
[[ "$PLATFORM" != cpu ]] || NGPUS_PER_NODE=${NGPUS_PER_NODE:-1}
NGPUS_PER_NODE=${NGPUS_PER_NODE:-8}
NODE_RANK=${NODE_RANK:-0}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
MASTER_PORT=${MASTER_PORT:-29500}
TRAIN_BATCH_SIZE=${TRAIN_BATCH_SIZE:-${PRESET_DEFAULT_TRAIN_BATCH_SIZE:-128}}
MICRO_BATCH_SIZE_PER_GPU=${MICRO_BATCH_SIZE_PER_GPU:-1}
MAX_LENGTH=${MAX_LENGTH:-16384}
MAX_TOKEN_LEN_PER_GPU=${MAX_TOKEN_LEN_PER_GPU:-16384}
SP_SIZE=${SP_SIZE:-1}
LOGGER=${LOGGER:-file}

pixel_model_family "$MODEL_FAMILY" "$MODEL_PATH"  # sets FAMILY_* (and stops on a MODEL_PATH of another family)
CHAT_TEMPLATE=${CHAT_TEMPLATE:-$FAMILY_CHAT_TEMPLATE}

pixel_sft() {
    local launch validation template template_override
    if ((NNODES > 1)); then
        launch=(--nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" --master_port="$MASTER_PORT")
    else
        launch=(--standalone --nnodes=1)
    fi
    validation=("data.val_files=$VAL_FILES")
    if [[ -z "$VAL_FILES" ]]; then
        # verl 0.9.1's SFT loop iterates the validation loader on every test_freq step even when there is none.
        validation=(data.val_files=null trainer.test_freq=-1)
    fi
    template="$OUTPUT_DIR/chat_template.jinja"
    pixel_preset_template "$template" "$PRESET" "$CHAT_TEMPLATE"
    template_override=$(pixel_text_override model.custom_chat_template "$template")
    export VERL_FILE_LOGGER_ROOT=${VERL_FILE_LOGGER_ROOT:-$OUTPUT_DIR/logs}  # where LOGGER=file writes

    local cmd=(
        "$PYTHON" -m torch.distributed.run "${launch[@]}" --nproc_per_node="$NGPUS_PER_NODE"
        -m verl.trainer.sft_trainer
        "--config-path=$RECIPE_DIR/configs"
        "--config-name=$CONFIG_NAME"
        "model.path=$MODEL_PATH"
        "$template_override"
        "data.train_files=$TRAIN_FILES"
        "${validation[@]}"
        "data.train_batch_size=$TRAIN_BATCH_SIZE"
        "data.micro_batch_size_per_gpu=$MICRO_BATCH_SIZE_PER_GPU"
        "data.max_length=$MAX_LENGTH"
        "data.max_token_len_per_gpu=$MAX_TOKEN_LEN_PER_GPU"
        "engine.ulysses_sequence_parallel_size=$SP_SIZE"
        "trainer.nnodes=$NNODES"
        "trainer.n_gpus_per_node=$NGPUS_PER_NODE"
        "trainer.project_name=$PROJECT_NAME"
        "trainer.experiment_name=$EXPERIMENT_NAME"
        "trainer.default_local_dir=$OUTPUT_DIR/checkpoints"
        ${PRESET_OVERRIDES[@]+"${PRESET_OVERRIDES[@]}"}
        "$(pixel_logger_override "$LOGGER")"
        ${PLATFORM_OVERRIDES[@]+"${PLATFORM_OVERRIDES[@]}"}
        "$@"
    )
    pixel_run "${cmd[@]}"
}
