"""Answer scoring (pure): the final answer of one response, read and scored against the row's ground truth.

``r_acc`` by answer type (multiple choice, number, short text, ANLS, math) and the format score ``r_fmt``; the
entry point is :func:`~verl_pixel.reward.scoring.trajectory_score.score_trajectory`.
"""
