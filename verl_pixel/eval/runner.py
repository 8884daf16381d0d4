"""``verl-pixel eval run``: benchmark parquet files against an OpenAI-compatible endpoint, resumable.

Usage from Python::

    summary = run_eval(
        ["data/eval/vstar.parquet"], "runs/qwen7b.jsonl",
        EndpointConfig(base_url="http://127.0.0.1:8000/v1", model="Qwen/Qwen2.5-VL-7B-Instruct"),
        EpisodeConfig(), RunnerConfig(run_name="qwen7b", concurrency=32),
    )

Samples run concurrently (``concurrency`` episodes in flight, each one request at a time); each finished sample is
scored with :func:`verl_pixel.reward.score_trajectory` and appended to the JSONL output at once
(:mod:`verl_pixel.eval.results`). Re-running with the same output skips every sample already finished there and
retries the failed ones.

``samples`` (``eval run --samples k``) answers every question k times (draws ``0 .. k-1``, each its own result
line), for Avg@k: the report gives the mean and the standard deviation over the draws of accuracy and TUR (Mini-o3
reports Avg@32). More than one draw needs a sampling temperature above 0.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from verl_pixel.chat_endpoint import ChatEndpoint, EndpointConfig, EndpointError
from verl_pixel.data.parquet_io import read_rows as read_parquet_rows
from verl_pixel.eval.episode import EpisodeConfig, EpisodeOutcome, run_episode
from verl_pixel.eval.results import ResultWriter, SampleResult, completed_keys, read_results
from verl_pixel.eval.sample_inputs import PreparedSample, RowError, prepare_sample, row_key
from verl_pixel.reward import parse_ground_truth, score_trajectory
from verl_pixel.reward.scoring.exact_match import secondary_scores

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class RunnerConfig:
    """How the runner schedules and labels a run.

    Attributes:
        run_name: label of the run in results and reports (e.g. ``qwen7b-adaptive``).
        concurrency: episodes in flight at once.
        limit: evaluate only the first ``limit`` rows of each parquet file.
        progress: show a tqdm progress bar.
        tokenizer_path: tokenizer to count response tokens with when the server reports no ``usage``.
        samples: responses drawn per question (Avg@k).
    """

    run_name: str
    concurrency: int = 16
    limit: int | None = None
    progress: bool = True
    tokenizer_path: str | None = None
    samples: int = 1

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")
        if self.samples < 1:
            raise ValueError(f"samples must be >= 1, got {self.samples}")


def draw_key(row_key_: str, draw: int) -> str:
    """The result key of one draw of a question: the question's key for draw 0, ``<key>#<draw>`` after."""
    return row_key_ if draw == 0 else f"{row_key_}#{draw}"


@dataclasses.dataclass(frozen=True)
class RunSummary:
    """Counts of one invocation: responses wanted (rows x samples), skipped as done, finished now, failed now."""

    path: Path
    total: int
    skipped: int
    finished: int
    failed: int


class ResponseTokenCounter:
    """Counts assistant tokens with a tokenizer, for servers that report no ``usage`` (loaded on first use)."""

    def __init__(self, tokenizer_path: str | None) -> None:
        self.tokenizer_path = tokenizer_path
        self._tokenizer: Any = None

    def count(self, texts: Sequence[str]) -> int | None:
        """Tokens of ``texts`` (``None`` without a tokenizer)."""
        if self.tokenizer_path is None:
            return None
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.tokenizer_path, trust_remote_code=True)
        return sum(len(self._tokenizer.encode(text, add_special_tokens=False)) for text in texts)


def read_rows(paths: Sequence[str | os.PathLike], limit: int | None = None) -> list[dict[str, Any]]:
    """Rows of the parquet files as plain values, in order (the first ``limit`` of each).

    Raises:
        FileNotFoundError: one line naming a missing file.
        RowError: naming the file, row and column of a row that cannot be decoded.
    """
    rows: list[dict[str, Any]] = []
    for path in paths:
        rows += read_parquet_rows(path, limit=limit)
    return rows


def scored_result(
    sample: PreparedSample,
    outcome: EpisodeOutcome,
    run: RunnerConfig,
    model: str,
    counter: ResponseTokenCounter,
    draw: int = 0,
) -> SampleResult:
    """Score a finished episode and package it (pure apart from the optional tokenizer)."""
    truth = parse_ground_truth(sample.ground_truth)
    score = score_trajectory(outcome.record, truth)
    response_tokens = outcome.completion_tokens
    if response_tokens is None:
        response_tokens = counter.count(outcome.transcript)
    return SampleResult(
        key=draw_key(sample.key, draw),
        draw=draw,
        scores=secondary_scores(score.answer, truth),
        benchmark=sample.benchmark,
        sample_id=sample.sample_id,
        category=sample.category,
        run=run.run_name,
        model=model,
        ok=True,
        acc=score.acc,
        fmt=score.fmt,
        answer=score.answer,
        answer_source=score.answer_source.value,
        record=outcome.record,
        prompt_tokens=outcome.prompt_tokens,
        completion_tokens=outcome.completion_tokens,
        response_tokens=response_tokens,
        input_visual_tokens=sample.input_visual_tokens,
        transcript=outcome.transcript,
        need_label=sample.need_label,
    )


def failed_result(row: Mapping[str, Any], run: RunnerConfig, model: str, error: str, draw: int = 0) -> SampleResult:
    """A result line for a sample that could not be evaluated (retried on resume)."""
    key = row_key(row)
    benchmark, _, sample_id = key.partition("/")
    return SampleResult(
        key=draw_key(key, draw),
        benchmark=benchmark,
        sample_id=sample_id,
        run=run.run_name,
        model=model,
        ok=False,
        error=error,
        draw=draw,
    )


async def evaluate_row(
    endpoint: ChatEndpoint,
    row: Mapping[str, Any],
    episode: EpisodeConfig,
    run: RunnerConfig,
    counter: ResponseTokenCounter,
    draw: int = 0,
) -> SampleResult:
    """Prepare, run and score one draw of a row; any failure becomes a failed result (retried on resume).

    Endpoint failures (malformed replies included) and bad rows are expected and logged as warnings; anything
    else is a bug, logged with its traceback, and still costs only this sample: one poisoned sample must not end
    a run of hours and lose the samples in flight.
    """
    model = endpoint.config.model
    try:
        sample = await asyncio.to_thread(prepare_sample, row, episode.ops)
        outcome = await run_episode(endpoint, sample, episode)
        return await asyncio.to_thread(scored_result, sample, outcome, run, model, counter, draw)
    except (EndpointError, RowError, ValueError) as err:
        logger.warning("%s failed: %s", row_key(row), err)
        error = err
    except Exception as err:  # see the docstring
        logger.exception("%s failed with an unexpected error", row_key(row))
        error = err
    return failed_result(row, run, model, f"{type(error).__name__}: {error}", draw)


async def run_eval_async(
    parquet_paths: Sequence[str | os.PathLike],
    out_path: str | os.PathLike,
    endpoint_config: EndpointConfig,
    episode: EpisodeConfig,
    run: RunnerConfig,
) -> RunSummary:
    """Evaluate every row not yet finished in ``out_path`` (see the module docstring)."""
    if run.samples > 1 and endpoint_config.temperature == 0:
        raise ValueError(f"samples={run.samples} draws need a sampling temperature above 0 (greedy draws are equal)")
    rows = read_rows(parquet_paths, run.limit)
    done = completed_keys(read_results(out_path))
    pending: dict[str, tuple[dict[str, Any], int]] = {}
    for row in rows:  # a key listed twice (the same file given twice) runs once
        for draw in range(run.samples):
            key = draw_key(row_key(row), draw)
            if key not in done:
                pending.setdefault(key, (row, draw))
    total = len(rows) * run.samples
    logger.info("%s: %d responses, %d already done, %d to run", run.run_name, total, total - len(pending), len(pending))
    counter = ResponseTokenCounter(run.tokenizer_path)
    gate = asyncio.Semaphore(run.concurrency)
    endpoint = ChatEndpoint(endpoint_config, max_connections=run.concurrency)

    async def bounded(row: Mapping[str, Any], draw: int) -> SampleResult:
        async with gate:
            return await evaluate_row(endpoint, row, episode, run, counter, draw)

    finished = failed = 0
    try:
        with (
            ResultWriter(out_path) as writer,
            tqdm(total=len(pending), desc=run.run_name, disable=not run.progress) as bar,
        ):
            for next_result in asyncio.as_completed([bounded(row, draw) for row, draw in pending.values()]):
                result = await next_result
                writer.write(result)
                finished += result.ok
                failed += not result.ok
                bar.update(1)
    finally:
        await endpoint.aclose()
    return RunSummary(Path(out_path), total, total - len(pending), finished, failed)


def run_eval(
    parquet_paths: Sequence[str | os.PathLike],
    out_path: str | os.PathLike,
    endpoint_config: EndpointConfig,
    episode: EpisodeConfig | None = None,
    run: RunnerConfig | None = None,
) -> RunSummary:
    """Synchronous wrapper of :func:`run_eval_async` (``run_name`` defaults to the output file's stem)."""
    run = run or RunnerConfig(run_name=Path(out_path).stem)
    return asyncio.run(run_eval_async(parquet_paths, out_path, endpoint_config, episode or EpisodeConfig(), run))
