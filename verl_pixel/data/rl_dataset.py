"""``PixelRLDataset``: verl's ``RLHFDataset`` with image and video decoding that needs no torchvision.

Use it as ``data.custom_cls.path=pkg://verl_pixel.data.rl_dataset data.custom_cls.name=PixelRLDataset``. verl's
agent loops call the dataset class's ``process_multi_modal_info`` to turn the prompt's image and video items into
what the model sees; upstream does that through qwen_vl_utils, which imports torchvision (not installable next
to CPU torch). This class decodes images with PIL and resizes them with the processor's own ``smart_resize`` rule
to the same budget qwen_vl_utils applies (per-item ``max_pixels``/``min_pixels`` win over the config's), so the
images the tools receive are the model's view either way. Videos (a row's ``<video>`` and ``videos`` entry: a
file or a list of frames, with qwen_vl_utils' keys such as ``nframes`` or ``max_pixels``) are decoded by the one
video decoder (:func:`verl_pixel.data.videos.load_video`) with qwen_vl_utils' rules, giving verl's
``video_data`` pair ``(frames, metadata)``; where torchvision is installed (GPU machines) a row with a video goes
through verl's own path instead, its ``{"bytes": ...}`` frames first decoded to PIL images, which is all
qwen_vl_utils cannot read. Rows without images keep verl's behaviour.

Bad rows are found before training starts, by the checks ``verl-pixel data check`` runs
(:mod:`verl_pixel.data.row_checks`): prompts whose placeholders do not match the images, images that are missing,
corrupt or too large, unreadable ground truths. Each is named by file, row and field, and stops the load
(``data.bad_rows=error``, the default) or is dropped with a logged list (``data.bad_rows=skip``), instead of
verl's length filter dropping it silently with an unnamed traceback, or a rollout batch failing on it. Config
keys of ours: ``validate_on_load``, ``decode_images_on_load``, ``check_image_files``, ``bad_rows`` (as in
:class:`~verl_pixel.data.sft_dataset.PixelSFTDataset`). JSON data files are not checked.

With the necessity memory on (``pixel.probing.enable``), the training dataset is also the channel of each row's
probe plan and the memory's home in verl's checkpoint (:mod:`verl_pixel.reward.adapters.probe_link`):
``__getitem__`` writes ``extra_info["pixel_probe_plan"]`` and verl's per-row ``__rollout_n__``, and
``state_dict`` / ``load_state_dict`` (torchdata's ``Stateful``, saved with the dataloader in ``data.pt``) carry
the memory.

verl's overlong-prompt filter (``data.filter_overlong_prompts``) measures each prompt before ``pixel_agent`` appends
its rollout mode's instruction to the system prompt, and a multimodal prompt over ``rollout.prompt_length`` fails its
session (verl raises rather than cut image tokens), which fails the whole prompt group. Here the filter measures
each prompt *with* the instruction that costs the most tokens among the modes the run's layout uses, rendered as the
loop renders it, so a kept prompt fits in every mode. The layout and instructions come from ``data.pixel_rollout``
(the recipes set it to ``${oc.select:pixel.rollout,null}``); without that key the longest instruction of all modes
is assumed.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

from omegaconf import DictConfig
from PIL import Image
from verl.utils.dataset.rl_dataset import RLHFDataset
from verl.utils.import_utils import resolve_config_path

from verl_pixel.constants import PROBE_PLAN_FIELD, QWEN_VL_MERGE_SIZE, ROLLOUT_N_FIELD
from verl_pixel.data.images import load_image
from verl_pixel.data.row_checks import RowCheckConfig, RowKind, RowPlan, plan_rows
from verl_pixel.data.sft_schema import hide_literal_placeholders, show_literal_placeholders
from verl_pixel.data.videos import DecodedVideo, load_video
from verl_pixel.family_check import check_loaded_model
from verl_pixel.model_family import family_of_patch_size, family_spec
from verl_pixel.ops import resize_to_budget
from verl_pixel.plain_values import to_plain
from verl_pixel.reward.adapters.probe_link import active_link
from verl_pixel.rollout.config import MODE_ORDER, PixelRolloutConfig
from verl_pixel.rollout.modes import longest_instruction, with_family_system_prompt, with_mode_instruction
from verl_pixel.tools.schema_yaml import read_ops_config

logger = logging.getLogger(__name__)

MEMORY_STATE_KEY = "necessity_memory"  # the dataset's checkpoint state under which the memory is saved
PIXEL_ROLLOUT_KEY = "pixel_rollout"  # data.pixel_rollout: the run's pixel.rollout, for the length filter's margin


def model_view(item: dict[str, Any], factor: int, config: DictConfig | dict | None) -> Image.Image:
    """Decode one image content item and resize it to the model's pixel budget.

    Args:
        item: a message content item of type ``image`` (``image`` / ``image_url`` holding a PIL image, bytes dict
            or path) with optional ``max_pixels`` / ``min_pixels``.
        factor: patch factor (patch size × spatial merge), 28 for Qwen2.5-VL, 32 for Qwen3-VL.
        config: the data config; ``max_pixels`` / ``min_pixels`` there are the defaults, else the model family's.
    """
    config = config or {}
    defaults = family_spec(family_of_patch_size(factor // QWEN_VL_MERGE_SIZE)).ops_config()
    ref = item.get("image", item.get("image_url"))
    max_pixels = int(item.get("max_pixels") or config.get("max_pixels") or defaults.image_max_pixels)
    min_pixels = int(item.get("min_pixels") or config.get("min_pixels") or defaults.min_pixels)
    return resize_to_budget(load_image(ref), factor=factor, min_pixels=min_pixels, max_pixels=max_pixels)


class PixelRLDataset(RLHFDataset):
    """RL dataset whose multimodal extraction decodes images with PIL and videos with the one video decoder.

    Built in the trainer process before any rollout, it is also where a run's model family is checked: the model
    folder, its processor, the chat template in use, the tools' config (``data.tool_config_path``) and
    ``data.image_patch_size`` must agree (:func:`verl_pixel.model_family.check_loaded_model`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.processor is not None:
            tool_config = self.config.get("tool_config_path")
            check_loaded_model(
                self.processor,
                ops_config=read_ops_config(resolve_config_path(str(tool_config))) if tool_config else None,
                image_patch_size=self.config.get("image_patch_size"),
            )

    def __getitem__(self, item: int) -> dict[str, Any]:
        """verl's row, plus the necessity memory's probe plan when this is the training dataset and the memory is on.

        The plan goes to ``extra_info["pixel_probe_plan"]`` (read by ``pixel_agent`` and the group step) and its
        group size to ``__rollout_n__`` (verl's per-row rollout count, popped by ``AgentLoopWorkerTQ``).
        """
        row = super().__getitem__(item)
        link = active_link()
        if link is not None and link.is_training_dataset(self):
            plan = link.plan_row(row)
            row["extra_info"] = {**(row.get("extra_info") or {}), PROBE_PLAN_FIELD: plan.to_row_field()}
            row[ROLLOUT_N_FIELD] = plan.group_size
        return row

    def state_dict(self) -> dict[str, Any]:
        """The necessity memory's state when this is the training dataset and the memory is on, else ``{}``."""
        link = active_link()
        if link is None or not link.is_training_dataset(self):
            return {}
        return {MEMORY_STATE_KEY: link.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the necessity memory from a checkpoint (a state without one changes nothing).

        A memory saved by a run with ``pixel.probing.enable`` and resumed with it off is dropped, with a warning.
        """
        memory = (state or {}).get(MEMORY_STATE_KEY)
        if memory is None:
            return
        link = active_link()
        if link is None or not link.is_training_dataset(self):
            logger.warning("checkpoint holds a necessity memory but pixel.probing is off: not restored")
            return
        link.load_state_dict(memory)

    def _read_files_and_tokenize(self) -> None:
        """Check the files, then verl's reading; the planned rows are kept before verl's length filter."""
        files = [str(path) for path in self.data_files]
        self._plan: RowPlan | None = None
        if not all(path.endswith(".parquet") for path in files):
            logger.warning("PixelRLDataset checks parquet rows only; %s not checked", files)
            super()._read_files_and_tokenize()
            return
        check = RowCheckConfig(
            RowKind.RL, prompt_key=self.prompt_key, image_key=self.image_key, video_key=self.video_key
        )
        self._plan = plan_rows(files, self.config, check, self.max_samples, self.shuffle, self.seed)
        wanted, self.max_samples = self.max_samples, -1  # drawn by the plan, from the good rows
        try:
            super()._read_files_and_tokenize()
        finally:
            self.max_samples = wanted

    def _build_messages(self, example: dict, key: str) -> list:
        r"""verl's placeholder expansion, with escaped literals (``\<image>``) kept as the text ``<image>``.

        During the length filter the longest mode instruction is appended as ``pixel_agent`` appends it.
        """
        for message in example[key]:
            if isinstance(message.get("content"), str):
                message["content"] = hide_literal_placeholders(message["content"])
        messages = super()._build_messages(example, key)
        for message in messages:
            content = message.get("content")
            if isinstance(content, str):
                message["content"] = show_literal_placeholders(content)
            elif isinstance(content, list):
                for item in content:
                    if isinstance(item, dict) and isinstance(item.get("text"), str):
                        item["text"] = show_literal_placeholders(item["text"])
        instruction = getattr(self, "_filter_instruction", None)
        return with_mode_instruction(messages, *instruction) if instruction else messages

    def maybe_filter_out_long_prompts(self, dataframe: Any = None) -> Any:
        """Keep the planned rows (good ones, ``max_samples`` of them), then verl's length filter with the margin.

        The filter measures every prompt with the longest mode instruction appended (module docstring).
        """
        plan = getattr(self, "_plan", None)
        if plan is not None and len(plan.origins) == len(dataframe) and len(plan.keep) != len(dataframe):
            dataframe = dataframe.select(plan.keep)
        if not self.filter_overlong_prompts:
            return super().maybe_filter_out_long_prompts(dataframe)
        self._filter_instruction = self._longest_mode_instruction()
        try:
            return super().maybe_filter_out_long_prompts(dataframe)
        finally:
            self._filter_instruction = None

    def _longest_mode_instruction(self) -> tuple[str, str] | None:
        """``(instruction, default system prompt)`` the filter appends, or ``None`` when no mode adds one."""
        section = to_plain(self.config.get(PIXEL_ROLLOUT_KEY))
        rollout = PixelRolloutConfig.from_mapping(section)
        rollout = with_family_system_prompt(rollout, section, self.processor or self.tokenizer)
        modes = None if section is not None else MODE_ORDER  # no layout given: any mode may run

        def tokens(text: str) -> int:
            return len(self.tokenizer.encode(text, add_special_tokens=False))

        instruction = longest_instruction(rollout, tokens, modes)
        if not instruction:
            return None
        logger.info("overlong-prompt filter counts the mode instruction too (%d tokens)", tokens(instruction))
        return instruction, rollout.default_system_prompt

    @classmethod
    def _process_multi_modal_info(
        cls, messages: list[dict], image_patch_size: int, config: DictConfig
    ) -> tuple[list[Image.Image] | None, list[DecodedVideo] | None, list[Any] | None]:
        items = [
            item
            for message in messages
            if isinstance(message.get("content"), list)
            for item in message["content"]
            if isinstance(item, dict) and item.get("type") in {"image", "video"}
        ]
        if any(item["type"] == "video" for item in items) and importlib.util.find_spec("torchvision") is not None:
            # verl's own video path (qwen_vl_utils) works there; it reads frames given as paths or PIL images only
            return super()._process_multi_modal_info(with_readable_frames(messages), image_patch_size, config)
        factor = int(image_patch_size) * 2  # Qwen-VL spatial merge is 2x2 patches
        images = [model_view(item, factor, config) for item in items if item["type"] == "image"]
        videos = [load_video(item, image_patch_size) for item in items if item["type"] == "video"]
        return images or None, videos or None, cls._extract_audio_info(messages)


def with_readable_frames(messages: list[dict]) -> list[dict]:
    """Copies of the messages whose video frames qwen_vl_utils can read: bytes and mappings decoded to PIL images.

    qwen_vl_utils' ``fetch_image`` takes a PIL image or a path / ``file://`` / data URL, not the ``{"bytes": ...}``
    frames parquet rows store (``verl-pixel eval preprocess``, synthesis).
    """
    out = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            content = [_readable_video(item) if _is_frame_list(item) else item for item in content]
        out.append({**message, "content": content})
    return out


def _is_frame_list(item: Any) -> bool:
    return isinstance(item, dict) and item.get("type") == "video" and isinstance(item.get("video"), (list, tuple))


def _readable_video(item: dict[str, Any]) -> dict[str, Any]:
    frames = [frame if isinstance(frame, (str, Image.Image)) else load_image(frame) for frame in item["video"]]
    return {**item, "video": frames}
