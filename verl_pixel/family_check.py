"""Which family a processor, a chat template or a run's settings belong to, and the start-up check that they agree.

A run mixes parts that each belong to one model family (:mod:`verl_pixel.model_family`): the model folder
(``config.json`` ``model_type``), its processor (class name, patch size), the chat template in use (placed by what it
renders around a one-turn probe: Qwen2.5-VL's default system turn or none), the tools' patch factor and verl's
``data.image_patch_size``. A mismatch is a :class:`~verl_pixel.model_family.FamilyMismatchError` naming both sides,
raised where verl-pixel first sees the parts together: the ``main_ppo`` start-up callback (before Ray;
:func:`check_run_config`) and the construction of ``PixelRLDataset`` / ``PixelSFTDataset``
(:func:`check_loaded_model`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from verl_pixel.constants import IM_START
from verl_pixel.model_family import (
    SPECS,
    UNSUPPORTED_MODEL_TYPES,
    FamilyMismatchError,
    ModelFamily,
    family_of_model_type,
    read_model_type,
)
from verl_pixel.ops.config import VisualOpsConfig
from verl_pixel.prompts import QWEN25_VL_DEFAULT_SYSTEM_PROMPT

# A conversation of one user turn: what a template adds around it tells the families apart.
_PROBE = [{"role": "user", "content": [{"type": "text", "text": "probe"}]}]


def template_family(render: Callable[[list[dict[str, Any]]], str]) -> ModelFamily | None:
    """The family whose conversation frame a chat template renders, from one probe rendering.

    Args:
        render: renders messages to text, e.g. ``lambda m: processor.apply_chat_template(m, tokenize=False)``.

    Returns:
        Qwen2.5-VL when the template opens with Qwen2.5-VL's default system turn, Qwen3-VL when it opens directly
        with the user turn, ``None`` when it is neither (a template this check cannot place).
    """
    text = render(_PROBE)
    if text.startswith(f"{IM_START}system\n{QWEN25_VL_DEFAULT_SYSTEM_PROMPT}"):
        return ModelFamily.QWEN2_5_VL
    if text.startswith(f"{IM_START}user\n"):
        return ModelFamily.QWEN3_VL
    return None


_DEFAULT_SYSTEM_BY_TEMPLATE: dict[str, str] = {}


def template_default_system_prompt(renderer: Any) -> str:
    """The default system prompt of the family whose template ``renderer`` (a processor or tokenizer) uses.

    What the template renders for a conversation without a system message: Qwen2.5-VL's persona, or "" for
    Qwen3-VL. A template this module cannot place gets Qwen2.5-VL's (the project's behaviour before families).
    Cached per template text, so a rollout pays for one rendering per template.
    """
    template = str(getattr(renderer, "chat_template", "") or "")
    if template not in _DEFAULT_SYSTEM_BY_TEMPLATE:
        family = template_family(lambda messages: renderer.apply_chat_template(messages, tokenize=False))
        _DEFAULT_SYSTEM_BY_TEMPLATE[template] = SPECS[family or ModelFamily.QWEN2_5_VL].default_system_prompt
    return _DEFAULT_SYSTEM_BY_TEMPLATE[template]


def check_model_setup(
    family: ModelFamily,
    *,
    processor: Any = None,
    ops_config: VisualOpsConfig | None = None,
    image_patch_size: int | None = None,
    chat_template: str | None = None,
    source: str = "the model",
) -> None:
    """Fail when the processor, the chat template in use, the tools or the data config belong to another family.

    Args:
        family: the model folder's family (:func:`~verl_pixel.model_family.resolve_family`).
        processor: the loaded processor; its class name, ``image_processor.patch_size`` and ``chat_template``
            (rendered once with :func:`template_family`) are checked.
        ops_config: the tools' operation config; its patch ``factor`` must be the family's.
        image_patch_size: verl's ``data.image_patch_size`` (the patch its RL dataset sizes images with).
        chat_template: a template's text (verl's ``custom_chat_template``), checked like the processor's.
        source: how to name the model in messages (its path).

    Raises:
        FamilyMismatchError: naming both sides of the first mismatch found.
    """
    spec = SPECS[family]
    expected = f"{source} is {family.value}"
    if processor is not None:
        name = type(processor).__name__
        if name != spec.processor_class:
            raise FamilyMismatchError(f"{expected} but its processor is {name} (expected {spec.processor_class})")
        patch = getattr(getattr(processor, "image_processor", None), "patch_size", spec.patch_size)
        if patch != spec.patch_size:
            raise FamilyMismatchError(f"{expected} (patch {spec.patch_size}) but its image processor has patch {patch}")
        if getattr(processor, "chat_template", None):
            _check_template(family, lambda messages: processor.apply_chat_template(messages, tokenize=False), expected)
    if chat_template:
        _check_template(family, _text_renderer(chat_template), expected)
    if ops_config is not None and ops_config.factor != spec.factor:
        raise FamilyMismatchError(
            f"{expected} (patch factor {spec.factor}) but the tool config has factor {ops_config.factor}: write it "
            f"with `python -m verl_pixel.tools.schema_yaml --preset {family.value}`"
        )
    if image_patch_size is not None and int(image_patch_size) != spec.patch_size:
        raise FamilyMismatchError(
            f"{expected} (patch {spec.patch_size}) but data.image_patch_size is {image_patch_size}: "
            f"set data.image_patch_size={spec.patch_size}"
        )


def _check_template(family: ModelFamily, render: Callable[[list[dict[str, Any]]], str], expected: str) -> None:
    rendered = template_family(render)
    if rendered is not None and rendered is not family:
        use = SPECS[family].chat_template
        raise FamilyMismatchError(f"{expected} but the chat template in use is a {rendered.value} template (use {use})")


def _text_renderer(template: str) -> Callable[[list[dict[str, Any]]], str]:
    """Render messages with a template's text alone (no tokenizer), as transformers does."""
    from transformers.utils.chat_template_utils import render_jinja_template

    return lambda messages: render_jinja_template(conversations=[messages], chat_template=template)[0][0]


def check_run_config(
    model_path: str | None,
    *,
    ops_config: VisualOpsConfig | None = None,
    image_patch_size: int | None = None,
    chat_template: str | None = None,
) -> ModelFamily | None:
    """The check of :func:`check_model_setup` from a run's config alone, before any processor is loaded.

    Args:
        model_path: ``actor_rollout_ref.model.path``; only a local folder's ``config.json`` is read (a hub id is
            checked later, when the datasets are built).
        ops_config: the tools' operation config (as for :func:`check_model_setup`).
        image_patch_size: verl's ``data.image_patch_size``.
        chat_template: verl's ``actor_rollout_ref.model.custom_chat_template`` (the template text), if set.

    Returns:
        The folder's family, or ``None`` when there is nothing to compare against (no local folder, or a
        ``model_type`` no family claims).

    Raises:
        FamilyMismatchError: naming both sides; ValueError for a model type refused on purpose.
    """
    if not model_path or not (Path(model_path) / "config.json").is_file():
        return None
    model_type = read_model_type(model_path)
    if model_type in UNSUPPORTED_MODEL_TYPES:
        family_of_model_type(model_type, str(model_path))  # raises with the reason
    family = next((spec.family for spec in SPECS.values() if model_type in spec.model_types), None)
    if family is not None:
        check_model_setup(
            family,
            ops_config=ops_config,
            image_patch_size=image_patch_size,
            chat_template=chat_template,
            source=str(model_path),
        )
    return family


def family_of_processor(processor: Any) -> tuple[ModelFamily, str] | None:
    """The family of the model a processor was loaded for, and the model's name, or ``None`` if it cannot tell.

    Reads ``processor.config.model_type`` (verl's ``hf_processor`` attaches the model config) or else the
    ``config.json`` next to the tokenizer. A model type no family claims gives ``None``: the start-up check then
    has nothing to compare against.

    Raises:
        ValueError: for a model type refused on purpose (:data:`UNSUPPORTED_MODEL_TYPES`).
    """
    source = str(getattr(getattr(processor, "tokenizer", None), "name_or_path", "") or "the model")
    model_type = getattr(getattr(processor, "config", None), "model_type", None)
    if model_type is None and (Path(source) / "config.json").is_file():
        model_type = json.loads((Path(source) / "config.json").read_text(encoding="utf-8")).get("model_type")
    if model_type in UNSUPPORTED_MODEL_TYPES:
        family_of_model_type(model_type, source)  # raises with the reason
    for spec in SPECS.values():
        if model_type in spec.model_types:
            return spec.family, source
    return None


def check_loaded_model(
    processor: Any, *, ops_config: VisualOpsConfig | None = None, image_patch_size: int | None = None
) -> ModelFamily | None:
    """Start-up check of a run whose processor verl loaded: see :func:`check_model_setup`.

    Returns:
        The model's family, or ``None`` when its ``model_type`` is not a supported family (nothing is checked).

    Raises:
        FamilyMismatchError: naming both sides of the first mismatch.
    """
    found = family_of_processor(processor)
    if found is None:
        return None
    family, source = found
    check_model_setup(
        family, processor=processor, ops_config=ops_config, image_patch_size=image_patch_size, source=source
    )
    return family
