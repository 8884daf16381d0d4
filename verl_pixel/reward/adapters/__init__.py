"""The reward's verl adapters: the only modules of :mod:`verl_pixel.reward` that import verl.

:mod:`~verl_pixel.reward.adapters.manager` (reward manager ``pixel``: one trajectory's raw scores),
:mod:`~verl_pixel.reward.adapters.replay_buffer` (the V1 replay buffer that shapes each finished prompt group) and
:mod:`~verl_pixel.reward.adapters.verl_config` (the ``pixel.reward`` section of verl's config).
"""
