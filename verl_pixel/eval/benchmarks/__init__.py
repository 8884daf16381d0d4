"""The evaluation benchmarks: names, metrics, and one loader per benchmark's published files.

Each loader reads files the user downloaded (nothing is fetched) into :class:`~verl_pixel.eval.samples.EvalSample` s
and fails with a :class:`~verl_pixel.eval.samples.PreprocessError` naming the file, row and field on anything
unexpected. The expected layouts are in each module's docstring (``verl-pixel eval preprocess --help`` lists them).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from enum import Enum
from pathlib import Path

from verl_pixel.eval.benchmarks import hrbench, infovqa, mmerealworld, mvbench, tallyqa, vstar
from verl_pixel.eval.samples import DEFAULT_FRAME_MAX_PIXELS, EvalSample


class Benchmark(str, Enum):
    """Benchmark names accepted by ``verl-pixel eval``; also the rows' ``data_source``."""

    VSTAR = "vstar"
    HRBENCH4K = "hrbench4k"
    HRBENCH8K = "hrbench8k"
    TALLYQA = "tallyqa"
    INFOVQA = "infovqa"
    MVBENCH = "mvbench"
    MMEREALWORLD = "mmerealworld"


class OfficialScore(str, Enum):
    """How a benchmark's headline number averages its questions."""

    QUESTION_MEAN = "question_mean"  # the mean over questions
    CATEGORY_MEAN = "category_mean"  # the mean of per-category accuracies (MVBench's "Avg" over its 20 tasks)


class Metric(str, Enum):
    """The benchmark's headline metric (both are means of the per-question ``r_acc``)."""

    ACCURACY = "accuracy"
    ANLS = "anls"


@dataclasses.dataclass(frozen=True)
class LoadOptions:
    """Loader knobs that only some benchmarks read.

    Attributes:
        image_root: folder the benchmark's relative image paths start from (TallyQA, InfographicVQA JSON,
            MME-RealWorld JSON); default: next to the annotation file.
        tally_split: TallyQA questions to keep (``complex`` is the benchmark).
        mvbench_tasks: MVBench tasks to read (default: all 20 but fine_grained_pose unless its clips are there).
        num_frames: frames sampled per MVBench video.
        frame_max_pixels: pixel budget recorded on each MVBench frame.
        workers: threads decoding MVBench videos.
    """

    image_root: Path | None = None
    tally_split: tallyqa.TallySplit = "complex"
    mvbench_tasks: tuple[str, ...] | None = None
    num_frames: int = mvbench.NUM_FRAMES
    frame_max_pixels: int = DEFAULT_FRAME_MAX_PIXELS
    workers: int = 4


@dataclasses.dataclass(frozen=True)
class BenchmarkSpec:
    """What the CLI and the report know about one benchmark."""

    name: Benchmark
    title: str
    metric: Metric
    load: Callable[[Path, LoadOptions], list[EvalSample]]
    layout: str
    category_labels: Mapping[str, str] = dataclasses.field(default_factory=dict)  # report names of categories
    official_score: OfficialScore = OfficialScore.QUESTION_MEAN


SPECS: dict[Benchmark, BenchmarkSpec] = {
    spec.name: spec
    for spec in (
        BenchmarkSpec(Benchmark.VSTAR, "V* Bench", Metric.ACCURACY, lambda r, o: vstar.load_vstar(r), vstar.LAYOUT),
        BenchmarkSpec(
            Benchmark.HRBENCH4K,
            "HR-Bench 4K",
            Metric.ACCURACY,
            lambda r, o: hrbench.load_hrbench(r, "hrbench4k"),
            "<root>/hr_bench_4k.parquet (DreamMr/HR-Bench) or VLMEvalKit's HRBench4K.tsv",
            category_labels=hrbench.CATEGORY_LABELS,
        ),
        BenchmarkSpec(
            Benchmark.HRBENCH8K,
            "HR-Bench 8K",
            Metric.ACCURACY,
            lambda r, o: hrbench.load_hrbench(r, "hrbench8k"),
            "<root>/hr_bench_8k.parquet (DreamMr/HR-Bench) or VLMEvalKit's HRBench8K.tsv",
            category_labels=hrbench.CATEGORY_LABELS,
        ),
        BenchmarkSpec(
            Benchmark.TALLYQA,
            "TallyQA-Complex",
            Metric.ACCURACY,
            lambda r, o: tallyqa.load_tallyqa(r, o.image_root, o.tally_split),
            tallyqa.LAYOUT,
        ),
        BenchmarkSpec(
            Benchmark.INFOVQA,
            "InfographicVQA val",
            Metric.ANLS,
            lambda r, o: infovqa.load_infovqa(r, o.image_root),
            infovqa.LAYOUT,
        ),
        BenchmarkSpec(
            Benchmark.MVBENCH,
            "MVBench (16 frames)",
            Metric.ACCURACY,
            lambda r, o: mvbench.load_mvbench(r, o.mvbench_tasks, o.num_frames, o.frame_max_pixels, o.workers),
            mvbench.LAYOUT,
            official_score=OfficialScore.CATEGORY_MEAN,
        ),
        BenchmarkSpec(
            Benchmark.MMEREALWORLD,
            "MME-RealWorld",
            Metric.ACCURACY,
            lambda r, o: mmerealworld.load_mmerealworld(r, o.image_root),
            mmerealworld.LAYOUT,
        ),
    )
}


def benchmark_spec(name: str | Benchmark) -> BenchmarkSpec:
    """The spec of a benchmark by name.

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    try:
        return SPECS[Benchmark(name)]
    except ValueError:
        known = ", ".join(benchmark.value for benchmark in Benchmark)
        raise ValueError(f"unknown benchmark {name!r}; known: {known}") from None


def load_benchmark(name: str | Benchmark, root: str | Path, options: LoadOptions | None = None) -> list[EvalSample]:
    """Read a benchmark's published files into samples (see each module for its layout).

    Raises:
        PreprocessError: for any problem with the files, naming file, row and field.
        ValueError: for an unknown benchmark name.
    """
    return benchmark_spec(name).load(Path(root), options or LoadOptions())


__all__ = [
    "SPECS",
    "Benchmark",
    "BenchmarkSpec",
    "LoadOptions",
    "Metric",
    "OfficialScore",
    "benchmark_spec",
    "load_benchmark",
]
