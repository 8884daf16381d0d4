"""The model families verl-pixel supports and what each one fixes: the one switch between them (pure).

A family selects, in one place:

* the chat template shipped for it (``verl_pixel/configs/chat_templates``);
* the operation preset of :mod:`verl_pixel.ops.config`: the coordinate convention ``bbox_2d`` is read in
  (Qwen2.5-VL grounds in pixels of the image it saw, Qwen3-VL in ``relative1000``), the patch factor (patch size
  x spatial merge: 28 = 14 x 2 for Qwen2.5-VL, 32 = 16 x 2 for Qwen3-VL) that crops and resizes round to with the
  processor's own ``smart_resize``, the processor's smallest image, and the pixel budgets in ``factor**2`` units;
* the visual-token rule (an image of ``w x h`` after ``smart_resize`` costs ``(w/factor) * (h/factor)`` tokens);
* the prompt wording its template implies (the default system prompt, which Qwen3-VL's template does not add).

Selection: :func:`resolve_family` reads ``model_type`` from the model folder's ``config.json`` (``auto``), and an
explicit family name overrides it; an unknown family or model type is an error naming the field.
:mod:`verl_pixel.family_check` is the start-up check that the model folder, its processor, the chat template in
use and the tools' operation config all belong to one family.

The recipes read a family's settings as shell assignments (:func:`shell_settings`)::

    verl-pixel model-family --family auto --model /ckpt/sft/huggingface   # FAMILY=qwen3_vl ...
"""

from __future__ import annotations

import dataclasses
import json
import shlex
from collections.abc import Callable, Mapping
from enum import Enum
from pathlib import Path
from typing import Any

from verl_pixel.constants import (
    QWEN3_VL_PATCH_SIZE,
    QWEN3_VL_TOOL_TEMPLATE,
    QWEN25_VL_PATCH_SIZE,
    QWEN25_VL_TOOL_TEMPLATE,
    QWEN_VL_MERGE_SIZE,
)
from verl_pixel.ops.config import VisualOpsConfig
from verl_pixel.prompts import QWEN25_VL_DEFAULT_SYSTEM_PROMPT

AUTO = "auto"  # "read the family from the model folder's config.json"


class ModelFamily(str, Enum):
    """Model families with a chat template, a tiny kit and recipes."""

    QWEN2_5_VL = "qwen2_5_vl"
    QWEN3_VL = "qwen3_vl"


class FamilyMismatchError(ValueError):
    """Two parts of a run (model folder, processor, chat template, tool config) belong to different families."""


@dataclasses.dataclass(frozen=True)
class FamilySpec:
    """What a family fixes.

    Attributes:
        family: the family.
        model_types: ``config.json`` ``model_type`` values of its checkpoints.
        processor_class: the processor's class name (verl binds the M-RoPE ``get_rope_index`` by this name).
        patch_size: vision patch side in pixels (``image_processor.patch_size``).
        merge_size: spatial merge (``image_processor.merge_size``); one visual token covers ``factor x factor`` px.
        chat_template: the template shipped for the family.
        default_system_prompt: what the family's template renders when a conversation has no system message
            ("" when it renders none); the rollout falls back to it when it must add a system instruction.
        ops_preset: the operation config of the family (coordinates, factor, processor minimum, budgets).
    """

    family: ModelFamily
    model_types: tuple[str, ...]
    processor_class: str
    patch_size: int
    merge_size: int
    chat_template: str
    default_system_prompt: str
    ops_preset: Callable[..., VisualOpsConfig]

    @property
    def factor(self) -> int:
        """Side in pixels of the square one visual token covers."""
        return self.patch_size * self.merge_size

    def ops_config(self, **overrides: Any) -> VisualOpsConfig:
        """The family's operation config with ``overrides`` (``VisualOpsConfig`` field names) applied."""
        return self.ops_preset(**overrides)

    def pixels(self, tokens: int) -> int:
        """A pixel budget of ``tokens`` visual tokens (``tokens * factor**2``)."""
        return tokens * self.factor**2

    def visual_tokens(self, view_size: tuple[int, int]) -> int:
        """Visual tokens of an image already at the model's view size (sides multiples of the factor)."""
        width, height = view_size
        return (width // self.factor) * (height // self.factor)


SPECS: dict[ModelFamily, FamilySpec] = {
    ModelFamily.QWEN2_5_VL: FamilySpec(
        family=ModelFamily.QWEN2_5_VL,
        model_types=("qwen2_5_vl",),
        processor_class="Qwen2_5_VLProcessor",
        patch_size=QWEN25_VL_PATCH_SIZE,
        merge_size=QWEN_VL_MERGE_SIZE,
        chat_template=QWEN25_VL_TOOL_TEMPLATE,
        default_system_prompt=QWEN25_VL_DEFAULT_SYSTEM_PROMPT,
        ops_preset=VisualOpsConfig,
    ),
    ModelFamily.QWEN3_VL: FamilySpec(
        family=ModelFamily.QWEN3_VL,
        model_types=("qwen3_vl", "qwen3_vl_moe"),
        processor_class="Qwen3VLProcessor",
        patch_size=QWEN3_VL_PATCH_SIZE,
        merge_size=QWEN_VL_MERGE_SIZE,
        chat_template=QWEN3_VL_TOOL_TEMPLATE,
        default_system_prompt="",  # Qwen3-VL's template adds no system turn of its own
        ops_preset=VisualOpsConfig.for_qwen3_vl,
    ),
}
FAMILY_NAMES: tuple[str, ...] = tuple(family.value for family in ModelFamily)

# Checkpoints verl 0.9.1 trains but verl-pixel deliberately does not speak (README, "Model families"): named here so
# they are refused with the reason instead of running with the wrong tool-call protocol.
UNSUPPORTED_MODEL_TYPES: dict[str, str] = {
    model_type: (
        "Qwen3.5 writes tool calls in the Qwen3-Coder XML format (<function=...><parameter=...>), which verl-pixel's "
        "parser, chat templates and prompts do not speak yet (verl 0.9.1 itself trains it: see the README)"
    )
    for model_type in ("qwen3_5", "qwen3_5_moe")
}


def family_spec(family: str | ModelFamily) -> FamilySpec:
    """The spec of ``family`` (a :class:`ModelFamily` or its name).

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    try:
        return SPECS[ModelFamily(family)]
    except ValueError:
        raise ValueError(f"unknown model family {str(family)!r} (known: {', '.join(FAMILY_NAMES)})") from None


def family_of_model_type(model_type: str, source: str = "config.json") -> ModelFamily:
    """The family whose checkpoints carry ``model_type``.

    Raises:
        ValueError: naming the field and the value when no family claims it (with the reason for a model type
            that is refused on purpose, :data:`UNSUPPORTED_MODEL_TYPES`).
    """
    if model_type in UNSUPPORTED_MODEL_TYPES:
        raise ValueError(f"{source}: model_type {model_type!r} is not supported: {UNSUPPORTED_MODEL_TYPES[model_type]}")
    for spec in SPECS.values():
        if model_type in spec.model_types:
            return spec.family
    known = "; ".join(f"{spec.family.value}: {', '.join(spec.model_types)}" for spec in SPECS.values())
    raise ValueError(
        f"{source}: model_type {model_type!r} is not a supported model family ({known}); "
        "name the family explicitly if the checkpoint is one of them"
    )


def read_model_type(model_dir: str | Path) -> str:
    """The ``model_type`` field of ``model_dir/config.json``.

    Raises:
        FileNotFoundError: when the folder has no ``config.json``.
        ValueError: when the file has no string ``model_type``.
    """
    path = Path(model_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"no config.json in {model_dir}: cannot tell the model family (name it explicitly)")
    model_type = json.loads(path.read_text(encoding="utf-8")).get("model_type")
    if not isinstance(model_type, str) or not model_type:
        raise ValueError(f"{path}: no model_type field, cannot tell the model family (name it explicitly)")
    return model_type


def resolve_family(requested: str | ModelFamily | None = AUTO, model_dir: str | Path | None = None) -> ModelFamily:
    """The family of a run: ``requested``, or the model folder's when ``requested`` is ``auto``/``None``.

    An explicit family wins over the folder when the folder's ``model_type`` is unknown to verl-pixel (a custom
    checkpoint of a supported family); when the folder names a *different* supported family it is an error.

    Raises:
        ValueError: unknown family name, unknown model type under ``auto``, or a family the folder contradicts.
        FileNotFoundError: ``auto`` without a readable ``config.json``.
    """
    if requested in (None, AUTO):
        if model_dir is None:
            raise ValueError("model family 'auto' needs a model folder to read config.json from")
        return family_of_model_type(read_model_type(model_dir), f"{Path(model_dir) / 'config.json'}")
    family = family_spec(requested).family
    if model_dir is not None and (Path(model_dir) / "config.json").is_file():
        model_type = read_model_type(model_dir)
        if model_type in UNSUPPORTED_MODEL_TYPES:
            family_of_model_type(model_type, f"{Path(model_dir) / 'config.json'}")  # raises with the reason
        folder = next((spec.family for spec in SPECS.values() if model_type in spec.model_types), None)
        if folder is not None and folder is not family:
            raise FamilyMismatchError(
                f"model family {family.value} was requested but {model_dir} is {folder.value} "
                f"(config.json model_type {model_type!r})"
            )
    return family


def family_of_patch_size(patch_size: int) -> ModelFamily:
    """The family whose vision patch is ``patch_size`` px (what verl hands a dataset as ``image_patch_size``).

    Raises:
        ValueError: when no family has that patch size.
    """
    for spec in SPECS.values():
        if spec.patch_size == int(patch_size):
            return spec.family
    known = ", ".join(f"{spec.patch_size}: {spec.family.value}" for spec in SPECS.values())
    raise ValueError(f"image patch size {patch_size} is no supported model family's ({known})")


def family_settings(family: ModelFamily) -> Mapping[str, Any]:
    """The family's settings as plain values (for shell recipes and reports)."""
    spec = SPECS[family]
    ops = spec.ops_config()
    return {
        "family": family.value,
        "chat_template": spec.chat_template,
        "patch_size": spec.patch_size,
        "factor": spec.factor,
        "coordinates": ops.coordinates.value,
        "min_pixels": ops.min_pixels,
        "image_max_pixels": ops.image_max_pixels,
        "crop_max_pixels": ops.crop_max_pixels,
        "frame_max_pixels": ops.frame_max_pixels,
    }


def shell_settings(requested: str | None, model: str | None) -> str:
    """A family's settings as shell lines ``FAMILY=<name>`` then ``FAMILY_<KEY>=<value>`` (what recipes ``eval``).

    Args:
        requested: ``auto`` (read ``model``'s ``config.json``) or a family name.
        model: the model, a local folder (checked against an explicit family) or a hub id (then name the family).

    Raises:
        ValueError: ``auto`` for a model that is no local folder, an unknown family, or a folder of another family.
    """
    folder = model if model and Path(model).is_dir() else None
    if requested in (None, AUTO) and folder is None:
        raise ValueError(f"cannot read the model family of {model!r}: not a local folder, so name the family")
    family = resolve_family(requested, folder)
    settings = family_settings(family)
    lines = [f"FAMILY={shlex.quote(family.value)}"]
    lines += [f"FAMILY_{key.upper()}={shlex.quote(str(value))}" for key, value in settings.items() if key != "family"]
    return "\n".join(lines)
