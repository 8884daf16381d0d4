"""An image-only Qwen2.5-VL processor that builds without torchvision.

In transformers 5.10, ``BaseVideoProcessor`` is a dummy class when torchvision is missing, so the stock
``Qwen2_5_VLProcessor`` fails its type check and ``AutoProcessor`` refuses to load it. This subclass passes
``video_processor=None`` and uses the PIL image processor; videos are handled by the project as lists of frames.

The class keeps the exact name ``Qwen2_5_VLProcessor`` because verl binds M-RoPE ``get_rope_index`` by the
processor's class *name* (``verl.utils.tokenizer.hf_processor``). The saved model folder carries a one-line
``processing_*.py`` that re-exports this class, so ``AutoProcessor.from_pretrained(folder, trust_remote_code=True)``
loads it while pickling (Ray workers) still resolves to this importable module.
"""

from __future__ import annotations

from typing import Any

from transformers.models.qwen2_5_vl.processing_qwen2_5_vl import Qwen2_5_VLProcessor as _StockQwen2_5_VLProcessor


class Qwen2_5_VLProcessor(_StockQwen2_5_VLProcessor):
    """Qwen2.5-VL processor without a video processor (images only)."""

    def __init__(self, image_processor: Any = None, tokenizer: Any = None, chat_template: str | None = None, **kwargs):
        kwargs.pop("video_processor", None)
        super().__init__(
            image_processor=image_processor, tokenizer=tokenizer, video_processor=None, chat_template=chat_template
        )
