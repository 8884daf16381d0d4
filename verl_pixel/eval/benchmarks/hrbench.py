"""HR-Bench 4K / 8K (``hrbench4k``, ``hrbench8k``): 4-option questions on 4K and 8K images, 800 rows each.

Source: Wang et al., "Divide, Conquer and Combine: A Training-Free Framework for High-Resolution Image Perception
in Multimodal Large Language Models", AAAI 2025 (arXiv 2408.15556); data ``DreamMr/HR-Bench`` on the HF hub.
Metric: accuracy over rows (the rows are the questions under cyclic option orders, ``cycle_category``; a row is
right iff its chosen option is ``answer``), reported overall and per ``category``. The files' categories are
``single`` and ``cross`` (lmms-eval's ``hrbench4k.yaml`` metrics ``single`` / ``cross``); the paper calls them FSP
(fine-grained single-instance perception) and FCP (fine-grained cross-instance perception); reports give both
names (:data:`CATEGORY_LABELS`).

Expected layout (either file type; VLMEvalKit ships the same columns as TSV)::

    <root>/hr_bench_4k.parquet   (or hr_bench_4k.tsv / HRBench4K.tsv)
    <root>/hr_bench_8k.parquet   (or hr_bench_8k.tsv / HRBench8K.tsv)

    columns: index, question, A, B, C, D, answer (letter A-D), category (single / cross), cycle_category,
             image (base64-encoded JPEG text)

``<root>`` may also be the file itself.
"""

from __future__ import annotations

from pathlib import Path

from verl_pixel.eval.benchmarks.mcq_table import load_mcq_table
from verl_pixel.eval.benchmarks.source_files import find_one
from verl_pixel.eval.samples import EvalSample

OPTION_COLUMNS = ("A", "B", "C", "D")
# Report labels: the file's name of a category and the paper's (either spelling may be in a file).
CATEGORY_LABELS = {
    "single": "single (FSP)",
    "cross": "cross (FCP)",
    "FSP": "single (FSP)",
    "FCP": "cross (FCP)",
}
FILE_NAMES = {
    "hrbench4k": ("hr_bench_4k.parquet", "hr_bench_4k.tsv", "HRBench4K.tsv"),
    "hrbench8k": ("hr_bench_8k.parquet", "hr_bench_8k.tsv", "HRBench8K.tsv"),
}


def load_hrbench(root: str | Path, benchmark: str) -> list[EvalSample]:
    """Read HR-Bench 4K or 8K (``benchmark`` is ``hrbench4k`` or ``hrbench8k``).

    Raises:
        PreprocessError: for a missing file or column, a bad answer letter, or undecodable image text.
        ValueError: for another benchmark name.
    """
    if benchmark not in FILE_NAMES:
        raise ValueError(f"unknown HR-Bench variant {benchmark!r}; use one of {sorted(FILE_NAMES)}")
    names = FILE_NAMES[benchmark]
    layout = f"<root>/{names[0]} (columns index, question, A-D, answer, category, image as base64)"
    path = find_one(Path(root), names, layout)
    return load_mcq_table(path, benchmark, OPTION_COLUMNS, category_column="category")
