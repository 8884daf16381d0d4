"""The necessity memory: what past probes said about each training prompt, and each visit's probe plan ([ours]).

Look Less (arXiv 2510.01681; METHOD §3) labels need(x) = 1[acc_tool > acc_no + margin] from force_tool and
no_tool probes that it runs on every prompt at every visit: 8 of 16 rollouts in the default layout. This memory
keeps, per prompt (:func:`prompt_key`), the probe outcomes of past visits and spends probes only where the label is
still in doubt. No published method does this; every rule below is ours (``pixel.probing``,
:class:`~verl_pixel.reward.probing_config.ProbingConfig`).

Evidence. Per prompt, the summed ``r_acc`` of its outcomes with a tool (``tool_correct``) and ``1 - r_acc``
(``tool_wrong``), likewise without, each multiplied by ``decay`` at every new visit: the policy moved since the
last one, so old outcomes count less. Outcomes with a tool are force_tool probes (weight 1) and adaptive rollouts
that used one (weight ``adaptive_weight``: free but self-selected); without, no_tool probes and adaptive rollouts
that did not (:meth:`NecessityMemory.observe_group`). The label compares the observed accuracies; their
uncertainty comes from Beta posteriors with ``prior`` pseudo-counts each side::

    acc_tool = tool_correct / (tool_correct + tool_wrong)                          (acc_no likewise)
    var      = a b / ((a + b)^2 (a + b + 1))     for Beta(prior + correct, prior + wrong)
    gap      = acc_tool - acc_no,   sd = sqrt(var_tool + var_no),   need = gap > margin (a tie means no tool)

Plan per visit (:meth:`NecessityMemory.plan`), with ``z = |gap - margin| / sd``:

* no evidence for one of the modes: the layout's full probes (``new``);
* settled, ``z >= settle_z`` (the label's side is clear) or ``settle_z * sd <= tolerance`` (the gap is known to
  within the tolerance, so a label flip would change little): no probes (``settled``), except every
  ``reprobe_every``-th visit without probes, which gets ``few_probes`` per mode (``reprobe``);
* leaning, ``z >= lean_z``: ``few_probes`` per mode (``leaning``);
* otherwise the full probes (``uncertain``).

The adaptive rollouts are never cut: a plan only removes probes. Between visits, decay widens the posteriors, so
a prompt settled long ago drifts back to leaning / uncertain by itself; the re-probe catches a flip sooner.

State. :meth:`NecessityMemory.state_dict` is plain JSON-able data; it rides in verl's checkpoint as the training
dataset's state (``PixelRLDataset.state_dict``, saved by torchdata's ``StatefulDataLoader`` into ``data.pt``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from verl_pixel.plain_values import to_plain
from verl_pixel.reward.probing_config import ProbingConfig
from verl_pixel.rollout.probe_plan import ProbePlan

STATE_VERSION = 1
KEY_LENGTH = 16  # hex digits of the prompt key's hash


def prompt_key(data_source: Any, index: Any, prompt_texts: Sequence[str], ground_truth: Any) -> str:
    """A prompt's stable key: ``<data_source>/<index>/<hash>``; the hash covers the prompt's texts and ground truth.

    Stable across steps, epochs and restarts as long as the row is unchanged. Images are not hashed (decoding them
    for a key would cost what the dataset saves by not decoding): rows that differ only in their images need a
    distinct ``extra_info.index``, as verl's datasets give them.
    """
    payload = json.dumps([str(data_source), str(index), list(prompt_texts), to_plain(ground_truth)], default=str)
    digest = hashlib.sha1(payload.encode("utf-8")).hexdigest()[:KEY_LENGTH]
    return f"{data_source}/{index}/{digest}"


def prompt_key_of_row(row: Mapping[str, Any]) -> str:
    """:func:`prompt_key` of a training row as verl's ``RLHFDataset.__getitem__`` returns it.

    Reads ``data_source``, ``extra_info.index`` (verl's ``index``), the text parts of ``raw_prompt`` and
    ``reward_model.ground_truth``.
    """
    extra = row.get("extra_info") if isinstance(row.get("extra_info"), Mapping) else {}
    reward_model = row.get("reward_model") if isinstance(row.get("reward_model"), Mapping) else {}
    texts: list[str] = []
    for message in row.get("raw_prompt") or ():
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, (list, tuple)):
            texts += [str(item.get("text")) for item in content if isinstance(item, Mapping) and "text" in item]
    return prompt_key(row.get("data_source"), extra.get("index"), texts, reward_model.get("ground_truth"))


@dataclasses.dataclass
class PromptEvidence:
    """One prompt's decayed probe outcomes and its visit counters (mutable; owned by the memory)."""

    tool_correct: float = 0.0
    tool_wrong: float = 0.0
    no_correct: float = 0.0
    no_wrong: float = 0.0
    visits: int = 0
    unprobed_visits: int = 0

    def to_list(self) -> list[float]:
        """The six values, in field order, as the checkpoint stores them."""
        return [self.tool_correct, self.tool_wrong, self.no_correct, self.no_wrong, self.visits, self.unprobed_visits]

    @classmethod
    def from_list(cls, values: Sequence[Any]) -> PromptEvidence:
        """Inverse of :meth:`to_list`.

        Raises:
            ValueError: for a wrong count, or a negative or non-finite count.
        """
        if len(values) != 6:
            raise ValueError(f"expected 6 values, got {list(values)!r}")
        counts = [float(value) for value in values[:4]]
        if any(not math.isfinite(count) or count < 0 for count in counts):
            raise ValueError(f"counts must be finite and >= 0, got {counts}")
        return cls(*counts, visits=int(values[4]), unprobed_visits=int(values[5]))


@dataclasses.dataclass(frozen=True)
class GroupOutcomes:
    """One visit's ``r_acc`` values by what the rollout did: probes by mode, adaptive ones by tool use."""

    force_tool: tuple[float, ...] = ()
    no_tool: tuple[float, ...] = ()
    adaptive_tool: tuple[float, ...] = ()
    adaptive_no_tool: tuple[float, ...] = ()


@dataclasses.dataclass(frozen=True)
class NeedEstimate:
    """The memory's view of one prompt: posterior means, the gap's sd, need(x) and how sure it is."""

    acc_tool: float
    acc_no: float
    gap_sd: float
    need: bool
    settled: bool
    leaning: bool

    @property
    def gap(self) -> float:
        """``acc_tool - acc_no``."""
        return self.acc_tool - self.acc_no


def beta_mean_var(correct: float, wrong: float, prior: float) -> tuple[float, float]:
    """Mean and variance of Beta(prior + correct, prior + wrong)."""
    a, b = prior + correct, prior + wrong
    return a / (a + b), a * b / ((a + b) ** 2 * (a + b + 1.0))


def estimate(evidence: PromptEvidence, config: ProbingConfig, margin: float) -> NeedEstimate | None:
    """need(x) and its certainty from ``evidence``; None until both probe modes have been observed.

    need(x) compares the observed (decayed) accuracies, as Look Less compares its probes' means, so a tie means no
    tool. The Beta posteriors give the uncertainty only: their means shrink towards 0.5 the more, the fewer
    outcomes a mode has, and would make the less-observed mode look better on hard prompts (0 of 1 with a tool vs
    0 of 3 without would read as "need").
    """
    tool_n = evidence.tool_correct + evidence.tool_wrong
    no_n = evidence.no_correct + evidence.no_wrong
    if tool_n <= 0 or no_n <= 0:
        return None
    acc_tool, acc_no = evidence.tool_correct / tool_n, evidence.no_correct / no_n
    _, var_tool = beta_mean_var(evidence.tool_correct, evidence.tool_wrong, config.prior)
    _, var_no = beta_mean_var(evidence.no_correct, evidence.no_wrong, config.prior)
    sd = math.sqrt(var_tool + var_no)
    distance = abs(acc_tool - acc_no - margin)
    settled = distance >= config.settle_z * sd or config.settle_z * sd <= config.tolerance
    return NeedEstimate(acc_tool, acc_no, sd, acc_tool > acc_no + margin, settled, distance >= config.lean_z * sd)


class NecessityMemory:
    """Per-prompt probe evidence; plans each visit's probes and answers need(x) (see the module docstring).

    Args:
        config: the ``pixel.probing`` knobs.
        margin: Look Less' ``margin`` (``pixel.reward.look_less.margin``).
    """

    def __init__(self, config: ProbingConfig, margin: float = 0.0) -> None:
        self.config = config
        self.margin = margin
        self._entries: dict[str, PromptEvidence] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def plan(self, key: str, adaptive: int, force_tool: int, no_tool: int) -> ProbePlan:
        """This visit's plan for prompt ``key``; the full layout has ``force_tool`` / ``no_tool`` probes.

        Counts the visit: the prompt's evidence decays by ``decay`` first (except on its first visit).
        """
        evidence = self._entries.setdefault(key, PromptEvidence())
        if evidence.visits:
            self._decay(evidence)
        evidence.visits += 1
        few = (min(self.config.few_probes, force_tool), min(self.config.few_probes, no_tool))
        found = estimate(evidence, self.config, self.margin)
        if found is None:
            counts, reason = (force_tool, no_tool), "new"
        elif found.settled:
            due = self.config.reprobe_every > 0 and evidence.unprobed_visits >= self.config.reprobe_every
            counts, reason = (few, "reprobe") if due else ((0, 0), "settled")
        elif found.leaning:
            counts, reason = few, "leaning"
        else:
            counts, reason = (force_tool, no_tool), "uncertain"
        evidence.unprobed_visits = 0 if sum(counts) else evidence.unprobed_visits + 1
        if adaptive + sum(counts) == 0:  # a layout of probes only: a group needs a rollout
            counts, reason = (force_tool, no_tool), "uncertain"
        return ProbePlan(key, adaptive, counts[0], counts[1], reason)  # type: ignore[arg-type]

    def observe(self, key: str, tool_accs: Sequence[float], no_accs: Sequence[float], weight: float = 1.0) -> None:
        """Add outcomes (``r_acc`` values) with and without tools to prompt ``key``, each counting ``weight``.

        Probes count 1; adaptive rollouts count ``adaptive_weight`` (:meth:`observe_group`).
        """
        evidence = self._entries.setdefault(key, PromptEvidence())
        for acc in tool_accs:
            evidence.tool_correct += weight * acc
            evidence.tool_wrong += weight * (1.0 - acc)
        for acc in no_accs:
            evidence.no_correct += weight * acc
            evidence.no_wrong += weight * (1.0 - acc)

    def observe_group(self, key: str, outcomes: GroupOutcomes) -> None:
        """Add one visit's group: its probes at weight 1, its adaptive rollouts at ``adaptive_weight``."""
        self.observe(key, outcomes.force_tool, outcomes.no_tool)
        if self.config.adaptive_weight > 0:
            self.observe(key, outcomes.adaptive_tool, outcomes.adaptive_no_tool, self.config.adaptive_weight)

    def estimate(self, key: str) -> NeedEstimate | None:
        """The prompt's estimate, or None (unknown prompt, or a probe mode never observed)."""
        evidence = self._entries.get(key)
        return None if evidence is None else estimate(evidence, self.config, self.margin)

    def need(self, key: str) -> bool | None:
        """Whether the memory says prompt ``key`` needs the tool; None when it has no estimate."""
        found = self.estimate(key)
        return None if found is None else found.need

    def summary(self) -> dict[str, float]:
        """Counts for logging: prompts known, estimated, settled, and with need = 1."""
        estimates = [estimate(e, self.config, self.margin) for e in self._entries.values()]
        known = [found for found in estimates if found is not None]
        return {
            "prompts": float(len(self._entries)),
            "estimated": float(len(known)),
            "settled": float(sum(found.settled for found in known)),
            "need": float(sum(found.need for found in known)),
        }

    def state_dict(self) -> dict[str, Any]:
        """Plain data to checkpoint (JSON-able): version and, per prompt key, its evidence."""
        return {"version": STATE_VERSION, "entries": {key: e.to_list() for key, e in self._entries.items()}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Replace the memory's evidence with a checkpointed one.

        Raises:
            ValueError: for a state of another version or a malformed entry (naming its key).
        """
        if not isinstance(state, Mapping) or state.get("version") != STATE_VERSION:
            raise ValueError(f"necessity memory state: expected version {STATE_VERSION}, got {state!r:.200}")
        entries: dict[str, PromptEvidence] = {}
        for key, values in (state.get("entries") or {}).items():
            try:
                entries[str(key)] = PromptEvidence.from_list(values)
            except (TypeError, ValueError) as err:
                raise ValueError(f"necessity memory state: prompt {key}: {err}") from None
        self._entries = entries

    def _decay(self, evidence: PromptEvidence) -> None:
        decay = self.config.decay
        evidence.tool_correct *= decay
        evidence.tool_wrong *= decay
        evidence.no_correct *= decay
        evidence.no_wrong *= decay
