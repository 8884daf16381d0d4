"""Benchmark evaluation (METHOD.md §6, §7): accuracy and tool use on V*, HR-Bench, TallyQA, InfoVQA, MVBench, MME-RW.

Three steps, one CLI (``verl-pixel eval preprocess|run|report``):

1. **preprocess** (:mod:`~verl_pixel.eval.preprocess`, :mod:`~verl_pixel.eval.benchmarks`): the benchmark's published
   files -> one verl RL parquet (``data_source`` = benchmark name, ``agent_name`` = ``pixel_agent``, ground truth
   for the ``pixel`` reward). Layouts are documented per benchmark module.
2. **run**, either
   (a) inside verl: ``main_ppo`` with ``trainer.val_only=True`` (:mod:`~verl_pixel.eval.verl_native` builds the
   overrides); accuracy and TUR come out of verl's validation metrics; or
   (b) against any OpenAI-compatible endpoint (:mod:`~verl_pixel.eval.runner`): the same operations, prompts, modes
   and scorers, concurrent, retried, resumable (JSON lines keyed by sample), through the project's one client
   (:mod:`verl_pixel.chat_endpoint`); any failure of one sample is recorded for that sample, never ends the run.
3. **report** (:mod:`~verl_pixel.eval.report`, :mod:`~verl_pixel.eval.tradeoff_plot`): per-benchmark tables
   (accuracy / ANLS, TUR, operations per response, failed-operation rate, visual tokens, response tokens) as Markdown
   and JSON, and the accuracy-vs-TUR plot (matplotlib) as PNG and SVG.

Pure parts (no I/O): :mod:`~verl_pixel.eval.samples` (rows), :mod:`~verl_pixel.eval.chat_messages` (requests),
:mod:`~verl_pixel.eval.report` (aggregation), :mod:`~verl_pixel.eval.tradeoff_plot` (matplotlib plot).
"""
