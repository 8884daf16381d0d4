"""verl platform plugins contributed by verl-pixel (a CPU platform for running verl's trainers without GPUs)."""
