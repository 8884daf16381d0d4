"""Build and save a tiny Qwen2.5-VL (real architecture, random weights) with tokenizer and processor, offline.

The saved folder loads with ``AutoProcessor.from_pretrained(folder, trust_remote_code=True)``,
``AutoModelForImageTextToText.from_pretrained(folder)`` and verl's ``hf_tokenizer``/``hf_processor`` with
``HF_HUB_OFFLINE=1``. It is what the tests, the quick start and the benchmarks train and roll out.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from pathlib import Path

import torch
from transformers import GenerationConfig, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

from verl_pixel.configs import read_chat_template
from verl_pixel.constants import ENDOFTEXT, IM_END, QWEN25_VL_TOOL_TEMPLATE
from verl_pixel.tiny_models.folder import cache_root, cached_build, write_remote_processor
from verl_pixel.tiny_models.processor import Qwen2_5_VLProcessor
from verl_pixel.tiny_models.tokenizer import build_tokenizer
from verl_pixel.tiny_models.video_processor import Qwen2VLVideoProcessorPil

logger = logging.getLogger(__name__)

_BUILD_VERSION = 3  # bump when the recipe changes, so cached folders are rebuilt (3: video processor)


@dataclasses.dataclass(frozen=True)
class TinyQwen25VLSpec:
    """Sizes of the tiny model and what its tokenizer learns from. The defaults give about 0.6 M parameters."""

    vocab_size: int = 2048  # >= BPE vocabulary + special/added tokens, rounded up
    bpe_vocab_size: int = 2000
    hidden_size: int = 64
    intermediate_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    # M-RoPE sections (temporal, height, width) must sum to head_dim / 2 = 64 / 4 / 2 = 8.
    mrope_section: tuple[int, int, int] = (2, 3, 3)
    vision_depth: int = 2
    vision_hidden_size: int = 64
    max_pixels: int = 2000 * 28 * 28  # Pixel Reasoner's training budget for input images
    min_pixels: int = 4 * 28 * 28
    # The video processor's own bounds, as wide as Qwen2.5-VL's shipped preprocessor_config (3136 .. 12845056 px):
    # frames arrive sized by the video decoder's budget (qwen_vl_utils' rules) and are not resized again.
    video_max_pixels: int = 16384 * 28 * 28
    seed: int = 0
    # Texts added to the tokenizer's corpus (tool schemas, task prompts) so that a task's prompts stay short, and
    # whether BPE merges across spaces (see verl_pixel.tiny_models.tokenizer.build_tokenizer).
    tokenizer_texts: tuple[str, ...] = ()
    tokenizer_pieces: str = "words"

    def fingerprint(self) -> str:
        """A short hash of the spec and build version, used to name cached folders."""
        payload = json.dumps([dataclasses.asdict(self), _BUILD_VERSION, read_chat_template(QWEN25_VL_TOOL_TEMPLATE)])
        return hashlib.sha256(payload.encode()).hexdigest()[:12]


def _model_config(spec: TinyQwen25VLSpec, ids: dict[str, int]) -> Qwen2_5_VLConfig:
    text = {
        "vocab_size": spec.vocab_size,
        "hidden_size": spec.hidden_size,
        "intermediate_size": spec.intermediate_size,
        "num_hidden_layers": spec.num_hidden_layers,
        "num_attention_heads": spec.num_attention_heads,
        "num_key_value_heads": spec.num_key_value_heads,
        "max_position_embeddings": 32768,
        "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": list(spec.mrope_section)},
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
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "window_size": 112,
        "tokens_per_second": 2,  # Qwen2.5-VL-7B's (M-RoPE temporal step per second of video)
        "fullatt_block_indexes": [spec.vision_depth - 1],
    }
    return Qwen2_5_VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        bos_token_id=ids[ENDOFTEXT],
        eos_token_id=ids[IM_END],
        pad_token_id=ids[ENDOFTEXT],
    )


def build_tiny_qwen25vl(out_dir: str | os.PathLike, spec: TinyQwen25VLSpec | None = None) -> Path:
    """Build the tiny model, tokenizer and processor and save them to ``out_dir``.

    Args:
        out_dir: destination folder (created; existing files are overwritten).
        spec: model sizes; defaults to :class:`TinyQwen25VLSpec`.

    Returns:
        The folder, ready for ``from_pretrained``.
    """
    spec = spec or TinyQwen25VLSpec()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    template = read_chat_template(QWEN25_VL_TOOL_TEMPLATE)
    tokenizer = build_tokenizer(
        spec.bpe_vocab_size, chat_template=template, extra_texts=spec.tokenizer_texts, pieces=spec.tokenizer_pieces
    )
    if len(tokenizer) > spec.vocab_size:
        raise ValueError(f"tokenizer has {len(tokenizer)} tokens but spec.vocab_size is {spec.vocab_size}")
    ids = {tok: tokenizer.convert_tokens_to_ids(tok) for tok in tokenizer.all_special_tokens}
    image_processor = Qwen2VLImageProcessorPil(max_pixels=spec.max_pixels, min_pixels=spec.min_pixels)
    video_processor = Qwen2VLVideoProcessorPil(min_pixels=spec.min_pixels, max_pixels=spec.video_max_pixels)
    processor = Qwen2_5_VLProcessor(image_processor, tokenizer, video_processor, chat_template=template)

    torch.manual_seed(spec.seed)
    model = Qwen2_5_VLForConditionalGeneration(_model_config(spec, ids))
    model.generation_config = GenerationConfig(
        eos_token_id=[ids[IM_END], ids[ENDOFTEXT]], pad_token_id=ids[ENDOFTEXT], bos_token_id=ids[ENDOFTEXT]
    )
    model.save_pretrained(out)
    processor.save_pretrained(out)
    tokenizer.save_pretrained(out)
    write_remote_processor(out, "Qwen2_5_VLProcessor", "Qwen2.5-VL")
    logger.info("tiny Qwen2.5-VL (%d params) saved to %s", sum(p.numel() for p in model.parameters()), out)
    return out


def cached_tiny_qwen25vl(cache_dir: str | os.PathLike | None = None, spec: TinyQwen25VLSpec | None = None) -> Path:
    """Return a built tiny model folder, building it once per spec under ``cache_dir``.

    The default cache is ``$VERL_PIXEL_CACHE`` or ``~/.cache/verl_pixel``. A folder is only used once its
    ``.complete`` marker exists, so a build interrupted half-way is redone.
    """
    spec = spec or TinyQwen25VLSpec()
    folder = cache_root(cache_dir) / f"tiny-qwen25vl-{spec.fingerprint()}"
    return cached_build(folder, lambda out: build_tiny_qwen25vl(out, spec))
