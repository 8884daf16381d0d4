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
# Usage: pixel_write_tools_yaml OUT IMAGE_MAX_PIXELS CROP_MAX_PIXELS FRAME_MAX_PIXELS [KEY=VALUE ...]
pixel_write_tools_yaml() {
    local out=$1 image=$2 crop=$3 frame=$4
    shift 4
    local settings=(--set "image_max_pixels=$image" --set "crop_max_pixels=$crop" --set "frame_max_pixels=$frame")
    local setting
    for setting in "$@"; do settings+=(--set "$setting"); done
    "$PYTHON" -m verl_pixel.tools.schema_yaml --output "$out" "${settings[@]}"
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
