"""``PixelSFTDataset``: verl's ``MultiTurnSFTDataset`` for pixel-reasoning conversations.

Use it as ``data.custom_cls.path=pkg://verl_pixel.data.sft_dataset data.custom_cls.name=PixelSFTDataset``.
The row schema is documented in :mod:`verl_pixel.data.sft_schema`. What this class adds to verl's:

* **message-level ``loss_mask``**: an assistant message with ``loss_mask: 0`` contributes no loss (the key verl's
  maintainers asked for in PR #5472; verl 0.9.1 trains every assistant message). Non-assistant messages, tool
  outputs included, are never trained whatever their style (``tool`` role or ``user`` with ``tool_output: true``).
* **validation before training starts** (:mod:`verl_pixel.data.row_checks`, the checks ``verl-pixel data
  check`` runs): when the files are read, every row's schema is checked and every image decoded
  (``data.validate_on_load``, default true; ``data.decode_images_on_load``, default true; image paths must exist
  unless ``data.check_image_files=false``). Bad rows stop the load (``data.bad_rows=error``, the default) or are
  dropped with a logged list (``data.bad_rows=skip``). Errors are
  :class:`~verl_pixel.data.sft_schema.RowError` naming the file, the row in that file and the field; a row is
  checked again, without file checks, when it is built.
* **length before training** (:mod:`verl_pixel.data.sft_lengths`): every row is counted in tokens, images
  included, as verl will build it, and a row longer than ``data.max_length`` is a bad row naming its count and the
  limit (all of them listed), instead of verl's error in a DataLoader worker that aborts torchrun when its batch is
  drawn. On whenever verl would raise (``data.truncation=error``); ``data.check_lengths_on_load=false`` turns it off.
* **decoding without torchvision**: images are decoded with PIL; the processor does the resize (the same
  ``smart_resize`` rule qwen_vl_utils applies), except that an image reference carrying its own ``max_pixels``
  (``{"path": ..., "max_pixels": N}``; ``verl-pixel prepare pixel-reasoner`` writes them) is first resized to that
  budget with the same rule, since verl gives the SFT processor no budget of its own. A ``<video>`` stays one video
  item, decoded by the one video decoder (:func:`verl_pixel.data.videos.load_video`: a file's sampled frames or a
  list of frames, sized by qwen_vl_utils' rules and the entry's keys, its ``max_pixels`` included), so the chat
  template renders ``<|video_pad|>`` as in Pixel Reasoner's SFT; frames a trajectory selected are images of its tool
  turn. Like verl's own ``process_video`` here, no video metadata reaches the processor.
* ``tools`` may be JSON text (how :mod:`verl_pixel.data.parquet_io` stores it) or a list.

* **Qwen3-VL video positions**: verl 0.9.1's SFT dataset computes M-RoPE positions with Qwen2-VL's
  ``get_rope_index`` for every Qwen-VL processor (``multiturn_sft_dataset.py:345-357``), which reads one
  ``video_grid_thw`` row per ``<|vision_start|><|video_pad|>`` block. Qwen3-VL writes one such block per temporal
  patch, each after its own ``<t seconds>`` text, so verl ran out of grid rows (IndexError). For Qwen3-VL, verl is
  handed the video grid split into one ``(1, h, w)`` row per block — the split Qwen3-VL's own rule makes first
  (verl ``models/transformers/qwen3_vl.py:117-122``, transformers ``Qwen3VLModel.get_rope_index``) — with which
  Qwen2-VL's rule gives Qwen3-VL's positions exactly: a block of one temporal patch has temporal index 0
  (``qwen2_vl.py:139-140``; Qwen3-VL's processor writes no ``second_per_grid_ts``), as in
  ``qwen3_vl.py:179-184``. The grid the processor wrote is put back into ``multi_modal_inputs`` for the model's
  vision tower. Image-only rows are unchanged: an image grid has one temporal patch, so both rules give it the same
  positions.

Everything else — per-message rendering, the sanity check against the whole conversation, the positions' padding
and truncation — is verl's.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch
from verl.utils.dataset.multiturn_sft_dataset import MultiTurnSFTDataset
from verl.utils.py_functional import convert_nested_value_to_list_recursive

from verl_pixel.data.images import ImageDecodeError, load_image_at_budget
from verl_pixel.data.message_content import expand_placeholders
from verl_pixel.data.row_checks import RowCheckConfig, RowKind, RowPlan, plan_rows
from verl_pixel.data.sft_lengths import ImageGeometry, TokenLimit, token_counter
from verl_pixel.data.sft_schema import RowError, check_row, is_trained, parse_tools
from verl_pixel.data.videos import VideoDecodeError, load_video
from verl_pixel.family_check import check_loaded_model
from verl_pixel.model_family import ModelFamily, family_spec

VIDEO_GRID_KEY = "video_grid_thw"  # the processor's output verl reads the video grids from


def per_block_video_grids(video_grid_thw: torch.Tensor) -> torch.Tensor:
    """One ``(1, h, w)`` row per temporal patch of each ``(t, h, w)`` video grid, in order.

    Qwen3-VL renders each temporal patch as its own ``<t seconds><|vision_start|>...<|vision_end|>`` block; its
    position rule reads one grid row per block (verl ``models/transformers/qwen3_vl.py:117-122``).
    """
    grids = torch.repeat_interleave(video_grid_thw, video_grid_thw[:, 0], dim=0)
    grids[:, 0] = 1
    return grids


class PixelSFTDataset(MultiTurnSFTDataset):
    """Multi-turn image and video SFT dataset: message-level loss masks, row validation, torchvision-free decoding."""

    def __init__(
        self, parquet_files: str | list[str], tokenizer: Any, config: Any, processor: Any = None, max_samples: int = -1
    ) -> None:
        """Same arguments as verl's class; the config keys of ours are in the module docstring."""
        config = config or {}
        self._data_config = config
        self._origins: list[tuple[str, int]] = []
        self._row_index: int | None = None
        # Video grids the processor wrote for the message being built, restored after verl's positions (Qwen3-VL).
        self._video_grids: list[torch.Tensor] = []
        # verl binds Qwen3-VL's get_rope_index by the processor's class name (utils/tokenizer/tokenizer.py:217-220).
        self._video_blocks_per_patch = type(processor).__name__ == family_spec(ModelFamily.QWEN3_VL).processor_class
        if processor is not None:  # the model folder, its processor and the chat template in use agree
            check_loaded_model(processor)
        super().__init__(parquet_files, tokenizer, config, processor=processor, max_samples=max_samples)

    @property
    def _keys(self) -> dict[str, str]:
        return {
            "messages_key": self.messages_key,
            "image_key": self.image_key,
            "video_key": self.video_key,
            "tools_key": self.tools_key,
        }

    def _read_files_and_process(self) -> None:
        """Check the files, verl's reading of all rows, then keep the good rows and draw ``max_samples`` of them."""
        files = [str(path) for path in self.parquet_files]
        check = RowCheckConfig(RowKind.SFT, token_limit=self._token_limit(), **self._keys)
        plan = plan_rows(files, self._data_config, check, self.max_samples, self.shuffle, self.seed)
        wanted, self.max_samples = self.max_samples, -1  # drawn by the plan, from the good rows
        try:
            super()._read_files_and_process()
        finally:
            self.max_samples = wanted
        self._keep_rows(plan)
        if self.tools is not None:
            self.tools = [self._parsed_tools(index, value) for index, value in enumerate(self.tools)]

    def _token_limit(self) -> TokenLimit | None:
        """``data.max_length`` as a row check, where verl would raise on a longer row (``truncation: error``)."""
        if self.truncation != "error" or not self._data_config.get("check_lengths_on_load", True):
            return None
        counter = token_counter(self.processor or self.tokenizer, self._keys, self.apply_chat_template_kwargs)
        return TokenLimit(counter, int(self.max_length), "data.max_length")

    def _keep_rows(self, plan: RowPlan) -> None:
        """Keep the planned rows in every per-row list verl keeps."""
        if len(plan.keep) != len(plan.origins):
            self.dataframe = self.dataframe.iloc[plan.keep]
            self.messages = [self.messages[i] for i in plan.keep]
            for name in ("tools", "enable_thinking"):
                values = getattr(self, name)
                if values is not None:
                    setattr(self, name, [values[i] for i in plan.keep])
        self._origins = [plan.origins[i] for i in plan.keep]

    def _where(self, index: int | None) -> tuple[int | None, str | None]:
        """The row number in its file and the file of dataset position ``index``."""
        if index is None or not 0 <= index < len(self._origins):
            return index, None
        file, row = self._origins[index]
        return row, file

    def _parsed_tools(self, index: int, value: Any) -> list[dict[str, Any]] | None:
        if not isinstance(value, (str, list)) and pd.isna(value):
            value = None  # a null cell of the pyarrow-backed frame arrives as pd.NA
        try:
            return parse_tools(value)
        except (ValueError, TypeError) as err:
            row_number, file = self._where(index)
            raise RowError(row_number, self.tools_key, str(err), file=file) from err

    def __getitem__(self, item: int) -> dict[str, Any]:
        """verl's sample, with ``item`` remembered so that errors can name the row (and Qwen3-VL's video grids)."""
        self._row_index, self._video_grids = item, []
        try:
            sample = super().__getitem__(item)
        finally:
            self._row_index = None
        if self._video_grids:  # the grids the processor wrote, not the per-block split verl's positions read
            sample["multi_modal_inputs"][VIDEO_GRID_KEY] = torch.cat(self._video_grids, dim=0)
        return sample

    def _build_messages(self, example: dict[str, Any]) -> list[dict[str, Any]]:
        """Validate the row and expand its placeholders into decoded image and video items."""
        row = {
            self.messages_key: convert_nested_value_to_list_recursive(example[self.messages_key]),
            self.image_key: convert_nested_value_to_list_recursive(example.get(self.image_key)) or [],
            self.video_key: convert_nested_value_to_list_recursive(example.get(self.video_key)) or [],
        }
        row_number, file = self._where(self._row_index)
        check_row(row, row_number, check_files=False, file=file, **self._keys)
        messages = row[self.messages_key]
        if self.processor is None and not row[self.image_key] and not row[self.video_key]:
            return messages  # text-only model: verl keeps string contents
        if self.processor is None:
            raise RowError(row_number, self.image_key, "the row has images but the model has no processor", file=file)
        return expand_placeholders(
            messages,
            row[self.image_key],
            row[self.video_key],
            self._decode,
            self.image_key,
            self.video_key,
            video_items=self._video_items,
        )

    def _decode(self, ref: Any, field: str) -> Any:
        geometry = ImageGeometry.of(self.processor)
        try:
            return load_image_at_budget(ref, geometry.factor, geometry.min_pixels)
        except ImageDecodeError as err:
            row_number, file = self._where(self._row_index)
            raise RowError(row_number, field, str(err), file=file) from err

    def _video_items(self, entry: Any, field: str) -> list[dict[str, Any]]:
        """One video item holding the decoded frames, ``(T, 3, H, W)``, as verl's ``process_video`` gives them."""
        try:
            frames, _ = load_video(entry, image_patch_size=self.image_patch_size)
        except VideoDecodeError as err:
            row_number, file = self._where(self._row_index)
            raise RowError(row_number, field, str(err), file=file) from err
        return [{"type": "video", "video": frames}]

    def _process_single_message(
        self,
        index: int,
        message: dict[str, Any],
        full_message: list,
        tools: list[dict[str, Any]] | None = None,
        enable_thinking: bool | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        """verl's per-message tokenization, then zero the loss of messages that must not be trained.

        For Qwen3-VL, verl's position rule is handed the video grid split per block (see the module docstring).
        """
        input_ids, loss_mask, attention_mask, inputs = super()._process_single_message(
            index, message, full_message, tools=tools, enable_thinking=enable_thinking
        )
        # verl already zeroes non-assistant messages (tool outputs included); this adds ``loss_mask: 0``.
        if not is_trained(message):
            loss_mask = torch.zeros_like(loss_mask)
        if self._video_blocks_per_patch and inputs.get(VIDEO_GRID_KEY) is not None:
            self._video_grids.append(inputs[VIDEO_GRID_KEY])
            inputs[VIDEO_GRID_KEY] = per_block_video_grids(inputs[VIDEO_GRID_KEY])
        return input_ids, loss_mask, attention_mask, inputs
