"""The trainer process's necessity memory, shared by the replay buffer (feeds it) and the training dataset (plans).

verl 0.9.1 builds both in the trainer process (``PPOTrainer.__init__`` builds the replay buffer, ``_setup`` the
datasets and ``StatefulDataLoader`` s) and never hands one to the other, so they meet here, with no verl code
changed:

* the group-shaping replay buffer (:mod:`verl_pixel.reward.adapters.replay_buffer`), built first, creates the
  :class:`ProbeLink` when ``pixel.probing.enable``: the memory, the layout's counts, and how to recognise the
  trainer's *training* dataset (``trainer.train_dataset``, reached through ``refill_fn``, the trainer's bound
  ``_add_prompts_to_generate``). It feeds the memory each finished group's evidence;
* ``PixelRLDataset`` (:mod:`verl_pixel.data.rl_dataset`) asks :func:`active_link` in ``__getitem__`` and, if it is
  the training dataset, writes the row's plan (:meth:`ProbeLink.plan_row`). Rows are fetched when they are
  submitted for generation, i.e. after every group the memory could know about was shaped (sync trainer: the
  step's ``sample`` shapes them all before the next ``prepare_step`` fetches). The validation dataset is not
  the training dataset: its rows carry no plan and run the static layout;
* checkpoints: ``PixelRLDataset.state_dict`` returns the memory's state, which verl saves as part of the
  training dataloader's state (``data.pt``, torchdata's ``StatefulDataLoader`` with ``num_workers=0``), and
  ``load_state_dict`` gives it back on resume (when the resumed dataloader is first iterated, before any row
  of the resumed run is fetched).

One trainer per process (verl's ``TaskRunner``); a new link replaces the previous one. The lock guards the
memory against the async trainers' sampling threads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from verl_pixel.record import RolloutMode
from verl_pixel.reward.shaping.necessity_memory import NecessityMemory, prompt_key_of_row
from verl_pixel.rollout.config import PixelRolloutConfig
from verl_pixel.rollout.probe_plan import ProbePlan

logger = logging.getLogger(__name__)


class ProbeLink:
    """The memory with what the dataset needs to plan a row.

    Args:
        memory: the necessity memory.
        layout: ``pixel.rollout``: its counts are the full plan (adaptive, force_tool, no_tool).
        training_dataset: returns the trainer's training dataset (None before it is built).
    """

    def __init__(
        self, memory: NecessityMemory, layout: PixelRolloutConfig, training_dataset: Callable[[], Any]
    ) -> None:
        self.memory = memory
        modes = (RolloutMode.ADAPTIVE, RolloutMode.FORCE_TOOL, RolloutMode.NO_TOOL)
        self.counts: tuple[int, int, int] = tuple(layout.count(mode) for mode in modes)  # type: ignore[assignment]
        self._training_dataset = training_dataset
        self.lock = threading.Lock()

    def is_training_dataset(self, dataset: Any) -> bool:
        """Whether ``dataset`` is the trainer's training dataset (the one whose rows get plans)."""
        return dataset is not None and self._training_dataset() is dataset

    def plan_row(self, row: Mapping[str, Any]) -> ProbePlan:
        """This visit's plan for a training row (counts the visit in the memory)."""
        key = prompt_key_of_row(row)
        with self.lock:
            return self.memory.plan(key, *self.counts)

    def state_dict(self) -> dict[str, Any]:
        """The memory's state, for the training dataset's checkpoint."""
        with self.lock:
            return self.memory.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the memory from a checkpoint."""
        with self.lock:
            self.memory.load_state_dict(state)
        logger.info("necessity memory restored: %d prompts", len(self.memory))


_active: ProbeLink | None = None


def link_probing(link: ProbeLink | None) -> None:
    """Make ``link`` the process's link (None: unlink)."""
    global _active
    _active = link


def active_link() -> ProbeLink | None:
    """The process's link, or None when the memory is off (or no group-shaping buffer was built here)."""
    return _active
