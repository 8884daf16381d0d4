"""Datasets and data preparation: the SFT dataset, trajectory synthesis, parquet importers."""
