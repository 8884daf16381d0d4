"""Datasets and data preparation: the SFT dataset, trajectory synthesis, parquet importers.

Only :mod:`~verl_pixel.data.sft_dataset` and :mod:`~verl_pixel.data.rl_dataset` import verl; everything else here
(schema validation, box geometry, synthesis planning, writers, importers) is plain Python and PIL.

* ``sft_schema``: SFT row schema; ``validate_row`` / ``check_row`` / ``RowError``
* ``sft_dataset``: ``PixelSFTDataset`` (verl ``data.custom_cls``): message ``loss_mask``, validation
* ``message_content``: ``<image>`` / ``<video>`` placeholders to processor content lists
* ``images``: the one decoder of image references (datasets, tools' originals, eval, viewer), thread-safe
* ``row_checks``: the one home of SFT / RL row checks (datasets at load, ``verl-pixel data check``), bad-row policy
* ``seeds``: seed annotations (``seeds.jsonl``)
* ``seed_sample``: the procedural seed sample shipped with the package
* ``boxes``: normalized box geometry for planning
* ``synthesis_config``: ``SynthesisConfig``, ``TrajectoryType``
* ``synthesis_plan``: which type each seed gets; wrong / oversized boxes, frame selections
* ``trajectory_rows``: a plan to an SFT row (runs :mod:`verl_pixel.ops`)
* ``writers`` / ``endpoint_writer``: analysis text: templates or an OpenAI-compatible endpoint
  (through :mod:`verl_pixel.chat_endpoint`, the project's one client)
* ``synthesize``: the synthesis pipeline and its share table
* ``parquet_io``: the one parquet row reader (plain values, bad rows named); uniform schemas for writing SFT / RL rows
* ``rl_prepare``: seeds to RL rows (``pixel_agent``)
* ``pixel_reasoner_import``: Pixel Reasoner SFT JSON to SFT rows
* ``smoke_sample``: small synthesized parquets for CPU trainer smoke runs
* ``cli``: ``verl-pixel synthesize`` / ``prepare`` / ``data check`` subcommands
"""
