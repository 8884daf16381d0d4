"""The reward's verl adapters: the only modules of :mod:`verl_pixel.reward` that import verl.

:mod:`~verl_pixel.reward.adapters.manager` (reward manager ``pixel``: one trajectory's raw scores) and
:mod:`~verl_pixel.reward.adapters.replay_buffer` (the V1 replay buffer that shapes each finished prompt group).
Both read the ``pixel.reward`` section through :mod:`verl_pixel.pixel_config`, which validates the whole ``pixel``
section.
"""
