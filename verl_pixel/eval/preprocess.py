"""``verl-pixel eval preprocess``: a benchmark's published files to one verl parquet file.

The parquet (layout in :mod:`verl_pixel.eval.samples`) is the input of both ways to run: verl's validation
(:mod:`verl_pixel.eval.verl_native`) and the endpoint runner (:mod:`verl_pixel.eval.runner`).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from verl_pixel.data.parquet_io import write_rl_parquet
from verl_pixel.eval.benchmarks import LoadOptions, load_benchmark
from verl_pixel.eval.samples import EvalRowConfig, EvalSample, ImageInput, PreprocessError, eval_rows

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class PreprocessConfig:
    """How a benchmark becomes a parquet file.

    Attributes:
        embed_images: store image bytes in the parquet (portable; the default) or the absolute paths of image files.
            Images a benchmark file embeds itself (HR-Bench, MVBench frames, parquet mirrors) are always bytes.
        limit: keep only the first ``limit`` questions (smoke runs).
        rows: prompt text and row fields.
        load: loader knobs (image root, TallyQA split, MVBench tasks and frames).
    """

    embed_images: bool = True
    limit: int | None = None
    rows: EvalRowConfig = dataclasses.field(default_factory=EvalRowConfig)
    load: LoadOptions = dataclasses.field(default_factory=LoadOptions)

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be >= 1, got {self.limit}")


@dataclasses.dataclass(frozen=True)
class PreprocessResult:
    """What was written."""

    benchmark: str
    path: Path
    rows: int


def embed_image_files(sample: EvalSample) -> EvalSample:
    """The sample with every image file read into bytes.

    Raises:
        PreprocessError: naming the sample and the file, if a file cannot be read.
    """
    images = []
    for image in sample.images:
        if image.path is None:
            images.append(image)
            continue
        try:
            images.append(ImageInput(data=Path(image.path).read_bytes(), max_pixels=image.max_pixels))
        except OSError as err:
            raise PreprocessError(
                f"{sample.benchmark} sample {sample.sample_id!r}: cannot read {image.path}: {err}"
            ) from err
    return dataclasses.replace(sample, images=tuple(images))


def preprocess_benchmark(
    benchmark: str, source: str | Path, out: str | Path, config: PreprocessConfig | None = None
) -> PreprocessResult:
    """Read ``benchmark`` from ``source`` and write its rows to the parquet file ``out``.

    Raises:
        PreprocessError: for anything unexpected in the benchmark's files (naming file, row and field).
        ValueError: for an unknown benchmark name.
    """
    config = config or PreprocessConfig()
    samples = load_benchmark(benchmark, source, config.load)
    if not samples:
        raise PreprocessError(f"{benchmark}: no questions found in {source}")
    if config.limit is not None:
        samples = samples[: config.limit]
    if config.embed_images:
        samples = [embed_image_files(sample) for sample in samples]
    path = write_rl_parquet(eval_rows(samples, config.rows), out)
    logger.info("%s: wrote %d rows to %s", benchmark, len(samples), path)
    return PreprocessResult(benchmark=str(benchmark), path=path, rows=len(samples))
