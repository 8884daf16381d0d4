"""Build and save a tiny Qwen3-VL (real architecture, random weights) with tokenizer and processor, offline.

The architecture is transformers' ``Qwen3VLForConditionalGeneration`` built from a config: interleaved M-RoPE
(``mrope_interleaved``), DeepStack (a vision layer's features added into the first decoder layers), 16-px patches
merged 2x2, learned position embeddings interpolated to each image's grid. The tokenizer carries Qwen3's special and
added tokens in Qwen3's id order; the image processor is the PIL one with Qwen3-VL's settings (patch 16, mean and
std 0.5, smallest image 65536 px as the released ``preprocessor_config.json``), the video processor the
torchvision-free :class:`~verl_pixel.tiny_models.video_processor.Qwen3VLVideoProcessorPil`; the chat template is
the package's Qwen3-VL template. The folder loads with
``AutoProcessor.from_pretrained(folder, trust_remote_code=True)``,
``AutoModelForImageTextToText.from_pretrained(folder)`` and verl's ``hf_tokenizer``/``hf_processor`` offline.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from pathlib import Path

import torch
from transformers import GenerationConfig, Qwen3VLConfig, Qwen3VLForConditionalGeneration
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

from verl_pixel.configs import read_chat_template
from verl_pixel.constants import ENDOFTEXT, IM_END, QWEN3_ADDED_TOKENS, QWEN3_VL_TOOL_TEMPLATE
from verl_pixel.ops.config import ORIGINAL_MAX_TOKENS, QWEN3_VL_FACTOR, QWEN3_VL_MIN_PIXELS
from verl_pixel.tiny_models.folder import cache_root, cached_build, write_remote_processor
from verl_pixel.tiny_models.processor import Qwen3VLProcessor
from verl_pixel.tiny_models.tokenizer import build_tokenizer
from verl_pixel.tiny_models.video_processor import Qwen3VLVideoProcessorPil

logger = logging.getLogger(__name__)

_BUILD_VERSION = 2  # bump when the recipe changes, so cached folders are rebuilt (2: video processor)
QWEN3_VL_IMAGE_MEAN_STD = (0.5, 0.5, 0.5)  # Qwen3-VL's preprocessor_config.json image_mean / image_std


@dataclasses.dataclass(frozen=True)
class TinyQwen3VLSpec:
    """Sizes of the tiny model. The defaults give about 0.7 M parameters."""

    vocab_size: int = 2048  # >= BPE vocabulary + special/added tokens, rounded up
    bpe_vocab_size: int = 2000
    hidden_size: int = 64
    intermediate_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    head_dim: int = 16
    # Interleaved M-RoPE sections (temporal, height, width) sum to head_dim / 2 = 8.
    mrope_section: tuple[int, int, int] = (2, 3, 3)
    vision_depth: int = 2
    vision_hidden_size: int = 64
    vision_position_embeddings: int = 256  # a square number: a 16 x 16 grid interpolated to each image
    deepstack_visual_indexes: tuple[int, ...] = (0,)
    max_pixels: int = ORIGINAL_MAX_TOKENS * QWEN3_VL_FACTOR**2
    min_pixels: int = QWEN3_VL_MIN_PIXELS
    # The video processor's bounds on a whole clip (Qwen3-VL's rule), wide: frames arrive sized by the video
    # decoder (qwen_vl_utils' rules) and are not resized again.
    video_min_pixels: int = 4096
    video_max_pixels: int = 24576 * QWEN3_VL_FACTOR**2
    seed: int = 0

    def fingerprint(self) -> str:
        """A short hash of the spec and build version, used to name cached folders."""
        payload = json.dumps([dataclasses.asdict(self), _BUILD_VERSION, read_chat_template(QWEN3_VL_TOOL_TEMPLATE)])
        return hashlib.sha256(payload.encode()).hexdigest()[:12]


def _model_config(spec: TinyQwen3VLSpec, ids: dict[str, int]) -> Qwen3VLConfig:
    text = {
        "vocab_size": spec.vocab_size,
        "hidden_size": spec.hidden_size,
        "intermediate_size": spec.intermediate_size,
        "num_hidden_layers": spec.num_hidden_layers,
        "num_attention_heads": spec.num_attention_heads,
        "num_key_value_heads": spec.num_key_value_heads,
        "head_dim": spec.head_dim,
        "max_position_embeddings": 32768,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 5e6,
            "mrope_section": list(spec.mrope_section),
            "mrope_interleaved": True,
        },
        "bos_token_id": ids[ENDOFTEXT],
        "eos_token_id": ids[IM_END],
        "pad_token_id": ids[ENDOFTEXT],
    }
    vision = {
        "depth": spec.vision_depth,
        "hidden_size": spec.vision_hidden_size,
        "intermediate_size": 2 * spec.vision_hidden_size,
        "num_heads": 4,
        "out_hidden_size": spec.hidden_size,
        "patch_size": 16,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "num_position_embeddings": spec.vision_position_embeddings,
        "deepstack_visual_indexes": list(spec.deepstack_visual_indexes),
    }
    return Qwen3VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )


def build_tiny_qwen3vl(out_dir: str | os.PathLike, spec: TinyQwen3VLSpec | None = None) -> Path:
    """Build the tiny Qwen3-VL, tokenizer and processor and save them to ``out_dir``.

    Args:
        out_dir: destination folder (created; existing files are overwritten).
        spec: model sizes; defaults to :class:`TinyQwen3VLSpec`.

    Returns:
        The folder, ready for ``from_pretrained``.
    """
    spec = spec or TinyQwen3VLSpec()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    template = read_chat_template(QWEN3_VL_TOOL_TEMPLATE)
    tokenizer = build_tokenizer(spec.bpe_vocab_size, chat_template=template, added_tokens=QWEN3_ADDED_TOKENS)
    if len(tokenizer) > spec.vocab_size:
        raise ValueError(f"tokenizer has {len(tokenizer)} tokens but spec.vocab_size is {spec.vocab_size}")
    ids = {tok: tokenizer.convert_tokens_to_ids(tok) for tok in tokenizer.all_special_tokens}
    image_processor = Qwen2VLImageProcessorPil(
        patch_size=16,
        merge_size=2,
        temporal_patch_size=2,
        max_pixels=spec.max_pixels,
        min_pixels=spec.min_pixels,
        image_mean=list(QWEN3_VL_IMAGE_MEAN_STD),
        image_std=list(QWEN3_VL_IMAGE_MEAN_STD),
    )
    video_processor = Qwen3VLVideoProcessorPil(min_pixels=spec.video_min_pixels, max_pixels=spec.video_max_pixels)
    processor = Qwen3VLProcessor(image_processor, tokenizer, video_processor, chat_template=template)

    torch.manual_seed(spec.seed)
    model = Qwen3VLForConditionalGeneration(_model_config(spec, ids))
    model.generation_config = GenerationConfig(
        eos_token_id=[ids[IM_END], ids[ENDOFTEXT]], pad_token_id=ids[ENDOFTEXT], bos_token_id=ids[ENDOFTEXT]
    )
    model.save_pretrained(out)
    processor.save_pretrained(out)
    tokenizer.save_pretrained(out)
    write_remote_processor(out, "Qwen3VLProcessor", "Qwen3-VL")
    logger.info("tiny Qwen3-VL (%d params) saved to %s", sum(p.numel() for p in model.parameters()), out)
    return out


def cached_tiny_qwen3vl(cache_dir: str | os.PathLike | None = None, spec: TinyQwen3VLSpec | None = None) -> Path:
    """Return a built tiny Qwen3-VL folder, building it once per spec under ``cache_dir`` (see ``folder.py``)."""
    spec = spec or TinyQwen3VLSpec()
    folder = cache_root(cache_dir) / f"tiny-qwen3vl-{spec.fingerprint()}"
    return cached_build(folder, lambda out: build_tiny_qwen3vl(out, spec))
