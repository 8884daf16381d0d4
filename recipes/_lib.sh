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

# Write a copy of the package's tool YAML (verl_pixel/configs/tools/pixel_tools.yaml) with the run's pixel budgets.
# Why a file: verl reads tools only from `multi_turn.tool_config_path`; budgets in the file reach every Ray worker
# that loads the tools, where environment variables of this shell would not.
# Usage: pixel_write_tools_yaml OUT IMAGE_MAX_PIXELS CROP_MAX_PIXELS FRAME_MAX_PIXELS
pixel_write_tools_yaml() {
    "$PYTHON" - "$@" <<'PY'
import sys
from pathlib import Path

import yaml

from verl_pixel.configs import CONFIG_DIR
from verl_pixel.ops import VisualOpsConfig

out, image, crop, frame = sys.argv[1], *map(int, sys.argv[2:5])
source = CONFIG_DIR / "tools" / "pixel_tools.yaml"
data = yaml.safe_load(source.read_text())
budgets = {"image_max_pixels": image, "crop_max_pixels": crop, "frame_max_pixels": frame}
for tool in data["tools"]:
    tool["config"].update(budgets)
    VisualOpsConfig.from_mapping(tool["config"])  # refuse a bad budget here, not inside a Ray worker
header = (
    f"# Written by a verl-pixel recipe from {source}\n"
    "# with this run's pixel budgets (image_max_pixels must equal data.max_pixels). Regenerated on every launch.\n"
)
Path(out).parent.mkdir(parents=True, exist_ok=True)
Path(out).write_text(header + yaml.safe_dump(data, sort_keys=False, width=120, allow_unicode=True))
PY
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
