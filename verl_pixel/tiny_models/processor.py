"""Image-only Qwen2.5-VL and Qwen3-VL processors that build without torchvision.

In transformers 5.10, ``BaseVideoProcessor`` is a dummy class when torchvision is missing, so the stock
``Qwen2_5_VLProcessor`` / ``Qwen3VLProcessor`` fail their type check and ``AutoProcessor`` refuses to load them.
These subclasses pass ``video_processor=None`` and use the PIL image processor; videos are handled by the project as
lists of frames.

The classes keep the exact stock names because verl binds M-RoPE ``get_rope_index`` by the processor's class
*name* (``verl.utils.tokenizer.hf_processor``). The saved model folder carries a one-line ``processing_*.py`` that
re-exports the class, so ``AutoProcessor.from_pretrained(folder, trust_remote_code=True)`` loads it while pickling
(Ray workers) still resolves to this importable module.
"""

from __future__ import annotations

from typing import Any

from transformers.models.qwen2_5_vl.processing_qwen2_5_vl import Qwen2_5_VLProcessor as _StockQwen2_5_VLProcessor
from transformers.models.qwen3_vl.processing_qwen3_vl import Qwen3VLProcessor as _StockQwen3VLProcessor


class Qwen2_5_VLProcessor(_StockQwen2_5_VLProcessor):
    """Qwen2.5-VL processor without a video processor (images only)."""

    def __init__(self, image_processor: Any = None, tokenizer: Any = None, chat_template: str | None = None, **kwargs):
        kwargs.pop("video_processor", None)
        super().__init__(
            image_processor=image_processor, tokenizer=tokenizer, video_processor=None, chat_template=chat_template
        )


class Qwen3VLProcessor(_StockQwen3VLProcessor):
    """Qwen3-VL processor without a video processor (images only); adds ``mm_token_type_ids`` like the stock one."""

    def __init__(self, image_processor: Any = None, tokenizer: Any = None, chat_template: str | None = None, **kwargs):
        kwargs.pop("video_processor", None)
        super().__init__(
            image_processor=image_processor, tokenizer=tokenizer, video_processor=None, chat_template=chat_template
        )
