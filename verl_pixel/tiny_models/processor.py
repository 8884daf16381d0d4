"""Qwen2.5-VL and Qwen3-VL processors that build without torchvision.

In transformers 5.10, ``BaseVideoProcessor`` is a dummy class when torchvision is missing, so the stock
``Qwen2_5_VLProcessor`` / ``Qwen3VLProcessor`` fail their type check and ``AutoProcessor`` refuses to load them.
The Qwen2.5-VL subclass takes the PIL image processor and
:class:`~verl_pixel.tiny_models.video_processor.Qwen2VLVideoProcessorPil` (no torchvision) as its video processor:
it accepts that class where transformers expects a ``BaseVideoProcessor`` and restores it from
``processor_config.json`` itself (``AutoVideoProcessor`` needs torchvision). Everything else — placeholder
expansion, ``second_per_grid_ts`` (Qwen2.5-VL) or per-frame timestamps (Qwen3-VL) from the video metadata,
``mm_token_type_ids`` — is the stock class's. The Qwen3-VL subclass does the same with
:class:`~verl_pixel.tiny_models.video_processor.Qwen3VLVideoProcessorPil`.

The classes keep the exact stock names because verl binds M-RoPE ``get_rope_index`` by the processor's class
*name* (``verl.utils.tokenizer.hf_processor``). The saved model folder carries a one-line ``processing_*.py`` that
re-exports the class, so ``AutoProcessor.from_pretrained(folder, trust_remote_code=True)`` loads it while pickling
(Ray workers) still resolves to this importable module.
"""

from __future__ import annotations

from typing import Any, ClassVar

from transformers.models.qwen2_5_vl.processing_qwen2_5_vl import Qwen2_5_VLProcessor as _StockQwen2_5_VLProcessor
from transformers.models.qwen3_vl.processing_qwen3_vl import Qwen3VLProcessor as _StockQwen3VLProcessor
from transformers.processing_utils import ProcessorMixin

from verl_pixel.tiny_models.video_processor import Qwen2VLVideoProcessorPil, Qwen3VLVideoProcessorPil

VIDEO_PROCESSOR = "video_processor"


class _TorchvisionFreeVideo:
    """What both processors add to the stock class: the torchvision-free video processor, accepted and reloaded.

    Subclasses name their video processor class and a stock-signature twin without a video processor, through which
    transformers loads the image processor and tokenizer the stock way.
    """

    video_processor_class: ClassVar[type[Qwen2VLVideoProcessorPil]]
    image_and_tokenizer: ClassVar[type[ProcessorMixin]]

    def __init__(
        self,
        image_processor: Any = None,
        tokenizer: Any = None,
        video_processor: Any = None,
        chat_template: str | None = None,
        **kwargs: Any,
    ):
        if video_processor is None or isinstance(video_processor, dict):
            video_processor = self.video_processor_class.from_dict(video_processor)
        super().__init__(
            image_processor=image_processor,
            tokenizer=tokenizer,
            video_processor=video_processor,
            chat_template=chat_template,
        )

    def check_argument_for_proper_class(self, argument_name: str, argument: Any) -> Any:
        """Accept the torchvision-free video processor where transformers expects a ``BaseVideoProcessor``."""
        if argument_name == VIDEO_PROCESSOR and isinstance(argument, self.video_processor_class):
            return type(argument)
        return super().check_argument_for_proper_class(argument_name, argument)

    @classmethod
    def _get_arguments_from_pretrained(
        cls, pretrained_model_name_or_path: Any, processor_dict: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Any]:
        """The image processor and tokenizer loaded the stock way; the video processor from ``processor_config``."""
        image_processor, tokenizer = ProcessorMixin._get_arguments_from_pretrained.__func__(
            cls.image_and_tokenizer, pretrained_model_name_or_path, processor_dict, **kwargs
        )
        video_config = (processor_dict or {}).get(VIDEO_PROCESSOR)
        return [image_processor, tokenizer, cls.video_processor_class.from_dict(video_config)]


class _Qwen25ImageAndTokenizer(_StockQwen2_5_VLProcessor):
    def __init__(self, image_processor: Any = None, tokenizer: Any = None, chat_template: str | None = None):
        super().__init__(image_processor, tokenizer, None, chat_template=chat_template)


class _Qwen3ImageAndTokenizer(_StockQwen3VLProcessor):
    def __init__(self, image_processor: Any = None, tokenizer: Any = None, chat_template: str | None = None):
        super().__init__(image_processor, tokenizer, None, chat_template=chat_template)


class Qwen2_5_VLProcessor(_TorchvisionFreeVideo, _StockQwen2_5_VLProcessor):
    """Qwen2.5-VL processor with the torchvision-free video processor."""

    video_processor_class = Qwen2VLVideoProcessorPil
    image_and_tokenizer = _Qwen25ImageAndTokenizer


class Qwen3VLProcessor(_TorchvisionFreeVideo, _StockQwen3VLProcessor):
    """Qwen3-VL processor with the torchvision-free video processor; adds ``mm_token_type_ids`` like the stock one."""

    video_processor_class = Qwen3VLVideoProcessorPil
    image_and_tokenizer = _Qwen3ImageAndTokenizer
