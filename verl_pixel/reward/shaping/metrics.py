"""Step metrics of the reward stage (METHOD.md §6): a flat ``{"pixel/...": float}`` dict for the trainer's logger.

Every name this module emits (``<mode>`` is ``adaptive``, ``force_tool`` or ``no_tool``, emitted only for modes
present in the step; ``<reason>`` a :class:`~verl_pixel.record.StopReason` value present in the step):

==========================================  =========================================================================
name                                        meaning
==========================================  =========================================================================
``pixel/rollouts``, ``pixel/groups``        counts in the step
``pixel/reward/total``                      mean shaped reward
``pixel/reward/acc``, ``pixel/reward/fmt``  mean raw ``r_acc`` / ``r_fmt``
``pixel/reward/<component>``                mean of each :data:`REWARD_COMPONENTS` term (``acc_term``, ...)
``pixel/rapr``                              fraction of rollouts with >= 1 *successful* visual operation
``pixel/rapr/<mode>``                       the same per mode; ``pixel/rapr/adaptive`` estimates the eval TUR
``pixel/acc/<mode>``                        mean ``r_acc`` per mode
``pixel/compliance/<mode>``                 fraction of the mode's rollouts that complied with it
``pixel/group/rapr``                        mean over groups of the group's RaPR as the method counts it
``pixel/group/any_tool_rate``               fraction of groups with adaptive rollouts where >= 1 of them used a tool
``pixel/probe/present_rate``                fraction of groups with both probe modes (the layout reached them)
``pixel/probe/defined_rate``                fraction of groups whose probes define need(x) (acc_tool and acc_no)
``pixel/probe/need_rate``                   among those, fraction with need(x) = 1
``pixel/probe/acc_tool``                    among those, mean acc_tool
``pixel/probe/acc_no``                      among those, mean acc_no
``pixel/probe/acc_gap``                     among those, mean (acc_tool - acc_no)
``pixel/ops/attempted``                     visual operations attempted per response
``pixel/ops/succeeded``                     visual operations that returned images, per response
``pixel/ops/failed_rate``                   failed / attempted operations over the step (0 when none attempted)
``pixel/turns``                             assistant turns per response
``pixel/images_added``                      images appended by tools per response
``pixel/tool_visual_tokens``                visual tokens appended by tools per response
``pixel/stop/<reason>``                     fraction of rollouts that ended for this reason
``pixel/trainable_fraction``                fraction of rollouts that contribute gradient
``pixel/group/size``                        rollouts per group (with ``pixel.probing``: varies by prompt)
``pixel/exceeded_fraction``                 fraction of rollouts left out by ``ignore_exceed`` (when on)
``pixel/probe/rollouts``                    probe rollouts per group, over groups with a probe plan
``pixel/probe/plan/<reason>``               fraction of planned groups by the plan's reason (``new``, ...)
``pixel/memory/need_rate``                  fraction of groups whose memory need(x) is 1, among those with one
``pixel/need/agreement``                    among groups with a ``needs_zoom`` label and a need(x), agreement
``pixel/rapr/adaptive/need``                adaptive RaPR over groups labelled ``needs_zoom: true`` (TUR by need)
``pixel/rapr/adaptive/no_need``             adaptive RaPR over groups labelled ``needs_zoom: false``
==========================================  =========================================================================

RaPR and TUR count successful operations here whatever the shaping method, so runs compare; the curiosity
variant that counts attempts reports its own RaPR in ``pixel/group/rapr``. METHOD's TUR is per query at
evaluation (n = 1 response per query), where it equals ``pixel/rapr/adaptive``; at training time a query has many
rollouts, so ``pixel/group/any_tool_rate`` (a group counts as soon as one rollout zooms) is reported beside it.
Keys whose population is empty (no probe groups, no rollouts of a mode) are left out rather than logged as NaN.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from verl_pixel.record import RolloutMode, TrajectoryRecord
from verl_pixel.reward.shaping.shaped_reward import REWARD_COMPONENTS, GroupShaping, ShapedReward

PREFIX = "pixel/"


def step_metrics(results: Sequence[GroupShaping]) -> dict[str, float]:
    """Aggregate one training step's shaped groups into flat metrics (names in the module docstring).

    Args:
        results: the :class:`GroupShaping` of every prompt group of the step.

    Returns:
        ``{"pixel/...": value}``; empty when there are no groups.
    """
    records = [rollout.record for result in results for rollout in result.rollouts]
    rewards = [reward for result in results for reward in result.rewards]
    if not records:
        return {}
    metrics: dict[str, float] = {f"{PREFIX}rollouts": float(len(records)), f"{PREFIX}groups": float(len(results))}
    metrics.update(_reward_means(rewards))
    metrics.update(_mode_metrics(records, rewards))
    metrics.update(_group_metrics(results))
    metrics.update(_operation_metrics(records))
    metrics[f"{PREFIX}trainable_fraction"] = _mean([float(r.trainable) for r in rewards])
    metrics.update(_context_metrics(results))
    return metrics


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _reward_means(rewards: Sequence[ShapedReward]) -> dict[str, float]:
    names = ("total", "acc", "fmt", *REWARD_COMPONENTS)
    return {f"{PREFIX}reward/{name}": _mean([getattr(r, name) for r in rewards]) for name in names}


def _mode_metrics(records: Sequence[TrajectoryRecord], rewards: Sequence[ShapedReward]) -> dict[str, float]:
    metrics = {f"{PREFIX}rapr": _mean([float(r.used_tool) for r in records])}
    by_mode: dict[RolloutMode, list[tuple[TrajectoryRecord, ShapedReward]]] = defaultdict(list)
    for record, reward in zip(records, rewards, strict=True):
        by_mode[record.mode].append((record, reward))
    for mode, rows in by_mode.items():
        metrics[f"{PREFIX}rapr/{mode.value}"] = _mean([float(record.used_tool) for record, _ in rows])
        metrics[f"{PREFIX}acc/{mode.value}"] = _mean([reward.acc for _, reward in rows])
        metrics[f"{PREFIX}compliance/{mode.value}"] = _mean([float(record.complied) for record, _ in rows])
    return metrics


def _group_metrics(results: Sequence[GroupShaping]) -> dict[str, float]:
    metrics = {f"{PREFIX}group/rapr": _mean([result.info.rapr for result in results])}
    any_tool = [
        any(r.record.used_tool for r in adaptive)
        for adaptive in ([r for r in result.rollouts if r.record.mode is RolloutMode.ADAPTIVE] for result in results)
        if adaptive
    ]
    if any_tool:
        metrics[f"{PREFIX}group/any_tool_rate"] = _mean([float(flag) for flag in any_tool])
    metrics[f"{PREFIX}probe/present_rate"] = _mean([float(result.info.has_probes) for result in results])
    probed = [r.info for r in results if r.info.has_probes and None not in (r.info.acc_tool, r.info.acc_no)]
    metrics[f"{PREFIX}probe/defined_rate"] = len(probed) / len(results)
    if probed:
        acc_tool = [float(info.acc_tool or 0.0) for info in probed]
        acc_no = [float(info.acc_no or 0.0) for info in probed]
        metrics[f"{PREFIX}probe/need_rate"] = _mean([float(bool(info.need)) for info in probed])
        metrics[f"{PREFIX}probe/acc_tool"] = _mean(acc_tool)
        metrics[f"{PREFIX}probe/acc_no"] = _mean(acc_no)
        metrics[f"{PREFIX}probe/acc_gap"] = _mean([tool - no for tool, no in zip(acc_tool, acc_no, strict=True)])
    return metrics


def _operation_metrics(records: Sequence[TrajectoryRecord]) -> dict[str, float]:
    attempted = sum(record.ops_attempted for record in records)
    failed = sum(record.ops_failed for record in records)
    metrics = {
        f"{PREFIX}ops/attempted": attempted / len(records),
        f"{PREFIX}ops/succeeded": _mean([float(r.ops_succeeded) for r in records]),
        f"{PREFIX}ops/failed_rate": failed / attempted if attempted else 0.0,
        f"{PREFIX}turns": _mean([float(r.turns) for r in records]),
        f"{PREFIX}images_added": _mean([float(r.images_added) for r in records]),
        f"{PREFIX}tool_visual_tokens": _mean([float(r.tool_visual_tokens) for r in records]),
    }
    stops: dict[str, int] = defaultdict(int)
    for record in records:
        stops[record.stop_reason.value] += 1
    metrics.update({f"{PREFIX}stop/{reason}": count / len(records) for reason, count in stops.items()})
    return metrics


def _context_metrics(results: Sequence[GroupShaping]) -> dict[str, float]:
    """Group sizes, exceeded rollouts, probe plans, the memory's need(x), and tool use split by the row label."""
    metrics = {f"{PREFIX}group/size": _mean([float(len(result.rollouts)) for result in results])}
    exceeded = sum(result.info.exceeded for result in results)
    if exceeded:
        metrics[f"{PREFIX}exceeded_fraction"] = exceeded / sum(len(result.rollouts) for result in results)
    plans = [result.context.plan for result in results if result.context.plan is not None]
    if plans:
        metrics[f"{PREFIX}probe/rollouts"] = _mean([float(plan.probes) for plan in plans])
        for reason in sorted({plan.reason for plan in plans}):
            metrics[f"{PREFIX}probe/plan/{reason}"] = sum(plan.reason == reason for plan in plans) / len(plans)
    memory = [result.context.memory_need for result in results if result.context.memory_need is not None]
    if memory:
        metrics[f"{PREFIX}memory/need_rate"] = _mean([float(need) for need in memory])
    labelled = [result for result in results if result.context.need_label is not None]
    judged = [result for result in labelled if result.info.need is not None]
    if judged:
        metrics[f"{PREFIX}need/agreement"] = _mean([float(r.info.need == r.context.need_label) for r in judged])
    for label, name in ((True, "need"), (False, "no_need")):
        used = [
            float(rollout.record.used_tool)
            for result in labelled
            if result.context.need_label is label
            for rollout in result.rollouts
            if rollout.record.mode is RolloutMode.ADAPTIVE
        ]
        if used:
            metrics[f"{PREFIX}rapr/adaptive/{name}"] = _mean(used)
    return metrics
