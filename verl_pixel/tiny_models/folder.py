"""What every tiny-model kit does with its folder: point ``AutoProcessor`` at the kit's processor, cache builds.

The kits (:mod:`.qwen2_5_vl`, :mod:`.qwen3_vl`) build their model, tokenizer and processor; these helpers save the
remote-code hook and reuse a finished build.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

PROCESSOR_MODULE = "processing_verl_pixel_tiny"
COMPLETE_MARKER = ".complete"
CACHE_ENV = "VERL_PIXEL_CACHE"


def write_remote_processor(out: Path, class_name: str, family_label: str) -> None:
    """Point ``AutoProcessor`` at the torchvision-free ``class_name`` through a one-line remote-code module.

    Args:
        out: the saved model folder.
        class_name: a class of :mod:`verl_pixel.tiny_models.processor`.
        family_label: how the module's comment names the family (e.g. ``Qwen2.5-VL``).
    """
    (out / f"{PROCESSOR_MODULE}.py").write_text(
        f"# Re-exports verl-pixel's torchvision-free {family_label} processor (verl_pixel/tiny_models/processor.py).\n"
        f"from verl_pixel.tiny_models.processor import {class_name}  # noqa: F401\n"
    )
    auto_map = {"AutoProcessor": f"{PROCESSOR_MODULE}.{class_name}"}
    for name in ("processor_config.json", "preprocessor_config.json", "tokenizer_config.json"):
        path = out / name
        if path.is_file():
            data = json.loads(path.read_text())
            data["auto_map"] = {**data.get("auto_map", {}), **auto_map}
            path.write_text(json.dumps(data, indent=2))


def cache_root(cache_dir: str | os.PathLike | None) -> Path:
    """``cache_dir``, else ``$VERL_PIXEL_CACHE``, else ``~/.cache/verl_pixel``."""
    return Path(cache_dir or os.environ.get(CACHE_ENV, Path.home() / ".cache" / "verl_pixel"))


def cached_build(folder: Path, build: Callable[[Path], Path]) -> Path:
    """Return ``folder``, building it first unless a previous build finished (its marker file exists).

    A build interrupted half-way leaves no marker, so it is redone.
    """
    marker = folder / COMPLETE_MARKER
    if not marker.exists():
        build(folder)
        marker.touch()
    return folder
