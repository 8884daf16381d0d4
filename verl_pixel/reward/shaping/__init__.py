"""Group shaping (pure): one prompt's scored rollouts in, shaped rewards by component and step metrics out.

The rules (curiosity, Look Less, DeepEyes, none) are in one place each; :func:`~verl_pixel.reward.shaping.group.
shape_group` dispatches by ``ShapingConfig.method``; :mod:`~verl_pixel.reward.shaping.group_step` translates
verl's stored trajectories into its inputs and its outputs into the values the replay buffer writes back.
"""
