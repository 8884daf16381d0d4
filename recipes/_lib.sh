# shellcheck shell=bash source-path=SCRIPTDIR
# Helpers shared by the verl-pixel recipes. Sourced by them, never run on its own.
#
# Everything that needs the installed package (the chat template, the tool YAML) is found through Python
# (`$PYTHON`, default python3), so the recipes run against whatever verl-pixel and verl that interpreter has.

PYTHON=${PYTHON:-python3}

pixel_log() {
    printf '[verl-pixel] %s\n' "$*" >&2
}

pixel_die() {
    pixel_log "error: $*"
    exit 1
}

# Decide the platform the trainer runs on and set PLATFORM_OVERRIDES. Usage: pixel_platform gpu|cpu grpo|sft
# gpu (the recipes' purpose): refuse VERL_PLATFORM=cpu in the environment. verl reads it in every process (torchrun
# ranks, Ray workers), so a shell left with the quick start's `export VERL_PLATFORM=cpu` would otherwise train a 7B
# model on verl-pixel's CPU platform instead of failing. cpu (the recipes' CPU mode, for tiny models: `verl-pixel
# smoke` on a machine without GPUs): select that platform and add the overrides it needs (`verl-pixel cpu-overrides`,
# verl_pixel/platform/cpu.py), after the recipe's own settings and before the user's.
pixel_platform() {
    local selected=${VERL_PLATFORM:-} overrides
    selected=${selected,,}
    selected=${selected//[[:space:]]/}
    # Used by the recipes (and named for shellcheck, which sees this file alone).
    # shellcheck disable=SC2034
    PLATFORM_OVERRIDES=()
    case "$1" in
        gpu)
            if [[ "$selected" == cpu ]]; then
                pixel_die "VERL_PLATFORM=cpu is set in this shell (the quick start's setting?): verl would run this GPU" \
                    "recipe on verl-pixel's CPU platform. Run 'unset VERL_PLATFORM' (PLATFORM=cpu is the recipe's CPU" \
                    "mode, for tiny models only)"
            fi
            ;;
        cpu)
            overrides=$("$PYTHON" -m verl_pixel.cli cpu-overrides "$2") || pixel_die "cannot read the CPU overrides"
            # shellcheck disable=SC2034
            mapfile -t PLATFORM_OVERRIDES <<<"$overrides"
            export VERL_PLATFORM=cpu
            ;;
        *) pixel_die "PLATFORM=$1: use gpu (default) or cpu" ;;
    esac
}

# Print the trainer.logger override: console plus LOGGER, a comma-separated list of verl loggers (file, tensorboard,
# wandb, mlflow, ...). The recipes default to LOGGER=file: verl's own default, [console, wandb], raises or hangs in
# wandb.init on a cluster without a wandb key or without internet. LOGGER=wandb (or wandb,file) turns wandb on.
pixel_logger_override() {
    local loggers=console name
    local IFS=,
    for name in $1; do
        [[ -z "$name" || "$name" == console ]] || loggers+=",$name"
    done
    printf 'trainer.logger=[%s]' "$loggers"
}

# Print how many processes verl's overlong-prompt filter should use: the CPUs this process may run on, at most 32.
# verl's config defaults to 1, which renders and processes every image row in a single process before step 0.
pixel_filter_workers() {
    local cpus
    cpus=$(nproc 2>/dev/null || echo 1)
    echo $((cpus > 32 ? 32 : cpus))
}

# Resolve the model family and set FAMILY (qwen2_5_vl | qwen3_vl) and its settings FAMILY_CHAT_TEMPLATE,
# FAMILY_PATCH_SIZE, FAMILY_FACTOR, FAMILY_COORDINATES, FAMILY_MIN_PIXELS, FAMILY_IMAGE_MAX_PIXELS,
# FAMILY_CROP_MAX_PIXELS, FAMILY_FRAME_MAX_PIXELS (verl_pixel/model_family.py, the one place they are defined).
# Usage: pixel_model_family FAMILY_OR_AUTO MODEL. `auto` reads MODEL's config.json (a local folder); a named family
# is checked against that folder when there is one. Any mismatch stops the recipe before launch, naming both.
pixel_model_family() {
    local settings
    # Named here for the readers (and shellcheck); the values come from Python below, the users are the recipes.
    # shellcheck disable=SC2034
    FAMILY="" FAMILY_CHAT_TEMPLATE="" FAMILY_PATCH_SIZE=""
    # shellcheck disable=SC2034
    FAMILY_IMAGE_MAX_PIXELS="" FAMILY_CROP_MAX_PIXELS="" FAMILY_FRAME_MAX_PIXELS=""
    settings=$("$PYTHON" -m verl_pixel.cli model-family --family "$1" --model "$2") ||
        pixel_die "set MODEL_FAMILY to qwen2_5_vl or qwen3_vl matching MODEL_PATH=$2 (see above)"
    eval "$settings"
}

# Resolve a peer preset (verl_pixel/presets.py: verl_pixel | pixel_reasoner | deepeyes) for a recipe (grpo | sft) and
# set PRESET_TOOL_SETTINGS (KEY=VALUE operation fields for the tool YAML), PRESET_OVERRIDES (Hydra overrides),
# PRESET_NOT_EXPRESSIBLE (what the peer does that verl cannot) and PRESET_DEFAULT_<VARIABLE> (defaults it gives the
# recipe's variables). Usage: pixel_preset PRESET RECIPE
pixel_preset() {
    local settings
    # Named here for the readers (and shellcheck); the values come from Python below.
    # shellcheck disable=SC2034
    PRESET_TOOL_SETTINGS=() PRESET_OVERRIDES=() PRESET_NOT_EXPRESSIBLE=()
    settings=$("$PYTHON" -m verl_pixel.cli preset shell "$1" --recipe "$2") ||
        pixel_die "PRESET=$1: use verl_pixel, pixel_reasoner or deepeyes"
    eval "$settings"
    local note
    for note in ${PRESET_NOT_EXPRESSIBLE[@]+"${PRESET_NOT_EXPRESSIBLE[@]}"}; do
        pixel_log "preset $1: not expressible on verl: $note"
    done
}

# Write the chat template of preset PRESET for the family's packaged template BASE to OUT (the preset's tool block in
# place of the one rendered from the tool schemas; unchanged for verl_pixel). Usage: pixel_preset_template OUT PRESET BASE
pixel_preset_template() {
    "$PYTHON" -m verl_pixel.cli preset template "$2" --base "$3" --output "$1" >/dev/null
}

# Print the path of a chat template shipped in the installed verl_pixel package.
pixel_chat_template_path() {
    "$PYTHON" -c 'import sys, verl_pixel.configs as c; print(c.chat_template_path(sys.argv[1]))' "$1"
}

# Print `KEY='<text of FILE>'`, quoted for Hydra's override grammar.
# Why the text and not the path: verl 0.9.1's `custom_chat_template` (HFModelConfig, the agent loop) is assigned
# verbatim to `processor.chat_template`; a path there would become the template. In a single-quoted Hydra value a
# quote is written \' and a run of backslashes right before a quote (or the closing quote) is doubled; `${` would
# start an OmegaConf interpolation, so a template containing it is refused instead of silently mangled.
pixel_text_override() {
    "$PYTHON" - "$1" "$2" <<'PY'
import re
import sys

key, path = sys.argv[1], sys.argv[2]
with open(path, encoding="utf-8") as handle:
    text = handle.read()
if "${" in text:
    sys.exit(f"{path}: contains '${{', which OmegaConf would read as an interpolation")
body = re.sub(r"(\\*)'", lambda m: m.group(1) * 2 + "\\'", text)
body = re.sub(r"(\\+)$", lambda m: m.group(1) * 2, body)
sys.stdout.write(f"{key}='{body}'")
PY
}

# Write this run's tool YAML with verl-pixel's one writer (python -m verl_pixel.tools.schema_yaml), so `config` and
# `tool_schema` come from the same validated config: a bad budget fails here, not inside a Ray worker.
# Why a file: verl reads tools only from `multi_turn.tool_config_path`; budgets in the file reach every Ray worker
# that loads the tools, where environment variables of this shell would not.
# The family's preset gives the coordinate convention, patch factor and processor minimum.
# Usage: pixel_write_tools_yaml OUT FAMILY IMAGE_MAX_PIXELS CROP_MAX_PIXELS FRAME_MAX_PIXELS [KEY=VALUE ...]
pixel_write_tools_yaml() {
    local out=$1 family=$2 image=$3 crop=$4 frame=$5
    shift 5
    local settings=(--set "image_max_pixels=$image" --set "crop_max_pixels=$crop" --set "frame_max_pixels=$frame")
    local setting
    for setting in "$@"; do settings+=(--set "$setting"); done
    "$PYTHON" -m verl_pixel.tools.schema_yaml --output "$out" --preset "$family" "${settings[@]}"
}

# Run the command, or with DRY_RUN=1 print it and stop: shell-quoted, a new line before every NAME=VALUE argument
# (the overrides), so the output is a command a shell runs as is. Informational lines go to stderr.
pixel_run() {
    if [[ "${DRY_RUN:-0}" == "1" ]]; then
        local arg first=1
        for arg in "$@"; do
            if ((first)); then
                printf '%q' "$arg"
                first=0
            elif [[ "$arg" == *=* ]]; then
                printf ' \\\n    %q' "$arg"
            else
                printf ' %q' "$arg"
            fi
        done
        printf '\n'
        return 0
    fi
    pixel_log "running: $1 ... (${#} arguments; DRY_RUN=1 prints them all)"
    exec "$@"
}
