"""The group step as translation: stored trajectories -> :func:`shape_group` -> the values to write back.

No I/O and no verl import: :mod:`verl_pixel.reward.adapters.replay_buffer` reads the trajectories of finished prompt
groups from verl's TransferQueue, calls :func:`shape_stored_groups` and writes its :class:`TrajectoryUpdate` s back. The
math is the pure core's; this module only knows verl 0.9.1's storage layout:

* a trajectory's key is ``{uid}_{session_id}_{index}`` (uid: the prompt; session: one of its n rollouts; index: the
  output of a multi-output agent loop); the session's final output (highest index) is the rollout, and every output
  of a session gets its shaped value (verl's GRPO also uses only the final output and broadcasts);
* its ``extra_fields`` holds the agent loop's ``extra_fields`` (the ``pixel/*`` trajectory record) and, under
  ``reward_extra_info``, the ``pixel`` reward manager's raw scores (``pixel/acc``, ``pixel/fmt``, record copy).

Shaping reads only those raw values, never ``rm_scores``, and writes under new keys, so shaping a group again (a
resumed run whose restored buffer forgot what it shaped) writes the same values: no group is ever shaped twice.

With ``extra_infos`` (the rows' stored ``extra_info``) and the necessity ``memory``, each group first gets its
:class:`~verl_pixel.reward.shaping.shaped_reward.GroupContext` (:mod:`~verl_pixel.reward.shaping.group_context`):
the memory takes the group's evidence and answers need(x); the row's need label and Delta S come along.

Per rollout, the update carries:

* ``score``: the value for ``rm_scores[-1]``: the shaped total (HDPO: the precomputed advantage, see
  :mod:`~verl_pixel.reward.shaping.hdpo`), or 0.0 for a rollout that must not train;
* ``advantage_uid``: the value for the ``uid`` field, which verl's GRPO groups by: ``uid`` for the shared group,
  ``uid/<advantage_group>`` for Look Less per-mode groups (``probe_gradient: own_group``), ``uid/frozen`` for
  rollouts that must not train (``probe_gradient: off``);
* ``trainable``: False means the replay buffer zeroes the row's ``response_mask`` / ``loss_mask`` as verl does for its
  own no-op padding rows, so the rollout contributes no gradient (policy, KL or entropy) under any estimator;
* ``extra_fields`` with the components added to ``reward_extra_info``: ``pixel/shaped/total``,
  ``pixel/shaped/<component>`` for each of :data:`~verl_pixel.reward.shaping.shaped_reward.REWARD_COMPONENTS`,
  ``pixel/advantage_group``, ``pixel/trainable``, ``pixel/group/rapr``, ``pixel/group/need`` (None if undefined),
  and ``pixel/group/filter_reward``: the group filter's metric (``algorithm.filter_groups.metric``, which verl's
  filter drops when it is equal across the group): the group's mean shaped total when the group is uniform within
  ``uniform_threshold`` (:func:`near_uniform`), else the rollout's own shaped total.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from verl_pixel.record import EXTRA_FIELD_PREFIX
from verl_pixel.reward.config import ShapingConfig
from verl_pixel.reward.shaping.group import shape_group
from verl_pixel.reward.shaping.group_context import group_context
from verl_pixel.reward.shaping.necessity_memory import NecessityMemory
from verl_pixel.reward.shaping.shaped_reward import (
    REWARD_COMPONENTS,
    SHARED_ADVANTAGE_GROUP,
    GroupShaping,
    ScoredRollout,
    ShapedReward,
)

REWARD_EXTRA_INFO = "reward_extra_info"
SHAPED_PREFIX = EXTRA_FIELD_PREFIX + "shaped/"
ADVANTAGE_GROUP_KEY = EXTRA_FIELD_PREFIX + "advantage_group"
TRAINABLE_KEY = EXTRA_FIELD_PREFIX + "trainable"
GROUP_RAPR_KEY = EXTRA_FIELD_PREFIX + "group/rapr"
GROUP_NEED_KEY = EXTRA_FIELD_PREFIX + "group/need"
FILTER_REWARD_KEY = EXTRA_FIELD_PREFIX + "group/filter_reward"
FROZEN_GROUP = "frozen"


@dataclasses.dataclass(frozen=True)
class TrajectoryKey:
    """A parsed TransferQueue trajectory key ``{uid}_{session_id}_{index}``."""

    uid: str
    session_id: int
    index: int

    @classmethod
    def parse(cls, key: str) -> TrajectoryKey:
        """Split a key the way verl's GRPO does (``rsplit("_", 2)``).

        Raises:
            ValueError: if the key is not ``{uid}_{session_id}_{index}`` with integer session and index.
        """
        parts = key.rsplit("_", 2)
        if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
            raise ValueError(f"trajectory key {key!r}: expected '{{uid}}_{{session_id}}_{{index}}'")
        return cls(parts[0], int(parts[1]), int(parts[2]))


@dataclasses.dataclass(frozen=True)
class TrajectoryUpdate:
    """What to write back for one stored trajectory (see the module docstring)."""

    key: str
    score: float
    advantage_uid: str
    trainable: bool
    extra_fields: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class GroupStepResult:
    """Updates in the order of the input keys, and each prompt's :class:`GroupShaping` by uid."""

    updates: tuple[TrajectoryUpdate, ...]
    groups: dict[str, GroupShaping]


def near_uniform(totals: Sequence[float], threshold: float) -> bool:
    """Pixel Reasoner's uniformity test: ``mean(|r - mean(r)|) < threshold`` (``experience_maker.py`` line 2462).

    With ``threshold`` 0.0 no group is near uniform (verl's filter still drops exactly equal totals).
    """
    mean = sum(totals) / len(totals)
    return sum(abs(total - mean) for total in totals) / len(totals) < threshold


def rollout_fields(extra_fields: Mapping[str, Any]) -> dict[str, Any]:
    """One flat mapping of a stored trajectory's record and raw scores (``reward_extra_info`` wins)."""
    info = extra_fields.get(REWARD_EXTRA_INFO)
    return {**extra_fields, **(info if isinstance(info, Mapping) else {})}


def shape_stored_groups(
    keys: Sequence[str],
    extra_fields: Sequence[Mapping[str, Any]],
    config: ShapingConfig,
    extra_infos: Sequence[Any] | None = None,
    memory: NecessityMemory | None = None,
) -> GroupStepResult:
    """Shape every prompt group whose trajectories are given (all of a group's stored trajectories at once).

    Args:
        keys: trajectory keys, any order, any number of groups.
        extra_fields: each key's stored ``extra_fields`` dict, same order.
        config: the reward config.
        extra_infos: each key's stored row ``extra_info`` (same order), for the group context; None: none.
        memory: the necessity memory (``pixel.probing.enable``), updated with each group's evidence; None: off.

    Returns:
        One update per key (same order) and the :class:`GroupShaping` of each uid.

    Raises:
        ValueError: for a malformed key, an unscored trajectory, or a missing or malformed row field it needs.
    """
    if len(keys) != len(extra_fields) or (extra_infos is not None and len(extra_infos) != len(keys)):
        raise ValueError(f"group step: {len(keys)} keys but {len(extra_fields)} extra_fields / extra_infos")
    parsed = [TrajectoryKey.parse(key) for key in keys]
    finals = _final_outputs(parsed)
    groups: dict[str, GroupShaping] = {}
    score_of: dict[tuple[str, int], tuple[ShapedReward, float]] = {}
    for uid, sessions in finals.items():
        rows = [row for _, row in sessions]
        rollouts = [_scored_rollout(keys[row], extra_fields[row]) for row in rows]
        row_info = None if extra_infos is None else extra_infos[rows[0]]
        context = group_context(row_info, rollouts, config, memory, keys[rows[0]])
        group = groups[uid] = shape_group(rollouts, config, context)
        scores = group.advantages or [reward.total for reward in group.rewards]
        for (session_id, _), reward, score in zip(sessions, group.rewards, scores, strict=True):
            score_of[(uid, session_id)] = (reward, score)
    filter_value = _filter_values(groups, config.uniform_threshold)
    updates = tuple(
        _update(
            key,
            parsed_key.uid,
            *score_of[(parsed_key.uid, parsed_key.session_id)],
            groups[parsed_key.uid],
            extra,
            filter_value[parsed_key.uid],
        )
        for key, parsed_key, extra in zip(keys, parsed, extra_fields, strict=True)
    )
    return GroupStepResult(updates, groups)


def _filter_values(groups: Mapping[str, GroupShaping], threshold: float) -> dict[str, float | None]:
    """Per uid, the shared filter value of a near-uniform group (its mean total), else None (each its own)."""
    values: dict[str, float | None] = {}
    for uid, group in groups.items():
        totals = [reward.total for reward in group.rewards]
        values[uid] = sum(totals) / len(totals) if near_uniform(totals, threshold) else None
    return values


def _final_outputs(parsed: Sequence[TrajectoryKey]) -> dict[str, list[tuple[int, int]]]:
    """Per uid, ``(session_id, row of the session's final output)`` sorted by session id."""
    best: dict[str, dict[int, tuple[int, int]]] = defaultdict(dict)
    for row, key in enumerate(parsed):
        current = best[key.uid].get(key.session_id)
        if current is None or key.index > current[0]:
            best[key.uid][key.session_id] = (key.index, row)
    return {uid: [(session, row) for session, (_, row) in sorted(s.items())] for uid, s in best.items()}


def _scored_rollout(key: str, extra_fields: Mapping[str, Any]) -> ScoredRollout:
    try:
        return ScoredRollout.from_extra_fields(rollout_fields(extra_fields))
    except ValueError as err:
        raise ValueError(f"group step: trajectory {key}: {err} (is reward.reward_manager.name=pixel set?)") from err


def _update(
    key: str,
    uid: str,
    reward: ShapedReward,
    score: float,
    group: GroupShaping,
    extra_fields: Mapping[str, Any],
    filter_value: float | None,
) -> TrajectoryUpdate:
    if not reward.trainable:
        advantage_uid, score = f"{uid}/{FROZEN_GROUP}", 0.0
    elif reward.advantage_group == SHARED_ADVANTAGE_GROUP:
        advantage_uid = uid
    else:
        advantage_uid = f"{uid}/{reward.advantage_group}"
    fields = _with_components(extra_fields, reward, group, reward.total if filter_value is None else filter_value)
    return TrajectoryUpdate(key, score, advantage_uid, reward.trainable, fields)


def _with_components(
    extra_fields: Mapping[str, Any], reward: ShapedReward, group: GroupShaping, filter_value: float
) -> dict[str, Any]:
    """A copy of ``extra_fields`` whose ``reward_extra_info`` also holds the rollout's shaped components."""
    info = dict(extra_fields.get(REWARD_EXTRA_INFO) or {})
    info[SHAPED_PREFIX + "total"] = reward.total
    info.update({SHAPED_PREFIX + name: getattr(reward, name) for name in REWARD_COMPONENTS})
    info[ADVANTAGE_GROUP_KEY] = reward.advantage_group
    info[TRAINABLE_KEY] = reward.trainable
    info[GROUP_RAPR_KEY] = group.info.rapr
    info[GROUP_NEED_KEY] = None if group.info.need is None else float(group.info.need)
    info[FILTER_REWARD_KEY] = filter_value
    return {**extra_fields, REWARD_EXTRA_INFO: info}
