"""Probe budget: Look Less' fixed probes vs the necessity memory, on simulated prompts with drifting true rates.

Simulation ([ours]; no model runs). Each prompt has true success rates with and without tools, p_tool(e) and
p_no(e), that move over the epochs as a policy would learn (``p(e) = final + (start - final) * exp(-rate * e)``),
so some prompts' true need flips. The true need at epoch e is ``p_tool(e) > p_no(e) + margin`` (Look Less' rule,
margin 0). Prompt kinds (shares of the population):

* ``need`` (35%): the tool helps a lot and keeps helping (p_tool 0.5-0.9, p_no 0.0-0.3, both creep up);
* ``text`` (30%): text suffices; the tool is no better, often a bit worse (p_no 0.6-0.95, p_tool 0-0.2 lower);
* ``hard`` (15%): neither mode works (both 0-0.2, random small gap): the need label is a coin flip for everyone;
* ``flip`` (20%): starts as ``need`` (0.7 vs 0.2); the policy learns to read the detail without the tool, p_no
  rises to 0.8-0.95 and overtakes p_tool: the need flips mid-run.

Every epoch visits every prompt once. Both schemes run 8 adaptive rollouts per visit plus their probes. An
adaptive rollout uses the tool with probability p_use(e), which starts at 0.5 and moves at the prompt's rate towards
0.9 where the tool is truly needed and 0.1 where it is not (the policy learns when to look); it then succeeds with
p_tool(e) or p_no(e) + ``--no-tool-bias`` (a policy that skips the tool where it feels sure is right more often than
a forced no_tool probe: self-selection; 0 by default).

* fixed (Look Less): 4 force_tool + 4 no_tool probes per visit; need = mean(tool) > mean(no) + margin from them;
* memory: :class:`verl_pixel.reward.shaping.necessity_memory.NecessityMemory` (the package's own class; default
  ``pixel.probing`` settings unless ``--set`` overrides them) plans the visit's probes, observes the probes and the
  adaptive rollouts (:meth:`~verl_pixel.reward.shaping.necessity_memory.NecessityMemory.observe_group`) and
  answers need(x);
* memory, probes only: the same with ``adaptive_weight=0`` (what the probes alone buy).

Reported per epoch and in total, summed over seeds: rollouts generated per query (8 + probes), the ratio
memory / fixed, and the agreement of each scheme's need label with the true need. Target: ratio <= 0.6 at equal
or better agreement. Each scheme draws its outcomes from its own random stream (the population's true rates are
shared).

    python benchmarks/probe_budget_bench.py [--prompts 500] [--epochs 8] [--seeds 5] [--seed 0] [--no-tool-bias 0]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import random
import time

from verl_pixel.reward.probing_config import ProbingConfig
from verl_pixel.reward.shaping.necessity_memory import GroupOutcomes, NecessityMemory

ADAPTIVE, FULL_PROBES = 8, 4  # the Look Less layout: 8 adaptive + 4 force_tool + 4 no_tool
KINDS = (("need", 0.35), ("text", 0.30), ("hard", 0.15), ("flip", 0.20))


@dataclasses.dataclass(frozen=True)
class SimPrompt:
    """True rates at the start and the end of learning, and how fast they move."""

    tool: tuple[float, float]
    no: tuple[float, float]
    rate: float

    def rates(self, epoch: int) -> tuple[float, float]:
        shrink = math.exp(-self.rate * epoch)
        return (
            self.tool[1] + (self.tool[0] - self.tool[1]) * shrink,
            self.no[1] + (self.no[0] - self.no[1]) * shrink,
        )


def draw_prompt(kind: str, rng: random.Random) -> SimPrompt:
    """One simulated prompt of ``kind`` (module docstring)."""
    rate = rng.uniform(0.15, 0.6)
    if kind == "need":
        tool, no = rng.uniform(0.5, 0.9), rng.uniform(0.0, 0.3)
        return SimPrompt((tool, min(1.0, tool + 0.1)), (no, no + rng.uniform(0.0, 0.15)), rate)
    if kind == "text":
        no = rng.uniform(0.6, 0.95)
        tool = max(0.0, no - rng.uniform(0.0, 0.2))
        return SimPrompt((tool, min(1.0, tool + 0.05)), (no, min(1.0, no + 0.05)), rate)
    if kind == "hard":
        tool, no = rng.uniform(0.0, 0.2), rng.uniform(0.0, 0.2)
        return SimPrompt((tool, tool), (no, no), rate)
    final_no = rng.uniform(0.8, 0.95)
    return SimPrompt((0.7, 0.75), (0.2, final_no), rate)


def population(size: int, rng: random.Random) -> list[SimPrompt]:
    prompts = []
    for kind, share in KINDS:
        prompts += [draw_prompt(kind, rng) for _ in range(round(size * share))]
    return prompts


def bernoulli(p: float, n: int, rng: random.Random) -> list[float]:
    return [1.0 if rng.random() < p else 0.0 for _ in range(n)]


@dataclasses.dataclass
class EpochTally:
    fixed_rollouts: float = 0.0
    memory_rollouts: float = 0.0
    probes_only_rollouts: float = 0.0
    fixed_agree: float = 0.0
    memory_agree: float = 0.0
    probes_only_agree: float = 0.0
    queries: int = 0

    def add(self, other: EpochTally) -> None:
        for field in dataclasses.fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


def adaptive_outcomes(
    sim: SimPrompt, epoch: int, truth: bool, bias: float, rng: random.Random
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The visit's adaptive rollouts' ``r_acc``, split by tool use (module docstring)."""
    target = 0.9 if truth else 0.1
    p_use = target + (0.5 - target) * math.exp(-sim.rate * epoch)
    p_tool, p_no = sim.rates(epoch)
    tool, no = [], []
    for _ in range(ADAPTIVE):
        if rng.random() < p_use:
            tool.append(1.0 if rng.random() < p_tool else 0.0)
        else:
            no.append(1.0 if rng.random() < min(1.0, p_no + bias) else 0.0)
    return tuple(tool), tuple(no)


def memory_visit(
    memory: NecessityMemory, key: str, sim: SimPrompt, epoch: int, bias: float, rng: random.Random
) -> tuple[int, bool]:
    """One visit of the memory scheme: plan, run probes and adaptive rollouts, observe; (rollouts, need)."""
    p_tool, p_no = sim.rates(epoch)
    plan = memory.plan(key, ADAPTIVE, FULL_PROBES, FULL_PROBES)
    adaptive_tool, adaptive_no = adaptive_outcomes(sim, epoch, p_tool > p_no, bias, rng)
    outcomes = GroupOutcomes(
        tuple(bernoulli(p_tool, plan.force_tool, rng)),
        tuple(bernoulli(p_no, plan.no_tool, rng)),
        adaptive_tool,
        adaptive_no,
    )
    memory.observe_group(key, outcomes)
    return plan.group_size, bool(memory.need(key))


def run_seed(prompts: int, epochs: int, seed: int, config: ProbingConfig, bias: float) -> list[EpochTally]:
    """One seed: the population drawn from ``seed``, each scheme with its own random stream."""
    sims = population(prompts, random.Random(seed))
    margin = 0.0
    memory = NecessityMemory(config, margin)
    probes_only = NecessityMemory(dataclasses.replace(config, adaptive_weight=0.0), margin)
    streams = [random.Random(seed * 3 + offset + 1_000_003) for offset in range(3)]
    tallies = []
    for epoch in range(epochs):
        tally = EpochTally(queries=len(sims))
        for index, sim in enumerate(sims):
            p_tool, p_no = sim.rates(epoch)
            truth = p_tool > p_no + margin
            fixed_tool, fixed_no = bernoulli(p_tool, FULL_PROBES, streams[0]), bernoulli(p_no, FULL_PROBES, streams[0])
            tally.fixed_rollouts += ADAPTIVE + 2 * FULL_PROBES
            tally.fixed_agree += (sum(fixed_tool) / FULL_PROBES > sum(fixed_no) / FULL_PROBES + margin) == truth
            rollouts, need = memory_visit(memory, f"sim/{index}", sim, epoch, bias, streams[1])
            tally.memory_rollouts += rollouts
            tally.memory_agree += need == truth
            rollouts, need = memory_visit(probes_only, f"sim/{index}", sim, epoch, bias, streams[2])
            tally.probes_only_rollouts += rollouts
            tally.probes_only_agree += need == truth
        tallies.append(tally)
    return tallies


def table(per_epoch: list[EpochTally]) -> str:
    """The ratio table: per epoch and over all epochs."""
    total = EpochTally()
    lines = [
        "| epoch | rollouts / query, fixed | rollouts / query, memory | ratio | ratio, epochs 1..e "
        "| agreement, fixed | agreement, memory | ratio, probes only | agreement, probes only |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for epoch, tally in enumerate(per_epoch, start=1):
        total.add(tally)
        lines.append(_row(str(epoch), tally, total))
    lines.append(_row("all", total, total))
    return "\n".join(lines)


def _row(label: str, tally: EpochTally, so_far: EpochTally) -> str:
    n = tally.queries
    cells = [
        label,
        f"{tally.fixed_rollouts / n:.2f}",
        f"{tally.memory_rollouts / n:.2f}",
        f"{tally.memory_rollouts / tally.fixed_rollouts:.3f}",
        f"{so_far.memory_rollouts / so_far.fixed_rollouts:.3f}",
        f"{100 * tally.fixed_agree / n:.1f}%",
        f"{100 * tally.memory_agree / n:.1f}%",
        f"{tally.probes_only_rollouts / tally.fixed_rollouts:.3f}",
        f"{100 * tally.probes_only_agree / n:.1f}%",
    ]
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0, help="first seed (seeds seed .. seed+seeds-1)")
    parser.add_argument("--no-tool-bias", type=float, default=0.0, help="self-selection bias of adaptive no-tool")
    parser.add_argument("--set", nargs="*", default=[], help="pixel.probing overrides, e.g. decay=0.7")
    args = parser.parse_args()
    overrides = {name: float(value) if "." in value else int(value) for name, value in (s.split("=") for s in args.set)}
    config = ProbingConfig.from_mapping({"enable": True, **overrides})
    start = time.perf_counter()
    per_epoch = [EpochTally() for _ in range(args.epochs)]
    for seed in range(args.seed, args.seed + args.seeds):
        tallies = run_seed(args.prompts, args.epochs, seed, config, args.no_tool_bias)
        for tally, new in zip(per_epoch, tallies, strict=True):
            tally.add(new)
    print(table(per_epoch))
    print(
        f"\n{args.prompts} prompts x {args.epochs} epochs x {args.seeds} seeds (seeds {args.seed}.."
        f"{args.seed + args.seeds - 1}), no-tool bias {args.no_tool_bias}, probing {dataclasses.asdict(config)}, "
        f"wall {time.perf_counter() - start:.1f} s"
    )


if __name__ == "__main__":
    main()
